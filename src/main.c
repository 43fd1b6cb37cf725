/* Command line: collect options, load the file, let the CLI win, then run. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mpconv/config.h"
#include "mpconv/daemon.h"

static const char usage[] =
    "usage: mpconv [-c FILE] [-l URL]... [-u URL] [--mptcp auto|on|off]\n"
    "              [--log-level LEVEL] [-o SECTION.KEY=VALUE]... [-t] [-V] [-h]\n"
    "  -c, --config FILE    INI configuration (see mpconv.conf(5))\n"
    "  -l, --listen URL     add a LAN listener (repeatable):\n"
    "                         socks5://[USER:PASS@]HOST:PORT  SOCKS5 (RFC 1928/1929)\n"
    "                         http://[USER:PASS@]HOST:PORT    HTTP proxy (CONNECT and forwarding)\n"
    "                         mixed://[USER:PASS@]HOST:PORT   SOCKS5 and HTTP on one port\n"
    "  -u, --upstream URL   direct (default): connect to destinations over MPTCP\n"
    "      --mptcp MODE     auto (default): MPTCP, TCP when the kernel refuses;\n"
    "                       on: refuse to start without MPTCP; off: plain TCP\n"
    "      --log-level L    error | warn | info (default) | debug\n"
    "  -o, --set SECTION.KEY=VALUE\n"
    "                       set any configuration key (repeatable), e.g.\n"
    "                       -o timeouts.idle=60 -o acl.allow=192.168.1.0/24;\n"
    "                       a list key given here replaces the file's list\n"
    "  -t, --test           check the configuration, print the effective settings, exit\n"
    "  -V, --version        print the version\n"
    "  -h, --help           this text\n"
    "Without -l or a config file: socks5://127.0.0.1:1080 and http://127.0.0.1:8080.\n"
    "Destinations on loopback and this host's own addresses are refused unless\n"
    "[acl] allow lists them (e.g. -o acl.allow=127.0.0.1).\n";

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
        {"log-level", required_argument, NULL, 'L'}, {"set", required_argument, NULL, 'o'},
        {"test", no_argument, NULL, 't'},           {"version", no_argument, NULL, 'V'},
        {"help", no_argument, NULL, 'h'},           {NULL, 0, NULL, 0},
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

static int build_config(const struct cli *cli, struct config *cfg)
{
    char err[1024];
    config_init(cfg);
    if (cli->config_file && config_load_file(cfg, cli->config_file, err, sizeof(err)) != 0)
        goto fail;
    for (size_t i = 0; i < cli->n_listen; i++)
        if (config_add_listener_url(cfg, cli->listen[i], err, sizeof(err)) != 0)
            goto fail;
    for (size_t i = 0; i < cli->n_settings; i++)
        if (config_set(cfg, cli->settings[i].key, cli->settings[i].value, err, sizeof(err)) != 0)
            goto fail;
    if (config_finalize(cfg, err, sizeof(err)) != 0)
        goto fail;
    return 0;
fail:
    fprintf(stderr, "mpconv: %s\n", err);
    return 1;
}

int main(int argc, char **argv)
{
    struct cli cli = {0};
    struct config cfg;
    int status = parse_args(argc, argv, &cli);
    if (status == 0)
        status = build_config(&cli, &cfg);
    cli_free(&cli);
    if (status != 0)
        return status;
    if (cli.test_only) {
        config_dump(&cfg, stdout);
        printf("# configuration OK\n");
    } else {
        status = daemon_run(&cfg);
    }
    config_free(&cfg);
    return status;
}
