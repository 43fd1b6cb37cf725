/* Unit tests for src/netstat.c (/proc/net/netstat text). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "mpconv/netstat.h"

/* Shaped like Linux 6.18's file, shortened. */
static const char sample[] =
    "TcpExt: SyncookiesSent SyncookiesRecv Blackhole\n"
    "TcpExt: 1 2 99\n"
    "IpExt: InNoRoutes InTruncatedPkts\n"
    "IpExt: 0 0\n"
    "MPTcpExt: MPCapableSYNRX MPCapableFallbackSYNACK MPJoinSynTx Blackhole\n"
    "MPTcpExt: 3 17 18446744073709551615 2\n";

static int get(const char *text, const char *table, const char *name, uint64_t *v)
{
    return netstat_get(text, strlen(text), table, name, v);
}

static void test_counters(void **state)
{
    (void)state;
    uint64_t v = 0;
    assert_int_equal(get(sample, "MPTcpExt", "MPCapableSYNRX", &v), 0);
    assert_int_equal(v, 3);
    assert_int_equal(get(sample, "MPTcpExt", "MPCapableFallbackSYNACK", &v), 0);
    assert_int_equal(v, 17);
    assert_int_equal(get(sample, "MPTcpExt", "MPJoinSynTx", &v), 0);
    assert_true(v == UINT64_MAX);
    /* The same name in another table is not this one. */
    assert_int_equal(get(sample, "MPTcpExt", "Blackhole", &v), 0);
    assert_int_equal(v, 2);
    assert_int_equal(get(sample, "TcpExt", "Blackhole", &v), 0);
    assert_int_equal(v, 99);
    /* Absent counter, absent table, a prefix of a name. */
    assert_int_equal(get(sample, "MPTcpExt", "SubflowStale", &v), -1);
    assert_int_equal(get(sample, "Foo", "Blackhole", &v), -1);
    assert_int_equal(get(sample, "MPTcp", "Blackhole", &v), -1);
    assert_int_equal(get(sample, "MPTcpExt", "MPJoin", &v), -1);
    assert_int_equal(get("", "MPTcpExt", "Blackhole", &v), -1);
}

static void test_malformed(void **state)
{
    (void)state;
    uint64_t v;
    /* No values line, a values line of another table, too few values. */
    assert_int_equal(get("MPTcpExt: A B\n", "MPTcpExt", "A", &v), -1);
    assert_int_equal(get("MPTcpExt: A B\nTcpExt: 1 2\n", "MPTcpExt", "A", &v), -1);
    assert_int_equal(get("MPTcpExt: A B\nMPTcpExt: 1\n", "MPTcpExt", "B", &v), -1);
    assert_int_equal(get("MPTcpExt: A B\nMPTcpExt: 1\n", "MPTcpExt", "A", &v), 0);
    /* Not numbers, too big. */
    assert_int_equal(get("MPTcpExt: A\nMPTcpExt: x1\n", "MPTcpExt", "A", &v), -1);
    assert_int_equal(get("MPTcpExt: A\nMPTcpExt: -1\n", "MPTcpExt", "A", &v), -1);
    assert_int_equal(get("MPTcpExt: A\nMPTcpExt: 18446744073709551616\n", "MPTcpExt", "A", &v), -1);
    /* No final newline, several blanks. */
    assert_int_equal(get("MPTcpExt:  A   B\nMPTcpExt:  7   8", "MPTcpExt", "B", &v), 0);
    assert_int_equal(v, 8);
    /* Only part of the buffer counts. */
    const char cut[] = "MPTcpExt: A\nMPTcpExt: 123";
    assert_int_equal(netstat_get(cut, sizeof(cut) - 3, "MPTcpExt", "A", &v), 0);
    assert_int_equal(v, 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_counters),
        cmocka_unit_test(test_malformed),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
