/* loadgen: load generator for the mpconv benchmark (single-threaded epoll).
 *
 *   loadgen --via direct|socks5|socks5auth|http|plain [--proxy IP:PORT]
 *           --target IP:PORT [--user U --pass P] [--src-ips IP,IP,...]
 *           --test tput --dir up|down --streams N --bytes B --time S
 *           --test cps  --conc N --time S [--max-conns N] [--req B] [--resp B]
 *           --test idle --steps N1,N2,... [--open-conc N] [--hold S]
 *
 * via: direct = IPPROTO_MPTCP straight to the target (no proxy); socks5 /
 * socks5auth (RFC 1929 user/pass) / http (CONNECT) = plain TCP to the proxy,
 * full handshake, then the target protocol (common.h); plain = plain TCP to
 * a static forwarder (haproxy), no handshake.
 *
 * tput: opens N streams, finishes all handshakes, then starts every stream at
 *   once. down: the target sends B/N bytes per stream; up: we send B/N bytes
 *   per stream in 64 KiB frames, then an end frame, and the target answers
 *   with the byte count (no half-close needed: microsocks and tinyproxy close
 *   both ways on the first EOF). Each stream stops at --time seconds (after
 *   its current frame). Prints payload bytes, seconds, Gbit/s.
 * cps: keeps --conc connections in flight for --time seconds, each: connect,
 *   handshake, one request (--req bytes) answered with --resp bytes, then the
 *   target closes. Latency = connect() start to first response byte.
 * idle: opens connections (at most --open-conc handshaking at once), each
 *   verified end to end by a 1-byte echo, then left idle. After reaching each
 *   step it prints "ready N ..." and waits for a line on stdin ("next"); it
 *   exits on EOF, "quit", or after --hold seconds, closing with RST.
 *
 * Every phase is bounded in time (per-connection timeout, test deadline). The
 * last line is "result ..." with the numbers and this process's CPU use.
 * Exit status: 0 ok, 1 if any connection failed, 2 usage.
 */
#include "common.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#ifndef IP_BIND_ADDRESS_NO_PORT
#define IP_BIND_ADDRESS_NO_PORT 24
#endif

#define BUFSZ (256 * 1024)

enum via { V_DIRECT, V_SOCKS5, V_SOCKS5AUTH, V_HTTP, V_PLAIN };
enum test { T_TPUT, T_CPS, T_IDLE };
enum state {
    S_FREE,
    S_CONNECT,
    S_HS_SEND,
    S_HS_RECV,
    S_READY, /* handshake done, waiting for the tput barrier */
    S_OSEND, /* sending the small app buffer (header, request, ping) */
    S_UP,
    S_UP_ACK,
    S_DOWN,
    S_RR,
    S_PING,
    S_IDLE,
};

struct conn {
    int fd;
    enum state st;
    enum state after_osend;
    int hs_step;
    int want_out;
    double t0, deadline;
    unsigned char ob[512];
    size_t olen, ooff;
    unsigned char rb[1024];
    size_t rlen;
    uint64_t bytes, quota;
    double tend;
    int got_first, finished, failed, finishing;
};

/* options */
static enum via via = V_DIRECT;
static enum test test = T_TPUT;
static struct sockaddr_in proxy_sa, target_sa;
static const char *user = "u", *pass = "p";
static int dir_up;
static int streams = 1;
static uint64_t total_bytes = 1ull << 30;
static double tlimit = 10;
static int conc = 64;
static uint64_t max_conns = 10000000;
static uint32_t req_size = 64, resp_size = 64;
static int steps[16], nsteps;
static int open_conc = 256;
static double hold = 600;
static double conn_timeout = 15;
static struct in_addr src_ips[64];
static int nsrc, src_next;

/* state */
static int epfd;
static struct conn *conns;
static int nconns_max;
static int *freelist, nfree;
static unsigned char iobuf[BUFSZ];
static uint64_t n_started, n_done, n_failed, n_active;
static float *lat;
static size_t nlat, caplat;
static double t_first_fail_log;

static void die_usage(void)
{
    fprintf(stderr, "usage: see the comment at the top of bench/loadgen.c\n");
    exit(2);
}

static int parse_sa(const char *s, struct sockaddr_in *sa)
{
    char host[64];
    const char *colon = strrchr(s, ':');
    if (!colon || (size_t)(colon - s) >= sizeof host)
        return -1;
    memcpy(host, s, (size_t)(colon - s));
    host[colon - s] = 0;
    memset(sa, 0, sizeof *sa);
    sa->sin_family = AF_INET;
    sa->sin_port = htons((uint16_t)atoi(colon + 1));
    return inet_pton(AF_INET, host, &sa->sin_addr) == 1 ? 0 : -1;
}

static void log_fail(struct conn *c, const char *what, int err)
{
    double t = now_s();
    if (t - t_first_fail_log > 1.0) { /* at most one line per second */
        t_first_fail_log = t;
        fprintf(stderr, "loadgen: connection failed in state %d: %s: %s\n", (int)c->st, what,
                err ? strerror(err) : "protocol");
    }
}

static void set_events(struct conn *c, int out)
{
    if (c->want_out == out)
        return;
    struct epoll_event ev = {.events = EPOLLIN | (out ? EPOLLOUT : 0), .data.ptr = c};
    epoll_ctl(epfd, EPOLL_CTL_MOD, c->fd, &ev);
    c->want_out = out;
}

static void conn_release(struct conn *c, int rst)
{
    if (c->fd >= 0) {
        if (rst) {
            struct linger lg = {1, 0};
            setsockopt(c->fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
        }
        close(c->fd);
    }
    c->fd = -1;
    c->st = S_FREE;
    n_active--;
    freelist[nfree++] = (int)(c - conns);
}

static void conn_fail(struct conn *c, const char *what, int err)
{
    log_fail(c, what, err);
    n_failed++;
    c->failed = 1;
    conn_release(c, 1);
}

static struct conn *conn_start(void)
{
    if (nfree == 0)
        return NULL;
    struct conn *c = &conns[freelist[--nfree]];
    memset(c, 0, sizeof *c);
    c->fd = -1;
    c->st = S_CONNECT;
    n_active++;
    n_started++;
    c->t0 = now_s();
    c->deadline = c->t0 + conn_timeout;
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
                    via == V_DIRECT ? IPPROTO_MPTCP : IPPROTO_TCP);
    if (fd < 0) {
        conn_fail(c, "socket", errno);
        return NULL;
    }
    c->fd = fd;
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (nsrc) {
        struct sockaddr_in b = {.sin_family = AF_INET, .sin_addr = src_ips[src_next++ % nsrc]};
        setsockopt(fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof one);
        if (bind(fd, (struct sockaddr *)&b, sizeof b) != 0) {
            conn_fail(c, "bind", errno);
            return NULL;
        }
    }
    const struct sockaddr_in *dst = via == V_DIRECT ? &target_sa : &proxy_sa;
    int r = connect(fd, (const struct sockaddr *)dst, sizeof *dst);
    if (r != 0 && errno != EINPROGRESS) {
        conn_fail(c, "connect", errno);
        return NULL;
    }
    struct epoll_event ev = {.events = EPOLLOUT, .data.ptr = c};
    c->want_out = 1;
    if (epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &ev) != 0) {
        conn_fail(c, "epoll_ctl", errno);
        return NULL;
    }
    return c;
}

/* ---- proxy handshakes ---- */

static void hs_build(struct conn *c)
{
    unsigned char *o = c->ob;
    size_t n = 0;
    c->rlen = 0;
    if (via == V_HTTP) {
        char ip[32];
        inet_ntop(AF_INET, &target_sa.sin_addr, ip, sizeof ip);
        n = (size_t)snprintf((char *)o, sizeof c->ob,
                             "CONNECT %s:%d HTTP/1.1\r\nHost: %s:%d\r\n\r\n", ip,
                             ntohs(target_sa.sin_port), ip, ntohs(target_sa.sin_port));
    } else if (c->hs_step == 0) {
        o[n++] = 5;
        o[n++] = 1;
        o[n++] = via == V_SOCKS5AUTH ? 2 : 0;
    } else if (c->hs_step == 1 && via == V_SOCKS5AUTH) {
        size_t ul = strlen(user), pl = strlen(pass);
        o[n++] = 1;
        o[n++] = (unsigned char)ul;
        memcpy(o + n, user, ul);
        n += ul;
        o[n++] = (unsigned char)pl;
        memcpy(o + n, pass, pl);
        n += pl;
    } else {
        o[n++] = 5;
        o[n++] = 1;
        o[n++] = 0;
        o[n++] = 1;
        memcpy(o + n, &target_sa.sin_addr, 4);
        n += 4;
        memcpy(o + n, &target_sa.sin_port, 2);
        n += 2;
    }
    c->olen = n;
    c->ooff = 0;
}

static int hs_last_step(const struct conn *c)
{
    if (via == V_HTTP)
        return c->hs_step == 0;
    return c->hs_step == (via == V_SOCKS5AUTH ? 2 : 1);
}

/* How many reply bytes the current step needs, given what was read so far
 * (socks: exact sizes so we never read past the reply). 0 = unknown yet. */
static size_t hs_need(const struct conn *c)
{
    if (via == V_HTTP)
        return sizeof c->rb - 1;
    if (!hs_last_step(c))
        return 2;
    if (c->rlen < 5)
        return 5;
    switch (c->rb[3]) {
    case 1:
        return 10;
    case 4:
        return 22;
    case 3:
        return 7 + (size_t)c->rb[4];
    default:
        return 5;
    }
}

/* 1 = reply complete and good, 0 = need more, -1 = refused/bad */
static int hs_check(struct conn *c)
{
    if (via == V_HTTP) {
        c->rb[c->rlen] = 0;
        if (!strstr((char *)c->rb, "\r\n\r\n"))
            return c->rlen >= sizeof c->rb - 1 ? -1 : 0;
        return (!strncmp((char *)c->rb, "HTTP/1.", 7) && c->rlen > 12 &&
                !strncmp((char *)c->rb + 9, "200", 3))
                   ? 1
                   : -1;
    }
    if (c->rlen < hs_need(c))
        return 0;
    if (c->hs_step == 0)
        return (c->rb[0] == 5 && c->rb[1] == (via == V_SOCKS5AUTH ? 2 : 0)) ? 1 : -1;
    if (!hs_last_step(c))
        return (c->rb[0] == 1 && c->rb[1] == 0) ? 1 : -1;
    if (c->rb[3] != 1 && c->rb[3] != 3 && c->rb[3] != 4)
        return -1;
    return (c->rb[0] == 5 && c->rb[1] == 0) ? 1 : -1;
}

/* ---- test logic ---- */

static void app_begin(struct conn *c); /* handshake done */
static int tput_started;
static double t_start, t_end_limit;
static int tput_ready;

static void queue_hdr(struct conn *c, char mode, uint64_t amount, uint32_t reqsize,
                      uint32_t count, size_t extra, enum state next)
{
    struct bench_hdr h;
    memset(&h, 0, sizeof h);
    memcpy(h.magic, BENCH_MAGIC, 4);
    h.mode = (uint8_t)mode;
    h.amount = amount;
    h.reqsize = reqsize;
    h.count = count;
    memcpy(c->ob, &h, sizeof h);
    if (extra > sizeof c->ob - sizeof h)
        extra = sizeof c->ob - sizeof h;
    memset(c->ob + sizeof h, 'q', extra);
    c->olen = sizeof h + extra;
    c->ooff = 0;
    c->after_osend = next;
    c->st = S_OSEND;
    set_events(c, 1);
}

static void tput_go(void)
{
    t_start = now_s();
    t_end_limit = t_start + tlimit;
    tput_started = 1;
    uint64_t per = total_bytes / (uint64_t)streams;
    for (int i = 0; i < nconns_max; i++) {
        struct conn *c = &conns[i];
        if (c->st != S_READY)
            continue;
        c->quota = per;
        c->deadline = t_end_limit + 30; /* drain allowance after the time limit */
        if (dir_up) {
            c->quota = (per + BENCH_FRAME - 1) / BENCH_FRAME * BENCH_FRAME; /* wire bytes */
            queue_hdr(c, 'U', 0, 0, 0, 0, S_UP);
        }
        else
            queue_hdr(c, 'S', per, 0, 0, 0, S_DOWN);
    }
}

static void app_begin(struct conn *c)
{
    switch (test) {
    case T_TPUT:
        c->st = S_READY;
        set_events(c, 0);
        if (++tput_ready == streams)
            tput_go();
        break;
    case T_CPS:
        queue_hdr(c, 'R', resp_size, req_size, 1, req_size, S_RR);
        break;
    case T_IDLE:
        queue_hdr(c, 'E', 0, 0, 0, 1, S_PING);
        break;
    }
}

static void stream_done(struct conn *c)
{
    c->finished = 1;
    c->tend = now_s();
    n_done++;
}

/* tput streams keep their slot (stats) after closing */
static void stream_close(struct conn *c)
{
    close(c->fd);
    c->fd = -1;
    c->st = S_FREE;
    n_active--;
}

static void on_event(struct conn *c, uint32_t ev)
{
    if (c->st == S_CONNECT) {
        if (!(ev & (EPOLLOUT | EPOLLERR | EPOLLHUP)))
            return;
        int err = 0;
        socklen_t el = sizeof err;
        getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &el);
        if (err) {
            conn_fail(c, "connect", err);
            return;
        }
        if (via == V_DIRECT || via == V_PLAIN) {
            app_begin(c);
            return;
        }
        c->hs_step = 0;
        hs_build(c);
        c->st = S_HS_SEND;
    }
    for (int rounds = 0; rounds < 64; rounds++) {
        switch (c->st) {
        case S_HS_SEND:
        case S_OSEND: {
            while (c->ooff < c->olen) {
                ssize_t w = send(c->fd, c->ob + c->ooff, c->olen - c->ooff, MSG_NOSIGNAL);
                if (w < 0) {
                    if (errno == EAGAIN || errno == EWOULDBLOCK) {
                        set_events(c, 1);
                        return;
                    }
                    conn_fail(c, "send", errno);
                    return;
                }
                c->ooff += (size_t)w;
            }
            if (c->st == S_HS_SEND) {
                c->st = S_HS_RECV;
                c->rlen = 0;
                set_events(c, 0);
                return; /* wait for the reply */
            }
            c->st = c->after_osend;
            set_events(c, c->st == S_UP);
            if (c->st != S_UP)
                return;
            continue;
        }
        case S_HS_RECV: {
            size_t need = hs_need(c);
            ssize_t r = recv(c->fd, c->rb + c->rlen, need - c->rlen, 0);
            if (r < 0) {
                if (errno == EAGAIN || errno == EWOULDBLOCK)
                    return;
                conn_fail(c, "handshake recv", errno);
                return;
            }
            if (r == 0) {
                conn_fail(c, "handshake eof", ECONNRESET);
                return;
            }
            c->rlen += (size_t)r;
            int k = hs_check(c);
            if (k < 0) {
                conn_fail(c, "proxy refused", 0);
                return;
            }
            if (k == 0)
                continue;
            if (hs_last_step(c)) {
                app_begin(c);
                return;
            }
            c->hs_step++;
            hs_build(c);
            c->st = S_HS_SEND;
            continue;
        }
        case S_UP: {
            /* framed upload (common.h): whole frames only, then an end frame */
            if (!c->finishing && (c->bytes >= c->quota || now_s() >= t_end_limit)) {
                c->finishing = 1;
                c->quota = (c->bytes + BENCH_FRAME - 1) / BENCH_FRAME * BENCH_FRAME;
            }
            if (c->bytes >= c->quota) {
                memset(c->ob, 0, 4);
                c->olen = 4;
                c->ooff = 0;
                c->rlen = 0;
                c->after_osend = S_UP_ACK;
                c->st = S_OSEND;
                continue;
            }
            size_t off = (size_t)(c->bytes % BUFSZ), n = BUFSZ - off;
            if (c->quota - c->bytes < n)
                n = (size_t)(c->quota - c->bytes);
            ssize_t w = send(c->fd, iobuf + off, n, MSG_NOSIGNAL);
            if (w < 0) {
                if (errno == EAGAIN || errno == EWOULDBLOCK) {
                    set_events(c, 1);
                    return;
                }
                conn_fail(c, "upload send", errno);
                return;
            }
            c->bytes += (uint64_t)w;
            if (rounds > 16)
                return; /* be fair to other streams; EPOLLOUT comes back */
            continue;
        }
        case S_UP_ACK: {
            ssize_t r = recv(c->fd, c->rb + c->rlen, 8 - c->rlen, 0);
            if (r < 0) {
                if (errno == EAGAIN || errno == EWOULDBLOCK)
                    return;
                conn_fail(c, "ack recv", errno);
                return;
            }
            if (r == 0) {
                conn_fail(c, "ack eof", ECONNRESET);
                return;
            }
            c->rlen += (size_t)r;
            if (c->rlen == 8) {
                uint64_t acked;
                memcpy(&acked, c->rb, 8);
                c->bytes = c->bytes / BENCH_FRAME * (BENCH_FRAME - 4); /* payload */
                if (acked != c->bytes) {
                    fprintf(stderr, "loadgen: target acknowledged %llu of %llu bytes\n",
                            (unsigned long long)acked, (unsigned long long)c->bytes);
                    n_failed++;
                    c->failed = 1;
                }
                stream_done(c);
                stream_close(c);
            }
            return;
        }
        case S_DOWN: {
            ssize_t r = recv(c->fd, iobuf, BUFSZ, 0);
            if (r < 0) {
                if (errno == EAGAIN || errno == EWOULDBLOCK)
                    return;
                n_failed++;
                c->failed = 1;
                log_fail(c, "download recv", errno);
                stream_done(c);
                stream_close(c);
                return;
            }
            if (r == 0) {
                if (c->bytes != c->quota) {
                    fprintf(stderr, "loadgen: download ended after %llu of %llu bytes\n",
                            (unsigned long long)c->bytes, (unsigned long long)c->quota);
                    n_failed++;
                    c->failed = 1;
                }
                stream_done(c);
                stream_close(c);
                return;
            }
            c->bytes += (uint64_t)r;
            if (now_s() >= t_end_limit) {
                stream_done(c);
                c->tend = t_end_limit;
                stream_close(c); /* RST to the source: fine, we stop here */
                return;
            }
            if (rounds > 16)
                return;
            continue;
        }
        case S_RR: {
            ssize_t r = recv(c->fd, iobuf, BUFSZ, 0);
            if (r < 0) {
                if (errno == EAGAIN || errno == EWOULDBLOCK)
                    return;
                conn_fail(c, "response recv", errno);
                return;
            }
            if (r == 0) {
                if (c->bytes != resp_size) {
                    conn_fail(c, "short response", 0);
                    return;
                }
                n_done++;
                conn_release(c, 0);
                return;
            }
            if (!c->got_first) {
                c->got_first = 1;
                if (nlat == caplat) {
                    caplat = caplat ? caplat * 2 : 65536;
                    lat = realloc(lat, caplat * sizeof *lat);
                }
                lat[nlat++] = (float)((now_s() - c->t0) * 1e6);
            }
            c->bytes += (uint64_t)r;
            continue;
        }
        case S_PING: {
            ssize_t r = recv(c->fd, c->rb, 1, 0);
            if (r < 0) {
                if (errno == EAGAIN || errno == EWOULDBLOCK)
                    return;
                conn_fail(c, "echo recv", errno);
                return;
            }
            if (r == 0) {
                conn_fail(c, "echo eof", ECONNRESET);
                return;
            }
            c->st = S_IDLE;
            c->deadline = 0;
            n_done++;
            return;
        }
        case S_IDLE: {
            ssize_t r = recv(c->fd, c->rb, sizeof c->rb, 0);
            if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
                return;
            conn_fail(c, "idle connection closed", r < 0 ? errno : ECONNRESET);
            n_done--;
            return;
        }
        default:
            /* S_READY: data or EOF before we asked for anything */
            if (c->st == S_READY) {
                conn_fail(c, "unexpected data before start", 0);
                if (test == T_TPUT)
                    tput_ready = -1000000; /* abort: the barrier can never be met */
            }
            return;
        }
    }
}

static void check_timeouts(double t)
{
    for (int i = 0; i < nconns_max; i++) {
        struct conn *c = &conns[i];
        if (c->st != S_FREE && c->deadline > 0 && t > c->deadline) {
            if (test == T_TPUT)
                tput_ready = -1000000;
            conn_fail(c, "timeout", ETIMEDOUT);
        }
    }
}

static int cmp_float(const void *a, const void *b)
{
    float x = *(const float *)a, y = *(const float *)b;
    return (x > y) - (x < y);
}

static double pct(double p)
{
    if (!nlat)
        return NAN;
    size_t i = (size_t)(p / 100.0 * (double)(nlat - 1) + 0.5);
    return lat[i];
}

static void print_cpu(void)
{
    double u, s;
    self_cpu(&u, &s);
    printf(" cpu_user=%.3f cpu_sys=%.3f\n", u, s);
    fflush(stdout);
}

static int run_tput(void)
{
    struct epoll_event evs[256];
    nconns_max = streams;
    double t_give_up = now_s() + conn_timeout + 5;
    for (int i = 0; i < streams; i++)
        conn_start();
    for (;;) {
        double t = now_s();
        if (!tput_started && (tput_ready < 0 || n_failed || t > t_give_up))
            break;
        if (tput_started && n_active == 0)
            break;
        if (tput_started && t > t_end_limit + 60)
            break;
        int n = epoll_wait(epfd, evs, 256, 50);
        for (int i = 0; i < n; i++)
            on_event(evs[i].data.ptr, evs[i].events);
        t = now_s();
        if (tput_started && t >= t_end_limit) {
            /* time is up: make idle upload streams half-close, downloads stop */
            for (int i = 0; i < nconns_max; i++) {
                struct conn *c = &conns[i];
                if (c->st == S_UP)
                    on_event(c, EPOLLOUT);
                else if (c->st == S_DOWN) {
                    stream_done(c);
                    c->tend = t_end_limit;
                    stream_close(c);
                }
            }
        }
        check_timeouts(t);
    }
    uint64_t bytes = 0;
    double end = t_start;
    int ok = tput_started && n_failed == 0;
    for (int i = 0; i < nconns_max; i++) {
        bytes += conns[i].bytes;
        if (conns[i].tend > end)
            end = conns[i].tend;
        if (!conns[i].finished)
            ok = 0;
    }
    double secs = end - t_start;
    printf("result test=tput dir=%s streams=%d bytes=%llu secs=%.4f gbps=%.4f failed=%llu ok=%d",
           dir_up ? "up" : "down", streams, (unsigned long long)bytes, secs,
           secs > 0 ? (double)bytes * 8 / secs / 1e9 : 0.0, (unsigned long long)n_failed, ok);
    print_cpu();
    return ok ? 0 : 1;
}

static int run_cps(void)
{
    struct epoll_event evs[256];
    nconns_max = conc;
    t_start = now_s();
    double t_stop = t_start + tlimit, t_last = t_start;
    for (int i = 0; i < conc && n_started < max_conns; i++)
        conn_start();
    for (;;) {
        double t = now_s();
        if (n_active == 0 && (t >= t_stop || n_started >= max_conns))
            break;
        if (t > t_stop + conn_timeout + 5)
            break;
        int n = epoll_wait(epfd, evs, 256, 50);
        uint64_t before = n_done;
        for (int i = 0; i < n; i++)
            on_event(evs[i].data.ptr, evs[i].events);
        t = now_s();
        if (n_done != before)
            t_last = t;
        check_timeouts(t);
        while (n_active < (uint64_t)conc && t < t_stop && n_started < max_conns && nfree)
            if (!conn_start())
                break; /* retry on the next round (e.g. out of ports for a moment) */
    }
    uint64_t unfinished = n_active;
    double secs = t_last - t_start;
    qsort(lat, nlat, sizeof *lat, cmp_float);
    printf("result test=cps conc=%d done=%llu failed=%llu unfinished=%llu secs=%.4f cps=%.1f "
           "p50_us=%.1f p90_us=%.1f p99_us=%.1f max_us=%.1f ok=%d",
           conc, (unsigned long long)n_done, (unsigned long long)n_failed,
           (unsigned long long)unfinished, secs, secs > 0 ? (double)n_done / secs : 0.0,
           pct(50), pct(90), pct(99), nlat ? (double)lat[nlat - 1] : NAN,
           n_failed == 0 && unfinished == 0 && n_done > 0);
    print_cpu();
    return (n_failed == 0 && unfinished == 0 && n_done > 0) ? 0 : 1;
}

static int run_idle(void)
{
    struct epoll_event evs[512];
    nconns_max = steps[nsteps - 1];
    t_start = now_s();
    double t_hold_end = t_start + hold;
    int step = 0, waiting = 0, stdin_open = 1;
    struct epoll_event sev = {.events = EPOLLIN, .data.ptr = NULL};
    if (epoll_ctl(epfd, EPOLL_CTL_ADD, 0, &sev) != 0)
        stdin_open = 0;
    uint64_t opened_target = (uint64_t)steps[0];
    double t_step = t_start;
    for (;;) {
        double t = now_s();
        if (t > t_hold_end) {
            fprintf(stderr, "loadgen: idle: --hold time reached\n");
            break;
        }
        if (!waiting) {
            /* n_done counts established (idle) connections, all still active */
            uint64_t inflight = n_active >= n_done ? n_active - n_done : 0;
            while (n_started < opened_target && inflight < (uint64_t)open_conc && nfree) {
                conn_start();
                inflight = n_active >= n_done ? n_active - n_done : 0;
            }
            if (n_started >= opened_target && inflight == 0) {
                printf("ready %d established=%llu failed=%llu secs=%.3f\n", steps[step],
                       (unsigned long long)n_done, (unsigned long long)n_failed, t - t_step);
                fflush(stdout);
                waiting = 1;
                if (!stdin_open)
                    break;
            }
        }
        int n = epoll_wait(epfd, evs, 512, 50);
        for (int i = 0; i < n; i++) {
            if (evs[i].data.ptr == NULL) {
                char line[64];
                ssize_t r = read(0, line, sizeof line - 1);
                if (r <= 0 || !strncmp(line, "quit", 4)) {
                    epoll_ctl(epfd, EPOLL_CTL_DEL, 0, NULL);
                    stdin_open = 0;
                    goto out;
                }
                if (waiting && step + 1 < nsteps) {
                    step++;
                    opened_target = (uint64_t)steps[step];
                    waiting = 0;
                    t_step = now_s();
                }
                continue;
            }
            on_event(evs[i].data.ptr, evs[i].events);
        }
        check_timeouts(now_s());
    }
out:;
    uint64_t est = n_done;
    printf("result test=idle established=%llu failed=%llu ok=%d", (unsigned long long)est,
           (unsigned long long)n_failed, n_failed == 0);
    print_cpu();
    for (int i = 0; i < nconns_max; i++)
        if (conns[i].st != S_FREE)
            conn_release(&conns[i], 1);
    return n_failed == 0 ? 0 : 1;
}

int main(int argc, char **argv)
{
    int have_target = 0, have_proxy = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
#define ARG(name) (!strcmp(a, name) && v && (i++, 1))
        if (ARG("--via")) {
            if (!strcmp(v, "direct"))
                via = V_DIRECT;
            else if (!strcmp(v, "socks5"))
                via = V_SOCKS5;
            else if (!strcmp(v, "socks5auth"))
                via = V_SOCKS5AUTH;
            else if (!strcmp(v, "http"))
                via = V_HTTP;
            else if (!strcmp(v, "plain"))
                via = V_PLAIN;
            else
                die_usage();
        } else if (ARG("--proxy")) {
            if (parse_sa(v, &proxy_sa))
                die_usage();
            have_proxy = 1;
        } else if (ARG("--target")) {
            if (parse_sa(v, &target_sa))
                die_usage();
            have_target = 1;
        } else if (ARG("--user"))
            user = v;
        else if (ARG("--pass"))
            pass = v;
        else if (ARG("--test")) {
            if (!strcmp(v, "tput"))
                test = T_TPUT;
            else if (!strcmp(v, "cps"))
                test = T_CPS;
            else if (!strcmp(v, "idle"))
                test = T_IDLE;
            else
                die_usage();
        } else if (ARG("--dir"))
            dir_up = !strcmp(v, "up");
        else if (ARG("--streams"))
            streams = atoi(v);
        else if (ARG("--bytes"))
            total_bytes = strtoull(v, NULL, 0);
        else if (ARG("--time"))
            tlimit = atof(v);
        else if (ARG("--conc"))
            conc = atoi(v);
        else if (ARG("--max-conns"))
            max_conns = strtoull(v, NULL, 0);
        else if (ARG("--req"))
            req_size = (uint32_t)atoi(v);
        else if (ARG("--resp"))
            resp_size = (uint32_t)atoi(v);
        else if (ARG("--open-conc"))
            open_conc = atoi(v);
        else if (ARG("--hold"))
            hold = atof(v);
        else if (ARG("--conn-timeout"))
            conn_timeout = atof(v);
        else if (ARG("--steps")) {
            char *dup = strdup(v), *save = NULL;
            for (char *tok = strtok_r(dup, ",", &save); tok && nsteps < 16;
                 tok = strtok_r(NULL, ",", &save))
                steps[nsteps++] = atoi(tok);
            free(dup);
        } else if (ARG("--src-ips")) {
            char *dup = strdup(v), *save = NULL;
            for (char *tok = strtok_r(dup, ",", &save); tok && nsrc < 64;
                 tok = strtok_r(NULL, ",", &save))
                if (inet_pton(AF_INET, tok, &src_ips[nsrc]) == 1)
                    nsrc++;
            free(dup);
        } else
            die_usage();
#undef ARG
    }
    if (!have_target || (via != V_DIRECT && !have_proxy) || streams < 1 || conc < 1 ||
        streams > 4096 || conc > 65536 || req_size > 256 || (test == T_IDLE && nsteps == 0))
        die_usage();
    if (strlen(user) > 255 || strlen(pass) > 255)
        die_usage();
    for (int i = 1; i < nsteps; i++)
        if (steps[i] < steps[i - 1])
            die_usage();
    raise_nofile();
    signal(SIGPIPE, SIG_IGN);
    memset(iobuf, 'u', sizeof iobuf);
    _Static_assert(BUFSZ % BENCH_FRAME == 0, "whole frames in the buffer");
    for (size_t off = 0; off < BUFSZ; off += BENCH_FRAME) {
        uint32_t len = BENCH_FRAME - 4; /* little-endian, as the target reads it */
        for (int i = 0; i < 4; i++)
            iobuf[off + (size_t)i] = (unsigned char)(len >> (8 * i));
    }
    epfd = epoll_create1(EPOLL_CLOEXEC);
    int cap = test == T_TPUT ? streams : test == T_CPS ? conc : steps[nsteps - 1];
    conns = calloc((size_t)cap, sizeof *conns);
    freelist = malloc((size_t)cap * sizeof *freelist);
    if (!conns || !freelist)
        return 1;
    for (int i = cap - 1; i >= 0; i--) {
        conns[i].fd = -1;
        freelist[nfree++] = i;
    }
    nconns_max = cap;
    switch (test) {
    case T_TPUT:
        return run_tput();
    case T_CPS:
        return run_cps();
    case T_IDLE:
        return run_idle();
    }
    return 2;
}
