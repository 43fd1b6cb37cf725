/* libFuzzer harness for src/config.c (with inih, src/url.c, src/addr.c).
 *
 * The input is written to DIR/mpconv.conf, DIR being a directory made once
 * per process (removed at exit), then loaded, finalized, dumped to
 * /dev/null and freed, as "mpconv -t" does. The dump of a config that
 * loaded must load again, unless escaping made a line longer than inih's
 * line buffer. Two kinds of comment lines, which inih skips,
 * carry more input:
 *   #users LINE      a line of DIR/users (else a valid default file)
 *   #cli KEY=VALUE   config_set(), as options like -u/-m do, after the file
 *
 * Files a config names are opened by config_finalize. So that the fuzzer
 * cannot make it read a device or a FIFO (/dev/zero, /dev/stdin, ...), any
 * users_file, cert, key or ca outside DIR is pointed at DIR/users (a valid
 * users file) before finalizing. Relative names already land in DIR. */
#include "fuzz.h"

#include <stdbool.h>
#include <string.h>
#include <unistd.h>

#include "mpconv/config.h"

static char dir[64];
static char conf_path[128], users_path[128], dump_path[128];
static FILE *devnull;

#define CLI_MAX 8
static const char default_users[] = "# fuzz\nalice:secret\nbob:pa:ss\n";

static void cleanup(void)
{
    unlink(conf_path);
    unlink(users_path);
    unlink(dump_path);
    rmdir(dir);
    if (devnull)
        fclose(devnull);
}

static bool write_file(const char *path, const void *data, size_t size)
{
    FILE *f = fopen(path, "wb");
    if (!f)
        return false;
    bool ok = fwrite(data, 1, size, f) == size;
    return fclose(f) == 0 && ok;
}

static void setup(void)
{
    snprintf(dir, sizeof(dir), "/tmp/mpconv-fuzz-XXXXXX");
    if (!mkdtemp(dir)) {
        perror("mkdtemp");
        abort();
    }
    snprintf(conf_path, sizeof(conf_path), "%s/mpconv.conf", dir);
    snprintf(users_path, sizeof(users_path), "%s/users", dir);
    snprintf(dump_path, sizeof(dump_path), "%s/dump.conf", dir);
    devnull = fopen("/dev/null", "w");
    if (!devnull) {
        perror("fuzz_config setup");
        abort();
    }
    atexit(cleanup);
}

/* A plain file name inside dir, else users_path. */
static void confine(char *path, size_t cap)
{
    size_t n = strlen(dir);
    if (path[0] == '\0')
        return;
    if (strncmp(path, dir, n) == 0 && path[n] == '/' && !strchr(path + n + 1, '/') &&
        strcmp(path + n + 1, "..") != 0 && strcmp(path + n + 1, ".") != 0)
        return;
    snprintf(path, cap, "%s", users_path);
}

static void confine_files(struct config *c)
{
    confine(c->users_file, sizeof(c->users_file));
    confine(c->upstream.ca_file, sizeof(c->upstream.ca_file));
    for (size_t i = 0; i < c->n_listeners; i++) {
        confine(c->listeners[i].cert_file, sizeof(c->listeners[i].cert_file));
        confine(c->listeners[i].key_file, sizeof(c->listeners[i].key_file));
    }
}

struct cli_setting {
    const char *key, *value;
};

/* Writes the users file from the "#users " lines of text (modified in
 * place) and collects the "#cli " settings; returns how many. */
static size_t side_inputs(char *text, struct cli_setting *cli)
{
    size_t n_cli = 0, users_len = 0;
    char *users = malloc(strlen(text) + 1);
    if (!users)
        abort();
    for (char *line = text, *next; line; line = next) {
        next = strchr(line, '\n');
        if (next)
            *next++ = '\0';
        if (strncmp(line, "#users ", 7) == 0) {
            size_t n = strlen(line + 7);
            memcpy(users + users_len, line + 7, n);
            users_len += n;
            users[users_len++] = '\n';
        } else if (strncmp(line, "#cli ", 5) == 0 && n_cli < CLI_MAX) {
            char *eq = strchr(line + 5, '=');
            if (eq) {
                *eq = '\0';
                cli[n_cli++] = (struct cli_setting){line + 5, eq + 1};
            }
        }
    }
    bool ok = users_len ? write_file(users_path, users, users_len)
                        : write_file(users_path, default_users, sizeof(default_users) - 1);
    free(users);
    if (!ok)
        abort();
    return n_cli;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!dir[0])
        setup();
    if (!write_file(conf_path, data, size))
        abort();
    char *text = malloc(size + 1);
    if (!text)
        abort();
    memcpy(text, data, size);
    text[size] = '\0';
    struct cli_setting cli[CLI_MAX];
    size_t n_cli = side_inputs(text, cli);

    struct config c;
    char err[512];
    config_init(&c);
    err[0] = '\0';
    if (config_load_file(&c, conf_path, err, sizeof(err)) != 0) {
        /* Errors name the file, and never end up empty. */
        FUZZ_CHECK(strncmp(err, conf_path, strlen(conf_path)) == 0);
        config_free(&c);
        free(text);
        return 0;
    }
    FUZZ_CHECK(strcmp(c.source, conf_path) == 0);
    for (size_t i = 0; i < n_cli; i++) {
        if (config_set(&c, cli[i].key, cli[i].value, err, sizeof(err)) != 0) {
            FUZZ_CHECK(strncmp(err, cli[i].key, strlen(cli[i].key)) == 0);
            break; /* mpconv exits here */
        }
    }
    free(text);
    confine_files(&c);
    bool finalized = config_finalize(&c, err, sizeof(err)) == 0;
    FUZZ_CHECK(!finalized || c.n_listeners > 0);
    config_dump(&c, devnull);

    /* The dump (passwords are "***") is a config that loads again. Listeners
     * without one come from finalize, so they are only compared after it. */
    FILE *f = fopen(dump_path, "w");
    FUZZ_CHECK(f != NULL);
    config_dump(&c, f);
    FUZZ_CHECK(fclose(f) == 0);
    struct config again;
    config_init(&again);
    if (config_load_file(&again, dump_path, err, sizeof(err)) != 0) {
        /* Escaping and resolved paths can make a dumped line longer than
         * inih's line buffer; anything else is a bug. */
        if (!strstr(err, ": line too long (max ")) {
            fprintf(stderr, "dump does not load back: %s\n", err);
            abort();
        }
        config_free(&again);
        config_free(&c);
        return 0;
    }
    FUZZ_CHECK(again.n_listeners == c.n_listeners);
    FUZZ_CHECK(again.mptcp == c.mptcp && again.mark == c.mark && again.log_level == c.log_level);
    FUZZ_CHECK(again.connect_timeout_ms == c.connect_timeout_ms);
    FUZZ_CHECK(again.handshake_timeout_ms == c.handshake_timeout_ms);
    FUZZ_CHECK(again.idle_timeout_ms == c.idle_timeout_ms);
    FUZZ_CHECK(again.max_header_bytes == c.max_header_bytes);
    FUZZ_CHECK(again.upstream.kind == c.upstream.kind && again.upstream.tls == c.upstream.tls);
    config_free(&again);
    config_free(&c);
    return 0;
}
