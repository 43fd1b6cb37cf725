/* Command line: collect options, load the file, let the CLI win, then run. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mpconv/config.h"
#include "mpconv/daemon.h"
#include "mpconv/doctor.h"
#include "mpconv/target.h"

static const char usage[] =
    "usage: mpconv [-c FILE] [-l URL]... [-u URL] [--mptcp auto|on|off]\n"
    "              [--log-level LEVEL] [--metrics HOST:PORT] [-o SECTION.KEY=VALUE]...\n"
    "              [-t] [-V] [-h]\n"
    "       mpconv check [-c FILE] [--wan IFNAME]... [--connect HOST:PORT]\n"
    "  -c, --config FILE    INI configuration (see mpconv.conf(5))\n"
    "  -l, --listen URL     add a LAN listener (repeatable):\n"
    "                         socks5://[USER:PASS@]HOST:PORT  SOCKS5 (RFC 1928/1929)\n"
    "                         http://[USER:PASS@]HOST:PORT    HTTP proxy (CONNECT and forwarding)\n"
    "                         mixed://[USER:PASS@]HOST:PORT   SOCKS5 and HTTP on one port\n"
    "  -u, --upstream URL   direct (default): connect to destinations over MPTCP\n"
    "      --mptcp MODE     auto (default): MPTCP, TCP when the kernel refuses;\n"
    "                       on: refuse to start without MPTCP; off: plain TCP\n"
    "      --log-level L    error | warn | info (default) | debug\n"
    "      --metrics H:P    serve /metrics (Prometheus) and /status (JSON) over HTTP\n"
    "  -o, --set SECTION.KEY=VALUE\n"
    "                       set any configuration key (repeatable), e.g.\n"
    "                       -o timeouts.idle=60 -o acl.allow=192.168.1.0/24;\n"
    "                       a list key given here replaces the file's list\n"
    "  -t, --test           check the configuration, print the effective settings, exit\n"
    "  -V, --version        print the version\n"
    "  -h, --help           this text\n"
    "Without -l or a config file: socks5://127.0.0.1:1080 and http://127.0.0.1:8080.\n"
    "Destinations on loopback and this host's own addresses are refused unless\n"
    "[acl] allow lists them (e.g. -o acl.allow=127.0.0.1).\n"
    "mpconv check: is this host set up for MPTCP over every WAN? (mpconv check -h)\n";

static const char check_usage[] =
    "usage: mpconv check [-c FILE] [--wan IFNAME]... [--connect HOST:PORT]\n"
    "Checks that connections from this host (network namespace) can use MPTCP\n"
    "over every WAN: one line per check (ok, warn, FAIL), then a result line.\n"
    "  -c, --config FILE      take [mpconv] wan (and mark) from this file\n"
    "  -w, --wan IFNAME       a WAN interface (repeatable or comma-separated;\n"
    "                         replaces the file's); default: the endpoints' devices\n"
    "      --connect HOST:PORT  open an MPTCP connection there (e.g. the concentrator):\n"
    "                         was MPTCP negotiated, how many subflows after a few s?\n"
    "  -h, --help             this text\n"
    "Exit status: 0 nothing found that prevents MPTCP or aggregation (warnings\n"
    "allowed), 1 something does (a FAIL line), 2 usage or configuration error.\n";

struct setting {
    const char *key; /* "section.key" */
    const char *value;
    char *owned_key; /* the key split from an -o argument */
};

struct cli {
    const char *config_file;
    const char **listen;
    size_t n_listen;
    struct setting *settings; /* in command-line order, applied after the file */
    size_t n_settings;
    int test_only;
};

/* "-o SECTION.KEY=VALUE". */
static int add_override(struct cli *cli, const char *arg)
{
    const char *eq = strchr(arg, '=');
    if (!eq || eq == arg) {
        fprintf(stderr, "mpconv: -o expects SECTION.KEY=VALUE, got '%s'\n%s", arg, usage);
        return 2;
    }
    char *key = strndup(arg, (size_t)(eq - arg));
    if (!key)
        return 1;
    cli->settings[cli->n_settings++] = (struct setting){key, eq + 1, key};
    return 0;
}

static void cli_free(struct cli *cli)
{
    for (size_t i = 0; i < cli->n_settings; i++)
        free(cli->settings[i].owned_key);
    free(cli->settings);
    free(cli->listen);
}

static int parse_args(int argc, char **argv, struct cli *cli)
{
    static const struct option options[] = {
        {"config", required_argument, NULL, 'c'},   {"listen", required_argument, NULL, 'l'},
        {"upstream", required_argument, NULL, 'u'}, {"mptcp", required_argument, NULL, 'm'},
        {"log-level", required_argument, NULL, 'L'}, {"metrics", required_argument, NULL, 'M'},
        {"set", required_argument, NULL, 'o'},      {"test", no_argument, NULL, 't'},
        {"version", no_argument, NULL, 'V'},        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    cli->listen = calloc((size_t)argc, sizeof(*cli->listen));
    cli->settings = calloc((size_t)argc, sizeof(*cli->settings));
    if (!cli->listen || !cli->settings)
        return 1;
    int opt;
    while ((opt = getopt_long(argc, argv, "c:l:u:o:tVh", options, NULL)) != -1) {
        const char *key = NULL;
        switch (opt) {
        case 'c':
            cli->config_file = optarg;
            break;
        case 'l':
            cli->listen[cli->n_listen++] = optarg;
            break;
        case 'u':
            key = "mpconv.upstream";
            break;
        case 'm':
            key = "mpconv.mptcp";
            break;
        case 'L':
            key = "mpconv.log_level";
            break;
        case 'M':
            key = "mpconv.metrics";
            break;
        case 'o':
            if (add_override(cli, optarg) != 0)
                return 2;
            break;
        case 't':
            cli->test_only = 1;
            break;
        case 'V':
            printf("mpconv %s\n", MPCONV_VERSION);
            exit(0);
        case 'h':
            fputs(usage, stdout);
            exit(0);
        default:
            fputs(usage, stderr);
            return 2;
        }
        if (key)
            cli->settings[cli->n_settings++] = (struct setting){key, optarg, NULL};
    }
    if (optind < argc) {
        fprintf(stderr, "mpconv: unexpected argument '%s'\n%s", argv[optind], usage);
        return 2;
    }
    return 0;
}

/* The file, then the command line over it. On failure nothing is left to
 * free. Used at start and again for every SIGHUP. */
static int build_config(const struct cli *cli, struct config *cfg, char *err, size_t cap)
{
    config_init(cfg);
    int rc = cli->config_file ? config_load_file(cfg, cli->config_file, err, cap) : 0;
    for (size_t i = 0; rc == 0 && i < cli->n_listen; i++)
        rc = config_add_listener_url(cfg, cli->listen[i], err, cap);
    for (size_t i = 0; rc == 0 && i < cli->n_settings; i++)
        rc = config_set(cfg, cli->settings[i].key, cli->settings[i].value, err, cap);
    if (rc == 0)
        rc = config_finalize(cfg, err, cap);
    if (rc != 0)
        config_free(cfg);
    return rc;
}

static int reload_config(void *cli, struct config *out, char *err, size_t cap)
{
    return build_config(cli, out, err, cap);
}

/* `mpconv check`: argv[0] is "check". Returns the exit status. */
static int check_main(int argc, char **argv)
{
    static const struct option options[] = {
        {"config", required_argument, NULL, 'c'}, {"wan", required_argument, NULL, 'w'},
        {"connect", required_argument, NULL, 'C'}, {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *config_file = NULL, *connect = NULL;
    char err[1024];
    struct config cfg;
    config_init(&cfg);
    int status = DOCTOR_EXIT_USAGE, opt;
    const char **wans = calloc((size_t)argc, sizeof(*wans));
    size_t n_wans = 0;
    if (!wans)
        return DOCTOR_EXIT_FAIL;
    while ((opt = getopt_long(argc, argv, "c:w:h", options, NULL)) != -1) {
        if (opt == 'c')
            config_file = optarg;
        else if (opt == 'w')
            wans[n_wans++] = optarg;
        else if (opt == 'C')
            connect = optarg;
        else if (opt == 'h') {
            fputs(check_usage, stdout);
            status = DOCTOR_EXIT_OK;
            goto out;
        } else {
            fputs(check_usage, stderr);
            goto out;
        }
    }
    struct mp_target t;
    if (optind < argc) {
        fprintf(stderr, "mpconv check: unexpected argument '%s'\n%s", argv[optind], check_usage);
        goto out;
    }
    if (connect && target_parse_hostport(&t, connect, strlen(connect), 0) != 0) {
        fprintf(stderr, "mpconv check: --connect %s: expected HOST:PORT or [IPv6]:PORT\n", connect);
        goto out;
    }
    if (config_file && config_load_file(&cfg, config_file, err, sizeof(err)) != 0)
        goto bad_config;
    for (size_t i = 0; i < n_wans; i++)
        if (config_set(&cfg, "mpconv.wan", wans[i], err, sizeof(err)) != 0)
            goto bad_config;
    status = doctor_run(&cfg, connect, stdout);
    goto out;
bad_config:
    fprintf(stderr, "mpconv check: %s\n", err);
out:
    free(wans);
    config_free(&cfg);
    return status;
}

int main(int argc, char **argv)
{
    if (argc >= 2 && strcmp(argv[1], "check") == 0)
        return check_main(argc - 1, argv + 1);
    struct cli cli = {0};
    struct config cfg;
    char err[1024];
    int status = parse_args(argc, argv, &cli);
    if (status == 0 && build_config(&cli, &cfg, err, sizeof(err)) != 0) {
        fprintf(stderr, "mpconv: %s\n", err);
        status = 1;
    } else if (status == 0 && cli.test_only) {
        config_dump(&cfg, stdout);
        printf("# configuration OK\n");
        config_free(&cfg);
    } else if (status == 0) {
        status = daemon_run(&cfg, reload_config, &cli); /* takes cfg */
    }
    cli_free(&cli);
    return status;
}
