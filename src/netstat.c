/* /proc/net/netstat reader (see netstat.h). */
#include "mpconv/netstat.h"

#include <stdbool.h>
#include <string.h>

#include "mpconv/ascii.h"

struct line {
    const char *p;
    size_t len;
};

/* The next line of text[off..len) (without its '\n'); 0 at the end. */
static int next_line(const char *text, size_t len, size_t *off, struct line *l)
{
    if (*off >= len)
        return 0;
    const char *start = text + *off;
    const char *nl = memchr(start, '\n', len - *off);
    l->p = start;
    l->len = nl ? (size_t)(nl - start) : len - *off;
    *off += l->len + (nl ? 1 : 0);
    return 1;
}

/* The index-th blank-separated word after "Table:" of line l. */
static int word_at(const struct line *l, size_t index, struct line *w)
{
    size_t i = 0, k = 0;
    for (;;) {
        while (i < l->len && l->p[i] == ' ')
            i++;
        if (i == l->len)
            return -1;
        size_t start = i;
        while (i < l->len && l->p[i] != ' ')
            i++;
        if (k++ == index) {
            *w = (struct line){l->p + start, i - start};
            return 0;
        }
    }
}

static int find_word(const struct line *l, const char *name, size_t *index)
{
    size_t name_len = strlen(name);
    struct line w;
    for (size_t k = 0; word_at(l, k, &w) == 0; k++)
        if (w.len == name_len && memcmp(w.p, name, name_len) == 0) {
            *index = k;
            return 0;
        }
    return -1;
}

static int parse_u64(const struct line *w, uint64_t *value)
{
    uint64_t v = 0;
    if (w->len == 0)
        return -1;
    for (size_t i = 0; i < w->len; i++) {
        if (!ascii_is_digit((unsigned char)w->p[i]))
            return -1;
        uint64_t d = (uint64_t)(w->p[i] - '0');
        if (v > (UINT64_MAX - d) / 10)
            return -1;
        v = v * 10 + d;
    }
    *value = v;
    return 0;
}

static bool has_prefix(const struct line *l, const char *table, size_t table_len)
{
    return l->len > table_len && memcmp(l->p, table, table_len) == 0 && l->p[table_len] == ':';
}

int netstat_get(const char *text, size_t len, const char *table, const char *name, uint64_t *value)
{
    size_t table_len = strlen(table), off = 0, index;
    struct line names, values, w;
    while (next_line(text, len, &off, &names)) {
        if (!has_prefix(&names, table, table_len))
            continue;
        if (!next_line(text, len, &off, &values) || !has_prefix(&values, table, table_len))
            return -1;
        struct line name_words = {names.p + table_len + 1, names.len - table_len - 1};
        struct line value_words = {values.p + table_len + 1, values.len - table_len - 1};
        if (find_word(&name_words, name, &index) == 0)
            return word_at(&value_words, index, &w) == 0 ? parse_u64(&w, value) : -1;
    }
    return -1;
}
