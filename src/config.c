/* Daemon configuration. One table declares every key: its type, bounds,
 * default and where it lands. The same table applies the defaults, reads the
 * INI file, takes command-line overrides and prints the dump. */
#include "mpconv/config.h"
#include "mpconv/ascii.h"
#include "mpconv/errbuf.h"

#include <errno.h>
#include <ini.h>
#include <stdlib.h>
#include <string.h>

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))
#define MS_PER_SECOND 1000u
#define WHY_MAX 512
#define SYNTAX_ERROR "syntax error (expected [section] or key = value)"

enum key_type {
    KEY_LISTEN,   /* listener URL, repeatable */
    KEY_UPSTREAM, /* upstream URL */
    KEY_CHOICE,   /* one of choices[], stored as its index in an enum */
    KEY_SECONDS,  /* decimal seconds, stored as uint32_t ms; min/max in ms */
    KEY_UINT,     /* uint32_t within min..max, decimal or 0x hex */
    KEY_PATH,     /* char[1024]; relative paths in a file are relative to the file */
    KEY_ADDRESS,  /* struct mp_target, "HOST:PORT" (port 0 allowed); "" = unset (host "") */
    KEY_WAN,      /* interface names, repeatable and comma-separated */
    KEY_CIDRS,    /* struct acl_list, repeatable and comma-separated */
};

struct key_def {
    const char *section;
    const char *name;
    enum key_type type;
    const char *default_value; /* parsed by config_init like a file value; NULL for none */
    size_t offset;             /* the field in struct config */
    uint32_t min, max;
    const char *const *choices; /* NULL-terminated */
};

static const char *const mptcp_names[] = {"auto", "on", "off", NULL};
static const char *const log_level_names[] = {"error", "warn", "info", "debug", NULL};
/* A KEY_UINT with a word: the word stands for 0. */
static const char *const auto_word[] = {"auto", NULL};
static const char *const switch_names[] = {"off", "on", NULL};

/* What each listener kind takes in its URL. */
struct listener_kind_def {
    const char *name;
    const char *usage;    /* after "SCHEME://" */
    bool users;           /* USER:PASS and the users file: clients authenticate */
    bool target;          /* the path is the fixed TARGET:PORT */
    const char *no_mptcp; /* why ?mptcp= is refused; NULL when allowed */
};

static const struct listener_kind_def listener_kinds[] = {
    [LISTEN_SOCKS5] = {"socks5", "[USER:PASS@]HOST:PORT", true, false, NULL},
    [LISTEN_HTTP] = {"http", "[USER:PASS@]HOST:PORT", true, false, NULL},
    [LISTEN_MIXED] = {"mixed", "[USER:PASS@]HOST:PORT", true, false, NULL},
    [LISTEN_REDIRECT] = {"redirect", "HOST:PORT", false, false,
                         "SO_ORIGINAL_DST does not work on MPTCP sockets; use tproxy"},
    [LISTEN_TPROXY] = {"tproxy", "HOST:PORT", false, false, NULL},
    [LISTEN_FORWARD] = {"forward", "HOST:PORT/TARGET:PORT", false, true, NULL},
};
_Static_assert(ARRAY_LEN(listener_kinds) == LISTEN_FORWARD + 1, "one row per enum listener_kind");

/* URL schemes: a kind (enum listener_kind or enum upstream_kind), maybe in TLS. */
struct scheme_def {
    const char *name;
    int kind;
    bool tls;
};

static const struct scheme_def listener_schemes[] = {
    {"socks5", LISTEN_SOCKS5, false},     {"socks5+tls", LISTEN_SOCKS5, true}, {"http", LISTEN_HTTP, false},
    {"https", LISTEN_HTTP, true},         {"mixed", LISTEN_MIXED, false},      {"mixed+tls", LISTEN_MIXED, true},
    {"redirect", LISTEN_REDIRECT, false}, {"tproxy", LISTEN_TPROXY, false},   {"forward", LISTEN_FORWARD, false},
};

static const struct scheme_def upstream_schemes[] = {
    {"direct", UPSTREAM_DIRECT, false}, {"socks5", UPSTREAM_SOCKS5, false}, {"socks5+tls", UPSTREAM_SOCKS5, true},
    {"http", UPSTREAM_HTTP, false},     {"https", UPSTREAM_HTTP, true},
};

/* KEY_CHOICE fields are written as int, the signed twin of the enum's type. */
_Static_assert(sizeof(enum mptcp_mode) == sizeof(int) && sizeof(enum log_level) == sizeof(int),
               "choice fields must be int-sized enums");

#define FIELD(f) offsetof(struct config, f)
#define TIMEOUT_MIN_MS 100u
#define TIMEOUT_MAX_MS (86400u * MS_PER_SECOND)

static const struct key_def keys[] = {
    {"mpconv", "listen", KEY_LISTEN, NULL, FIELD(listeners), 0, 0, NULL},
    {"mpconv", "upstream", KEY_UPSTREAM, "direct", FIELD(upstream), 0, 0, NULL},
    {"mpconv", "mptcp", KEY_CHOICE, "auto", FIELD(mptcp), 0, 0, mptcp_names},
    {"mpconv", "mark", KEY_UINT, "0", FIELD(mark), 0, UINT32_MAX, NULL},
    {"mpconv", "log_level", KEY_CHOICE, "info", FIELD(log_level), 0, 0, log_level_names},
    {"mpconv", "workers", KEY_UINT, "1", FIELD(workers), 1, 64, auto_word},
    {"mpconv", "metrics", KEY_ADDRESS, "", FIELD(metrics), 0, 0, NULL},
    {"mpconv", "wan", KEY_WAN, NULL, FIELD(wan), 0, 0, NULL},
    {"timeouts", "connect", KEY_SECONDS, "10", FIELD(connect_timeout_ms), TIMEOUT_MIN_MS, TIMEOUT_MAX_MS, NULL},
    {"timeouts", "handshake", KEY_SECONDS, "10", FIELD(handshake_timeout_ms), TIMEOUT_MIN_MS, TIMEOUT_MAX_MS,
     NULL},
    {"timeouts", "idle", KEY_SECONDS, "300", FIELD(idle_timeout_ms), TIMEOUT_MIN_MS, TIMEOUT_MAX_MS, NULL},
    {"timeouts", "drain", KEY_SECONDS, "10", FIELD(drain_timeout_ms), TIMEOUT_MIN_MS, TIMEOUT_MAX_MS, NULL},
    {"http", "max_header_bytes", KEY_UINT, "16384", FIELD(max_header_bytes), 1024, 65536, NULL},
    {"http", "pac", KEY_CHOICE, "on", FIELD(pac), 0, 0, switch_names},
    {"auth", "users_file", KEY_PATH, "", FIELD(users_file), 0, 0, NULL},
    {"acl", "clients", KEY_CIDRS, NULL, FIELD(acl.clients), 0, 0, NULL},
    {"acl", "deny", KEY_CIDRS, NULL, FIELD(acl.deny), 0, 0, NULL},
    {"acl", "allow", KEY_CIDRS, NULL, FIELD(acl.allow), 0, 0, NULL},
    {"acl", "tcp", KEY_CIDRS, NULL, FIELD(acl.tcp), 0, 0, NULL},
    {"acl", "require_mptcp", KEY_CIDRS, NULL, FIELD(acl.require_mptcp), 0, 0, NULL},
};
_Static_assert(ARRAY_LEN(keys) <= 64, "struct config's cli_lists has one bit per key");

/* Used by config_finalize when neither the file nor the command line names one. */
static const char *const default_listeners[] = {"socks5://127.0.0.1:1080", "http://127.0.0.1:8080"};

/* Where a value comes from: CLI listeners replace the file's, and relative
 * paths in a file are resolved against the file's directory. */
struct origin {
    bool cli;
    const char *file; /* NULL for built-in defaults and the command line */
};


static void *field_of(struct config *c, const struct key_def *k)
{
    return (char *)c + k->offset;
}

static const void *const_field_of(const struct config *c, const struct key_def *k)
{
    return (const char *)c + k->offset;
}

static const struct key_def *find_key(const char *section, size_t section_len, const char *name)
{
    for (size_t i = 0; i < ARRAY_LEN(keys); i++)
        if (strlen(keys[i].section) == section_len && memcmp(keys[i].section, section, section_len) == 0 &&
            strcmp(keys[i].name, name) == 0)
            return &keys[i];
    return NULL;
}

static bool section_known(const char *section, size_t len)
{
    for (size_t i = 0; i < ARRAY_LEN(keys); i++)
        if (strlen(keys[i].section) == len && memcmp(keys[i].section, section, len) == 0)
            return true;
    return false;
}

/* Appends name as item i of n to a list like "error, warn, info or debug". */
static void append_choice(char *out, size_t cap, size_t i, size_t n, const char *name)
{
    size_t len = strlen(out);
    if (len + 1 < cap)
        snprintf(out + len, cap - len, "%s%s", i == 0 ? "" : i + 1 == n ? " or " : ", ", name);
}

/* Appends name to a list like "wan1, wan2". */
static void append_list_item(char *out, size_t cap, const char *name)
{
    size_t len = strlen(out);
    if (len + 1 < cap)
        snprintf(out + len, cap - len, "%s%s", len ? ", " : "", name);
}

static void join_choices(const char *const *choices, char *out, size_t cap)
{
    size_t n = 0;
    while (choices[n])
        n++;
    out[0] = '\0';
    for (size_t i = 0; i < n; i++)
        append_choice(out, cap, i, n, choices[i]);
}

/* All scheme names, or only the TLS ones. */
static void join_schemes(const struct scheme_def *defs, size_t n_defs, bool tls_only, char *out, size_t cap)
{
    size_t n = 0, i = 0;
    for (size_t d = 0; d < n_defs; d++)
        n += !tls_only || defs[d].tls;
    out[0] = '\0';
    for (size_t d = 0; d < n_defs; d++)
        if (!tls_only || defs[d].tls)
            append_choice(out, cap, i++, n, defs[d].name);
}

static const struct scheme_def *find_scheme(const struct scheme_def *defs, size_t n, const char *name)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(defs[i].name, name) == 0)
            return &defs[i];
    return NULL;
}

/* Seconds as written in the file: "10", "0.5", at most millisecond precision. */
static void format_seconds(uint32_t ms, char *out, size_t cap)
{
    if (ms % MS_PER_SECOND == 0) {
        snprintf(out, cap, "%u", ms / MS_PER_SECOND);
        return;
    }
    int n = snprintf(out, cap, "%u.%03u", ms / MS_PER_SECOND, ms % MS_PER_SECOND);
    while (n > 0 && (size_t)n < cap && out[n - 1] == '0')
        out[--n] = '\0';
}


/* "N" or "N.D", D at most 3 digits. No strtod: it is locale-dependent and
 * takes "inf", "1e3" and hex. */
static int parse_seconds(const char *s, uint32_t *ms)
{
    uint64_t whole = 0, frac = 0;
    unsigned frac_digits = 0;

    if (!ascii_is_digit(*s))
        return -1;
    for (; ascii_is_digit(*s); s++) {
        whole = whole * 10 + (uint64_t)(*s - '0');
        if (whole > UINT32_MAX)
            return -1;
    }
    if (*s == '.') {
        if (!ascii_is_digit(*++s))
            return -1;
        for (; ascii_is_digit(*s); s++, frac_digits++) {
            if (frac_digits == 3)
                return -1;
            frac = frac * 10 + (uint64_t)(*s - '0');
        }
    }
    if (*s != '\0')
        return -1;
    for (; frac_digits < 3; frac_digits++)
        frac *= 10;
    uint64_t total = whole * MS_PER_SECOND + frac;
    if (total > UINT32_MAX)
        return -1;
    *ms = (uint32_t)total;
    return 0;
}


/* Decimal, or hex after "0x" (firewall marks are usually written in hex). */

/* A digit's value in base 10 or 16, else -1. */
static int digit_value(char c, unsigned base)
{
    int v = ascii_hex_value((unsigned char)c);
    return v >= 0 && (unsigned)v < base ? v : -1;
}

static int parse_uint(const char *s, uint32_t *out)
{
    unsigned base = 10;
    if (s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
        base = 16;
        s += 2;
    }
    uint64_t v = 0;
    int d;
    if (digit_value(*s, base) < 0)
        return -1;
    for (; (d = digit_value(*s, base)) >= 0; s++) {
        v = v * base + (uint64_t)d;
        if (v > UINT32_MAX)
            return -1;
    }
    if (*s != '\0')
        return -1;
    *out = (uint32_t)v;
    return 0;
}

static int set_choice(struct config *c, const struct key_def *k, const char *value, char *why, size_t cap)
{
    for (int i = 0; k->choices[i]; i++) {
        if (strcmp(k->choices[i], value) == 0) {
            *(int *)field_of(c, k) = i;
            return 0;
        }
    }
    char list[128];
    join_choices(k->choices, list, sizeof(list));
    return errbuf_fail(why, cap, "expected %s, got '%s'", list, value);
}

static int set_seconds(struct config *c, const struct key_def *k, const char *value, char *why, size_t cap)
{
    uint32_t ms;
    if (parse_seconds(value, &ms) != 0 || ms < k->min || ms > k->max) {
        char lo[32], hi[32];
        format_seconds(k->min, lo, sizeof(lo));
        format_seconds(k->max, hi, sizeof(hi));
        return errbuf_fail(why, cap, "expected seconds from %s to %s (at most 3 decimals), got '%s'", lo, hi, value);
    }
    *(uint32_t *)field_of(c, k) = ms;
    return 0;
}

static int set_uint(struct config *c, const struct key_def *k, const char *value, char *why, size_t cap)
{
    uint32_t v;
    if (k->choices && strcmp(value, k->choices[0]) == 0) {
        *(uint32_t *)field_of(c, k) = 0;
        return 0;
    }
    if (parse_uint(value, &v) != 0 || v < k->min || v > k->max) {
        char word[32] = "";
        if (k->choices)
            snprintf(word, sizeof(word), "'%s' or ", k->choices[0]);
        return errbuf_fail(why, cap, "expected %san integer from %u to %u, got '%s'", word, k->min,
                           k->max, value);
    }
    *(uint32_t *)field_of(c, k) = v;
    return 0;
}

/* value as given, or relative to the directory of the file it came from. */
static int resolve_path(const char *value, const struct origin *o, char *out, size_t cap)
{
    size_t dir_len = 0;
    if (value[0] != '\0' && value[0] != '/' && o->file) {
        const char *slash = strrchr(o->file, '/');
        dir_len = slash ? (size_t)(slash - o->file) + 1 : 0;
    }
    int n = snprintf(out, cap, "%.*s%s", (int)dir_len, dir_len ? o->file : "", value);
    if (n < 0 || (size_t)n >= cap) {
        out[0] = '\0';
        return -1;
    }
    return 0;
}

static int set_path(struct config *c, const struct key_def *k, const char *value, const struct origin *o,
                    char *why, size_t cap)
{
    if (resolve_path(value, o, field_of(c, k), sizeof(c->users_file)) != 0)
        return errbuf_fail(why, cap, "path too long (max %zu bytes)", sizeof(c->users_file) - 1);
    return 0;
}

/* A local address to serve on; empty turns the feature off. */
static int set_address(struct config *c, const struct key_def *k, const char *value, char *why, size_t cap)
{
    struct mp_target *t = field_of(c, k);
    char reason[256];
    if (value[0] == '\0') {
        memset(t, 0, sizeof(*t));
        return 0;
    }
    if (url_parse_host_port(value, strlen(value), t, reason, sizeof(reason)) != 0)
        return errbuf_fail(why, cap, "invalid address '%s': %s", value, reason);
    return 0;
}

_Static_assert(URL_PARAM_VALUE_MAX + 1 >= CONFIG_PATH_MAX, "a resolved path must fit back into its URL parameter");

/* cert=, key=, ca=: resolved like other paths. The URL keeps the resolved
 * name, so the dump names the file in use. */
static int take_file_param(struct url_param *p, const struct origin *o, char *path, char *why, size_t cap)
{
    if (p->value[0] == '\0')
        return errbuf_fail(why, cap, "parameter '%s': expected a file name", p->key);
    if (resolve_path(p->value, o, path, CONFIG_PATH_MAX) != 0)
        return errbuf_fail(why, cap, "parameter '%s': path too long (max %d bytes)", p->key, CONFIG_PATH_MAX - 1);
    memcpy(p->value, path, strlen(path) + 1);
    return 0;
}

static int upstream_param(struct upstream_cfg *up, struct url_param *p, const struct origin *o, char *why,
                          size_t cap)
{
    bool ca = strcmp(p->key, "ca") == 0;
    if (!ca && strcmp(p->key, "sni") != 0)
        return errbuf_fail(why, cap, "unknown parameter '%s'", p->key);
    if (!up->tls) {
        char tls[64];
        join_schemes(upstream_schemes, ARRAY_LEN(upstream_schemes), true, tls, sizeof(tls));
        return errbuf_fail(why, cap, "parameter '%s' needs a TLS upstream (%s)", p->key, tls);
    }
    if (ca)
        return take_file_param(p, o, up->ca_file, why, cap);

    struct mp_target name;
    if (target_set(&name, p->value, strlen(p->value), 0) != 0 || name.kind != TARGET_NAME)
        return errbuf_fail(why, cap, "parameter 'sni': expected a host name, got '%s'", p->value);
    memcpy(up->sni, name.host, sizeof(up->sni));
    return 0;
}

static int parse_upstream(const char *value, const struct origin *o, struct upstream_cfg *up, char *why,
                          size_t cap)
{
    memset(up, 0, sizeof(*up));
    if (url_parse(value, &up->url, why, cap) != 0)
        return -1;
    const char *scheme = up->url.scheme;
    const struct scheme_def *def = find_scheme(upstream_schemes, ARRAY_LEN(upstream_schemes), scheme);
    if (!def) {
        char list[128];
        join_schemes(upstream_schemes, ARRAY_LEN(upstream_schemes), false, list, sizeof(list));
        return errbuf_fail(why, cap, "unknown scheme '%s' (expected %s)", scheme, list);
    }
    up->kind = (enum upstream_kind)def->kind;
    up->tls = def->tls;
    if (up->kind == UPSTREAM_DIRECT)
        return up->url.has_host ? errbuf_fail(why, cap, "direct takes no host (expected just 'direct')") : 0;

    if (!up->url.has_host)
        return errbuf_fail(why, cap, "expected %s://[USER:PASS@]HOST:PORT", scheme);
    if (up->url.host.port == 0)
        return errbuf_fail(why, cap, "invalid port (expected 1..65535)");
    if (up->url.path[0])
        return errbuf_fail(why, cap, "an upstream takes no path");
    for (size_t i = 0; i < up->url.n_params; i++)
        if (upstream_param(up, &up->url.params[i], o, why, cap) != 0)
            return -1;
    return 0;
}

static int set_upstream(struct config *c, const char *value, const struct origin *o, char *why, size_t cap)
{
    struct upstream_cfg up;
    if (parse_upstream(value, o, &up, why, cap) != 0)
        return -1;
    c->upstream = up;
    return 0;
}

static void free_listeners(struct config *c)
{
    for (size_t i = 0; i < c->n_listeners; i++) {
        free(c->listeners[i].users);
        acl_list_clear(&c->listeners[i].allow);
    }
    free(c->listeners);
    c->listeners = NULL;
    c->n_listeners = 0;
}

/* ?allow=CIDR,...: the listener's own client allow-list. */
static int take_allow_param(struct listener_cfg *l, const struct url_param *p, char *why, size_t cap)
{
    char what[WHY_MAX];
    if (acl_list_parse(&l->allow, p->value, what, sizeof(what)) != 0)
        return errbuf_fail(why, cap, "parameter 'allow': %s", what);
    if (l->allow.n == 0)
        return errbuf_fail(why, cap, "parameter 'allow': expected CIDR[,CIDR...], e.g. 192.168.1.0/24");
    return 0;
}

static int listener_param(struct listener_cfg *l, struct url_param *p, const struct origin *o, char *why,
                          size_t cap)
{
    const struct listener_kind_def *kind = &listener_kinds[l->kind];
    if (strcmp(p->key, "mptcp") == 0) {
        if (kind->no_mptcp)
            return errbuf_fail(why, cap, "parameter 'mptcp' is not allowed on %s listeners (%s)", kind->name,
                               kind->no_mptcp);
        if (strcmp(p->value, "0") != 0 && strcmp(p->value, "1") != 0)
            return errbuf_fail(why, cap, "parameter 'mptcp': expected 0 or 1, got '%s'", p->value);
        l->mptcp = p->value[0] == '1';
        return 0;
    }
    if (strcmp(p->key, "allow") == 0)
        return take_allow_param(l, p, why, cap);
    bool cert = strcmp(p->key, "cert") == 0;
    if (!cert && strcmp(p->key, "key") != 0)
        return errbuf_fail(why, cap, "unknown parameter '%s'", p->key);
    if (!l->tls) {
        char tls[64];
        join_schemes(listener_schemes, ARRAY_LEN(listener_schemes), true, tls, sizeof(tls));
        return errbuf_fail(why, cap, "parameter '%s' needs a TLS listener (%s)", p->key, tls);
    }
    return take_file_param(p, o, cert ? l->cert_file : l->key_file, why, cap);
}

/* Only forward listeners have a path: the fixed TARGET:PORT. */
static int parse_listener_path(struct listener_cfg *l, char *why, size_t cap)
{
    const struct listener_kind_def *kind = &listener_kinds[l->kind];
    const char *path = l->url.path;
    if (!kind->target)
        return path[0] ? errbuf_fail(why, cap, "a %s listener takes no path", l->url.scheme) : 0;
    if (!path[0])
        return errbuf_fail(why, cap, "missing target (expected %s://%s)", l->url.scheme, kind->usage);
    if (target_parse_hostport(&l->forward_to, path, strlen(path), 0) != 0)
        return errbuf_fail(why, cap, "invalid target '%s' (expected HOST:PORT or [IPv6]:PORT, port 1..65535)",
                           path);
    return 0;
}

static int parse_listener(const char *value, const struct origin *o, struct listener_cfg *l, char *why,
                          size_t cap)
{
    memset(l, 0, sizeof(*l));
    if (url_parse(value, &l->url, why, cap) != 0)
        return -1;
    const char *scheme = l->url.scheme;
    const struct scheme_def *def = find_scheme(listener_schemes, ARRAY_LEN(listener_schemes), scheme);
    if (!def) {
        char list[128];
        join_schemes(listener_schemes, ARRAY_LEN(listener_schemes), false, list, sizeof(list));
        return errbuf_fail(why, cap, "unknown scheme '%s' (expected %s)", scheme, list);
    }
    l->kind = (enum listener_kind)def->kind;
    l->tls = def->tls;
    const struct listener_kind_def *kind = &listener_kinds[l->kind];

    if (!l->url.has_host)
        return errbuf_fail(why, cap, "expected %s://%s", scheme, kind->usage);
    if (l->url.has_userinfo && !kind->users)
        return errbuf_fail(why, cap, "a %s listener takes no USER:PASS (its clients do not authenticate)", scheme);
    if (parse_listener_path(l, why, cap) != 0)
        return -1;
    for (size_t i = 0; i < l->url.n_params; i++)
        if (listener_param(l, &l->url.params[i], o, why, cap) != 0)
            return -1;
    if (l->tls && (!l->cert_file[0] || !l->key_file[0]))
        return errbuf_fail(why, cap, "missing parameter '%s' (a TLS listener needs cert=FILE and key=FILE)",
                           l->cert_file[0] ? "key" : "cert");
    return 0;
}

static int add_listener(struct config *c, const char *value, const struct origin *o, char *why, size_t cap)
{
    struct listener_cfg l;
    if (parse_listener(value, o, &l, why, cap) != 0) {
        acl_list_clear(&l.allow);
        return -1;
    }
    if (o->cli && !c->cli_listeners) {
        free_listeners(c);
        c->cli_listeners = true;
    } else if (!o->cli && c->cli_listeners) {
        acl_list_clear(&l.allow);
        return 0; /* the command line's listeners win over the file's */
    }

    struct listener_cfg *grown = realloc(c->listeners, (c->n_listeners + 1) * sizeof(*grown));
    if (!grown) {
        acl_list_clear(&l.allow);
        return errbuf_fail(why, cap, "out of memory");
    }
    c->listeners = grown;
    c->listeners[c->n_listeners++] = l;
    return 0;
}

/* What the kernel accepts as an interface name (dev_valid_name). */
static bool ifname_valid(const char *name, size_t len)
{
    if (len == 0 || len >= CONFIG_IFNAME_SIZE || (len == 1 && name[0] == '.') ||
        (len == 2 && name[0] == '.' && name[1] == '.'))
        return false;
    for (size_t i = 0; i < len; i++)
        if (name[i] == '/' || name[i] == ':' || (unsigned char)name[i] <= ' ' || name[i] == 0x7f)
            return false;
    return true;
}

static int add_wan(struct config *c, const char *name, size_t len, char *why, size_t cap)
{
    if (!ifname_valid(name, len))
        return errbuf_fail(why, cap, "invalid interface name '%.*s' (1 to %d characters, no '/', ':' or blanks)",
                           (int)len, name, CONFIG_IFNAME_SIZE - 1);
    for (size_t i = 0; i < c->n_wan; i++)
        if (strlen(c->wan[i]) == len && memcmp(c->wan[i], name, len) == 0)
            return errbuf_fail(why, cap, "interface '%.*s' given twice", (int)len, name);
    if (c->n_wan == CONFIG_WAN_MAX)
        return errbuf_fail(why, cap, "more than %d interfaces", CONFIG_WAN_MAX);
    memcpy(c->wan[c->n_wan], name, len);
    c->wan[c->n_wan++][len] = '\0';
    return 0;
}

/* "wan1, wan2": appends each name. The command line's names replace the
 * file's, like listeners; an empty value adds none. */
static int add_wans(struct config *c, const char *value, const struct origin *o, char *why, size_t cap)
{
    if (o->cli && !c->cli_wan) {
        c->n_wan = 0;
        c->cli_wan = true;
    } else if (!o->cli && c->cli_wan) {
        return 0;
    }
    const char *p = value + strspn(value, " \t");
    while (*p) {
        size_t len = strcspn(p, ",");
        size_t trimmed = len;
        while (trimmed > 0 && (p[trimmed - 1] == ' ' || p[trimmed - 1] == '\t'))
            trimmed--;
        if (add_wan(c, p, trimmed, why, cap) != 0)
            return -1;
        p += len;
        if (*p == ',') {
            p += 1 + strspn(p + 1, " \t");
            if (!*p)
                return errbuf_fail(why, cap, "empty interface name after ','");
        }
    }
    return 0;
}

/* Like listeners, a list set on the command line replaces the file's. */
static int set_cidrs(struct config *c, const struct key_def *k, const char *value, const struct origin *o,
                     char *why, size_t cap)
{
    struct acl_list *list = field_of(c, k);
    uint64_t bit = UINT64_C(1) << (k - keys);
    bool from_cli = (c->cli_lists & bit) != 0;
    if (o->cli == from_cli)
        return acl_list_parse(list, value, why, cap); /* adds, or nothing on error */
    if (from_cli)
        return 0;
    struct acl_list replacement = {NULL, 0};
    if (acl_list_parse(&replacement, value, why, cap) != 0) {
        acl_list_clear(&replacement);
        return -1;
    }
    acl_list_clear(list);
    *list = replacement;
    c->cli_lists |= bit;
    return 0;
}

/* Sets one key; on failure writes what is wrong (without the key) into why. */
static int set_value(struct config *c, const struct key_def *k, const char *value, const struct origin *o,
                     char *why, size_t cap)
{
    switch (k->type) {
    case KEY_LISTEN:
        return add_listener(c, value, o, why, cap);
    case KEY_UPSTREAM:
        return set_upstream(c, value, o, why, cap);
    case KEY_CHOICE:
        return set_choice(c, k, value, why, cap);
    case KEY_SECONDS:
        return set_seconds(c, k, value, why, cap);
    case KEY_UINT:
        return set_uint(c, k, value, why, cap);
    case KEY_PATH:
        return set_path(c, k, value, o, why, cap);
    case KEY_ADDRESS:
        return set_address(c, k, value, why, cap);
    case KEY_WAN:
        return add_wans(c, value, o, why, cap);
    case KEY_CIDRS:
        return set_cidrs(c, k, value, o, why, cap);
    }
    return errbuf_fail(why, cap, "unhandled key type");
}

void config_init(struct config *c)
{
    static const struct origin builtin = {false, NULL};
    char why[WHY_MAX];

    memset(c, 0, sizeof(*c));
    /* The defaults cannot fail; test_config checks the values they give. */
    for (size_t i = 0; i < ARRAY_LEN(keys); i++)
        if (keys[i].default_value)
            (void)set_value(c, &keys[i], keys[i].default_value, &builtin, why, sizeof(why));
}

/* ---- INI file ---- */

struct file_load {
    struct config *c;
    const char *path;
    FILE *f;
    char *line; /* getline buffer */
    size_t line_cap;
    unsigned lineno;
    int read_errno;
    unsigned set_on_line[ARRAY_LEN(keys)]; /* for duplicate keys */
    unsigned err_line;                     /* 0 until the first error */
    char *err;
    size_t err_cap;
};

/* Records the first error as "FILE:LINE: [KEY: ]WHY". */
static void file_error(struct file_load *ld, const char *key, const char *why)
{
    if (ld->err_line)
        return;
    ld->err_line = ld->lineno;
    if (key)
        snprintf(ld->err, ld->err_cap, "%s:%u: %s: %s", ld->path, ld->lineno, key, why);
    else
        snprintf(ld->err, ld->err_cap, "%s:%u: %s", ld->path, ld->lineno, why);
}

/* inih has no line numbers for its handler (v55 without INI_HANDLER_LINENO),
 * so this reader hands it one line at a time and counts. It also rejects lines
 * that would not fit inih's buffer (inih would silently split them), unknown
 * section headers (inih never reports empty sections), and drops leading
 * blanks so an indented line is never taken as a multi-line continuation. */
static char *read_ini_line(char *buf, int size, void *stream)
{
    struct file_load *ld = stream;
    if (ld->err_line)
        return NULL; /* stop at the first error */

    ssize_t n = getline(&ld->line, &ld->line_cap, ld->f);
    if (n < 0) {
        ld->read_errno = ferror(ld->f) ? errno : 0;
        return NULL;
    }
    ld->lineno++;
    size_t len = (size_t)n;
    if (memchr(ld->line, '\0', len)) {
        file_error(ld, NULL, "NUL byte in line");
        return NULL;
    }
    while (len > 0 && (ld->line[len - 1] == '\n' || ld->line[len - 1] == '\r'))
        ld->line[--len] = '\0';
    const char *p = ld->line + strspn(ld->line, " \t");
    len -= (size_t)(p - ld->line);

    if (len + 2 > (size_t)size) { /* inih also wants room for '\n' and NUL */
        char why[64];
        snprintf(why, sizeof(why), "line too long (max %d bytes)", size - 2);
        file_error(ld, NULL, why);
        return NULL;
    }
    const char *close = p[0] == '[' ? strchr(p, ']') : NULL;
    if (close && !section_known(p + 1, (size_t)(close - p - 1))) {
        char why[WHY_MAX];
        snprintf(why, sizeof(why), "unknown section [%.*s]", (int)(close - p - 1), p + 1);
        file_error(ld, NULL, why);
        return NULL;
    }
    memcpy(buf, p, len + 1);
    return buf;
}

/* Says where a misplaced key belongs, if it exists in another section. */
static void describe_unknown_key(const char *section, const char *name, char *why, size_t cap)
{
    const char *home = NULL;
    for (size_t i = 0; i < ARRAY_LEN(keys) && !home; i++)
        if (strcmp(keys[i].name, name) == 0)
            home = keys[i].section;

    int n = section[0] ? snprintf(why, cap, "unknown key in [%s]", section)
                       : snprintf(why, cap, "key outside any section");
    if (home && n >= 0 && (size_t)n < cap)
        snprintf(why + n, cap - (size_t)n, " (it belongs in [%s])", home);
}

static int on_ini_value(void *user, const char *section, const char *name, const char *value)
{
    struct file_load *ld = user;
    char why[WHY_MAX];
    if (name[0] == '\0') { /* "= value" */
        file_error(ld, NULL, SYNTAX_ERROR);
        return 0;
    }
    const struct key_def *k = find_key(section, strlen(section), name);
    if (!k) {
        describe_unknown_key(section, name, why, sizeof(why));
        file_error(ld, name, why);
        return 0;
    }
    unsigned *first = &ld->set_on_line[k - keys];
    if (k->type != KEY_LISTEN && k->type != KEY_WAN && k->type != KEY_CIDRS && *first) {
        snprintf(why, sizeof(why), "duplicate key (first set on line %u)", *first);
        file_error(ld, name, why);
        return 0;
    }
    *first = ld->lineno;

    const struct origin from_file = {false, ld->path};
    if (set_value(ld->c, k, value, &from_file, why, sizeof(why)) != 0) {
        file_error(ld, name, why);
        return 0;
    }
    return 1;
}

int config_load_file(struct config *c, const char *path, char *err, size_t err_cap)
{
    if (strlen(path) >= sizeof(c->source))
        return errbuf_fail(err, err_cap, "%s: path too long", path);
    FILE *f = fopen(path, "r");
    if (!f)
        return errbuf_fail(err, err_cap, "%s: cannot open: %s", path, strerror(errno));

    struct file_load ld = {.c = c, .path = path, .f = f, .err = err, .err_cap = err_cap};
    int r = ini_parse_stream(read_ini_line, &ld, on_ini_value, &ld);
    fclose(f);
    free(ld.line);

    /* inih keeps going after a syntax error; report whichever came first. */
    if (r > 0 && (ld.err_line == 0 || (unsigned)r < ld.err_line))
        return errbuf_fail(err, err_cap, "%s:%d: %s", path, r, SYNTAX_ERROR);
    if (ld.err_line)
        return -1;
    if (r < 0)
        return errbuf_fail(err, err_cap, "%s: out of memory", path);
    if (ld.read_errno)
        return errbuf_fail(err, err_cap, "%s: cannot read: %s", path, strerror(ld.read_errno));
    snprintf(c->source, sizeof(c->source), "%s", path);
    return 0;
}

/* ---- command line ---- */

int config_set(struct config *c, const char *key, const char *value, char *err, size_t err_cap)
{
    const char *dot = strchr(key, '.');
    const struct key_def *k = dot ? find_key(key, (size_t)(dot - key), dot + 1) : NULL;
    if (!k)
        return errbuf_fail(err, err_cap, "%s: unknown key (expected SECTION.KEY, e.g. timeouts.idle)", key);

    const struct origin from_cli = {true, NULL};
    char why[WHY_MAX];
    if (set_value(c, k, value, &from_cli, why, sizeof(why)) != 0)
        return errbuf_fail(err, err_cap, "%s: %s", key, why);
    return 0;
}

int config_add_listener_url(struct config *c, const char *url, char *err, size_t err_cap)
{
    return config_set(c, "mpconv.listen", url, err, err_cap);
}

/* ---- users file and finalize ---- */

struct file_user {
    struct user_cred cred;
    unsigned line;
};

struct user_list {
    struct file_user *v;
    size_t n;
};

static const struct file_user *find_user(const struct user_list *users, const char *name)
{
    for (size_t i = 0; i < users->n; i++)
        if (strcmp(users->v[i].cred.name, name) == 0)
            return &users->v[i];
    return NULL;
}

static bool blank_or_comment(const char *line)
{
    line += strspn(line, " \t");
    return *line == '\0' || *line == '#';
}

/* One "user:password" line; the password may contain ':'. */
static int add_user_line(struct user_list *users, const char *line, const char *path, unsigned lineno,
                         char *err, size_t cap)
{
    const char *colon = strchr(line, ':');
    if (!colon || colon == line)
        return errbuf_fail(err, cap, "%s:%u: bad entry (expected user:password)", path, lineno);
    size_t name_len = (size_t)(colon - line), pass_len = strlen(colon + 1);
    if (name_len > URL_CRED_MAX || pass_len > URL_CRED_MAX)
        return errbuf_fail(err, cap, "%s:%u: bad entry (user and password are at most %d bytes)", path, lineno,
                    URL_CRED_MAX);

    struct file_user u = {.line = lineno};
    memcpy(u.cred.name, line, name_len);
    memcpy(u.cred.pass, colon + 1, pass_len);
    const struct file_user *dup = find_user(users, u.cred.name);
    if (dup)
        return errbuf_fail(err, cap, "%s:%u: duplicate user '%s' (first on line %u)", path, lineno, u.cred.name,
                    dup->line);

    struct file_user *grown = realloc(users->v, (users->n + 1) * sizeof(*grown));
    if (!grown)
        return errbuf_fail(err, cap, "%s: out of memory", path);
    users->v = grown;
    users->v[users->n++] = u;
    return 0;
}

static int load_users(const char *path, struct user_list *users, char *err, size_t cap)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return errbuf_fail(err, cap, "%s: cannot open users file: %s", path, strerror(errno));

    char *line = NULL;
    size_t line_cap = 0;
    unsigned lineno = 0;
    ssize_t n;
    int rc = 0;
    while (rc == 0 && (n = getline(&line, &line_cap, f)) >= 0) {
        lineno++;
        size_t len = (size_t)n;
        while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r'))
            line[--len] = '\0';
        if (memchr(line, '\0', len))
            rc = errbuf_fail(err, cap, "%s:%u: bad entry (expected user:password)", path, lineno);
        else if (!blank_or_comment(line))
            rc = add_user_line(users, line, path, lineno, err, cap);
    }
    if (rc == 0 && ferror(f))
        rc = errbuf_fail(err, cap, "%s: cannot read users file: %s", path, strerror(errno));
    else if (rc == 0 && users->n == 0) /* auth was asked for; an empty file must not turn it off */
        rc = errbuf_fail(err, cap, "%s: no users (expected user:password lines)", path);
    free(line);
    fclose(f);
    return rc;
}

/* users = the listener URL's user (first), then everyone from the file.
 * Kinds whose clients cannot authenticate (redirect, tproxy, forward) get none. */
static int attach_users(struct listener_cfg *l, const struct user_list *file_users, const char *users_path,
                        char *err, size_t cap)
{
    free(l->users);
    l->users = NULL;
    l->n_users = 0;

    size_t n = file_users->n + (l->url.has_userinfo ? 1 : 0);
    if (n == 0 || !listener_kinds[l->kind].users)
        return 0;
    l->users = calloc(n, sizeof(*l->users));
    if (!l->users)
        return errbuf_fail(err, cap, "out of memory");
    if (l->url.has_userinfo) {
        const struct file_user *dup = find_user(file_users, l->url.user);
        if (dup) {
            char url[512];
            url_format_redacted(&l->url, url, sizeof(url));
            return errbuf_fail(err, cap, "%s:%u: user '%s' is also set in listen URL %s", users_path, dup->line,
                        l->url.user, url);
        }
        memcpy(l->users[0].name, l->url.user, sizeof(l->users[0].name));
        memcpy(l->users[0].pass, l->url.pass, sizeof(l->users[0].pass));
        l->n_users = 1;
    }
    for (size_t i = 0; i < file_users->n; i++)
        l->users[l->n_users++] = file_users->v[i].cred;
    return 0;
}

/* The daemon opens these at start-up; a typo should already fail "-t". */
static int check_readable(const char *path, const char *what, char *err, size_t cap)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return errbuf_fail(err, cap, "%s: cannot open %s: %s", path, what, strerror(errno));
    int rc = 0;
    if (getc(f) == EOF && ferror(f))
        rc = errbuf_fail(err, cap, "%s: cannot read %s: %s", path, what, strerror(errno));
    fclose(f);
    return rc;
}

static int check_tls_files(const struct config *c, char *err, size_t cap)
{
    for (size_t i = 0; i < c->n_listeners; i++) {
        const struct listener_cfg *l = &c->listeners[i];
        if (l->tls && (check_readable(l->cert_file, "cert file", err, cap) != 0 ||
                       check_readable(l->key_file, "key file", err, cap) != 0))
            return -1;
    }
    if (c->upstream.ca_file[0])
        return check_readable(c->upstream.ca_file, "CA file", err, cap);
    return 0;
}

int config_finalize(struct config *c, char *err, size_t err_cap)
{
    char why[WHY_MAX];
    const struct origin builtin = {false, NULL};

    bool use_defaults = c->n_listeners == 0;
    for (size_t i = 0; use_defaults && i < ARRAY_LEN(default_listeners); i++)
        if (add_listener(c, default_listeners[i], &builtin, why, sizeof(why)) != 0)
            return errbuf_fail(err, err_cap, "default listener %s: %s", default_listeners[i], why);

    if (check_tls_files(c, err, err_cap) != 0)
        return -1;

    struct user_list file_users = {NULL, 0};
    int rc = c->users_file[0] ? load_users(c->users_file, &file_users, err, err_cap) : 0;
    for (size_t i = 0; rc == 0 && i < c->n_listeners; i++)
        rc = attach_users(&c->listeners[i], &file_users, c->users_file, err, err_cap);
    free(file_users.v);
    return rc;
}

/* ---- dump ---- */

static void dump_line(FILE *out, const char *name, const char *value)
{
    if (value[0])
        fprintf(out, "%s = %s\n", name, value);
    else
        fprintf(out, "%s =\n", name);
}

/* One line per entry, so no line outgrows inih's buffer; "name =" when empty. */
static void dump_cidrs(const struct acl_list *l, const char *name, FILE *out)
{
    char entry[ACL_CIDR_TEXT_MAX];
    if (l->n == 0)
        dump_line(out, name, "");
    for (size_t i = 0; i < l->n; i++) {
        acl_cidr_format(&l->v[i], entry, sizeof(entry));
        dump_line(out, name, entry);
    }
}

static void dump_key(const struct config *c, const struct key_def *k, FILE *out)
{
    char value[1024];
    switch (k->type) {
    case KEY_LISTEN:
        for (size_t i = 0; i < c->n_listeners; i++) {
            url_format_redacted(&c->listeners[i].url, value, sizeof(value));
            dump_line(out, k->name, value);
        }
        return;
    case KEY_UPSTREAM:
        url_format_redacted(&c->upstream.url, value, sizeof(value));
        break;
    case KEY_CHOICE:
        snprintf(value, sizeof(value), "%s", k->choices[*(const int *)const_field_of(c, k)]);
        break;
    case KEY_SECONDS:
        format_seconds(*(const uint32_t *)const_field_of(c, k), value, sizeof(value));
        break;
    case KEY_UINT: {
        uint32_t v = *(const uint32_t *)const_field_of(c, k);
        if (v == 0 && k->choices)
            snprintf(value, sizeof(value), "%s", k->choices[0]);
        else
            snprintf(value, sizeof(value), "%u", v);
        break;
    }
    case KEY_PATH:
        snprintf(value, sizeof(value), "%s", (const char *)const_field_of(c, k));
        break;
    case KEY_ADDRESS: {
        const struct mp_target *t = const_field_of(c, k);
        value[0] = '\0';
        if (t->host[0])
            target_format(t, value, sizeof(value));
        break;
    }
    case KEY_WAN:
        value[0] = '\0';
        for (size_t i = 0; i < c->n_wan; i++)
            append_list_item(value, sizeof(value), c->wan[i]);
        break;
    case KEY_CIDRS:
        dump_cidrs(const_field_of(c, k), k->name, out);
        return;
    }
    dump_line(out, k->name, value);
}

void config_dump(const struct config *c, FILE *out)
{
    fprintf(out, "# mpconv effective configuration (%s)\n", c->source[0] ? c->source : "built-in defaults");
    for (size_t i = 0; i < ARRAY_LEN(keys); i++) {
        if (i == 0 || strcmp(keys[i].section, keys[i - 1].section) != 0)
            fprintf(out, "\n[%s]\n", keys[i].section);
        dump_key(c, &keys[i], out);
    }
}

void config_free(struct config *c)
{
    free_listeners(c);
    acl_config_free(&c->acl);
}

const char *mptcp_mode_name(enum mptcp_mode m)
{
    return (size_t)m < ARRAY_LEN(mptcp_names) - 1 ? mptcp_names[m] : "?";
}

const char *listener_kind_name(enum listener_kind k)
{
    return (size_t)k < ARRAY_LEN(listener_kinds) ? listener_kinds[k].name : "?";
}
