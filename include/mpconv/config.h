/* Daemon configuration: built-in defaults, INI file (inih), command line.
 * Every key is declared once in a table in config.c (type, bounds, default,
 * where it lands); errors name FILE:LINE: key. */
#ifndef MPCONV_CONFIG_H
#define MPCONV_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "mpconv/acl.h"
#include "mpconv/url.h"

enum mptcp_mode { MPTCP_MODE_AUTO, MPTCP_MODE_ON, MPTCP_MODE_OFF };
enum log_level { LOG_ERROR, LOG_WARN, LOG_INFO, LOG_DEBUG };
enum switch_state { SWITCH_OFF, SWITCH_ON };
/* Listener schemes: socks5, http, mixed (each also "+tls"; "https" is
 * http+tls), redirect, tproxy, forward. */
enum listener_kind {
    LISTEN_SOCKS5,
    LISTEN_HTTP,
    LISTEN_MIXED,
    LISTEN_REDIRECT, /* nftables/iptables REDIRECT: destination from SO_ORIGINAL_DST */
    LISTEN_TPROXY,   /* TPROXY: IP_TRANSPARENT listener, destination from getsockname */
    LISTEN_FORWARD,  /* static port forward to a fixed target */
};
/* Upstream schemes: direct, socks5, http, socks5+tls, https. */
enum upstream_kind { UPSTREAM_DIRECT, UPSTREAM_SOCKS5, UPSTREAM_HTTP };

#define CONFIG_PATH_MAX 1024
#define CONFIG_WAN_MAX 16
#define CONFIG_IFNAME_SIZE 16 /* IF_NAMESIZE: 15 characters and the NUL */

struct user_cred {
    char name[URL_CRED_MAX + 1];
    char pass[URL_CRED_MAX + 1];
};

struct listener_cfg {
    enum listener_kind kind;
    struct proxy_url url;    /* as given; url.host is the bind address */
    struct user_cred *users; /* URL user plus the users file; auth required when n_users > 0 */
    size_t n_users;
    bool mptcp;              /* ?mptcp=1: accept MPTCP clients too (not for redirect) */
    bool tls;                /* "+tls" schemes and https: terminate TLS */
    char cert_file[CONFIG_PATH_MAX]; /* ?cert=FILE (PEM chain), required with tls */
    char key_file[CONFIG_PATH_MAX];  /* ?key=FILE (PEM), required with tls */
    struct mp_target forward_to;     /* forward:// only: from the URL path "TARGET:PORT" */
    struct acl_list allow;           /* ?allow=CIDR,...: client allow-list; empty = [acl] clients */
};

/* Where connections go: straight to the destination, or through a parent
 * proxy (typically the concentrator) reached over MPTCP. */
struct upstream_cfg {
    enum upstream_kind kind;
    bool tls;                      /* socks5+tls://, https:// */
    struct proxy_url url;          /* parent host, port, USER:PASS */
    char ca_file[CONFIG_PATH_MAX]; /* ?ca=FILE to verify the parent; "" = system store */
    char sni[TARGET_HOST_MAX + 1]; /* ?sni=NAME; "" = the URL's host when it is a name */
};

struct config {
    struct listener_cfg *listeners;
    size_t n_listeners;
    struct upstream_cfg upstream;
    enum mptcp_mode mptcp;
    uint32_t mark;                 /* [mpconv] mark: SO_MARK on upstream sockets, 0 = unset */
    uint32_t workers;              /* [mpconv] workers: event loops (threads), 0 = one per CPU */
    struct mp_target metrics;      /* [mpconv] metrics: HTTP endpoint address; host "" = off */
    char wan[CONFIG_WAN_MAX][CONFIG_IFNAME_SIZE]; /* [mpconv] wan: WAN interfaces (path healing) */
    size_t n_wan;
    enum log_level log_level;
    uint32_t connect_timeout_ms;   /* [timeouts] connect, seconds in the file */
    uint32_t handshake_timeout_ms; /* [timeouts] handshake */
    uint32_t idle_timeout_ms;      /* [timeouts] idle */
    uint32_t drain_timeout_ms;     /* [timeouts] drain: how long SIGTERM waits for sessions */
    uint32_t max_header_bytes;     /* [http] max_header_bytes */
    enum switch_state pac;         /* [http] pac: serve /proxy.pac on HTTP listeners */
    char users_file[1024];         /* [auth] users_file, "" when unset */
    struct acl_config acl;         /* [acl] */
    char source[1024];             /* file the config came from, "" for built-in */
    bool cli_listeners;            /* listeners came from the command line; the file's are ignored */
    bool cli_wan;                  /* likewise for wan interfaces */
    uint64_t cli_lists;            /* list keys (bit = key index) the command line set; the file's are ignored */
};

/* Built-in defaults, no listeners yet. */
void config_init(struct config *c);

/* Loads an INI file over the current values. Returns 0, or -1 with err set
 * to "FILE:LINE: key: what is wrong" (or "FILE: ..." when unreadable). */
int config_load_file(struct config *c, const char *path, char *err, size_t err_cap);

/* Command-line equivalents (the CLI wins over the file). "-l" URLs given on
 * the command line replace the file's listeners, and list keys ([acl]) the
 * file's list: the first call for such a key clears it, later ones add. */
int config_add_listener_url(struct config *c, const char *url, char *err, size_t err_cap);
int config_set(struct config *c, const char *key, const char *value, char *err, size_t err_cap);

/* After loading: adds the default listeners (socks5 127.0.0.1:1080 and http
 * 127.0.0.1:8080) when none are configured, loads the users file and attaches
 * users to listeners. Returns 0 or -1 with err set. */
int config_finalize(struct config *c, char *err, size_t err_cap);

/* Effective settings in INI form, passwords redacted (for -t). */
void config_dump(const struct config *c, FILE *out);

void config_free(struct config *c);

const char *mptcp_mode_name(enum mptcp_mode m);
/* Scheme names as in URLs: "socks5", "http", "mixed", "redirect", "tproxy",
 * "forward" (without "+tls"). */
const char *listener_kind_name(enum listener_kind k);

#endif
