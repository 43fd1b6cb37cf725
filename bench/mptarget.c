/* mptarget: MPTCP target server for the mpconv benchmark.
 *
 *   mptarget [-a ADDR] [-p PORT] [--tcp] [--threads N] [--max-seconds N]
 *
 * Listens with IPPROTO_MPTCP (plain TCP with --tcp), prints "port N ..." on
 * stdout once listening. Each connection sends a struct bench_hdr first
 * (common.h) that selects sink / source / echo / request-response.
 * SIGUSR1 prints a stats line, SIGTERM/SIGINT print it and exit; the
 * process also exits by itself after --max-seconds (default 7200).
 * N epoll threads (default: one per CPU, at most 4), each with its own
 * SO_REUSEPORT listener and one 256 KiB buffer: the only per-connection
 * memory is a small struct (plus a pending-echo buffer while a peer is slow).
 */
#include "common.h"

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <pthread.h>
#include <unistd.h>

#define BUFSZ (256 * 1024)

enum { M_HDR = 0, M_SINK, M_UPLOAD, M_SOURCE, M_ECHO, M_RR, M_ACK };

struct conn {
    int fd;
    int state;
    unsigned char hdr[sizeof(struct bench_hdr)];
    size_t hlen;
    uint64_t amount;   /* source: bytes left; rr: bytes per answer */
    uint64_t got;      /* sink/upload: payload bytes read */
    uint32_t frame_left; /* upload: payload bytes left in this frame */
    uint32_t flen;       /* upload: length prefix being assembled */
    int flen_got;        /* upload: bytes of the prefix seen so far */
    uint32_t reqsize, count, reqs_done, req_got;
    uint64_t out_left; /* rr/ack: bytes still to send */
    unsigned char ack[8];
    unsigned char *pend; /* echo: unsent bytes */
    size_t pend_len, pend_off;
    int want_out;
    int shut_after; /* close once out_left drains */
};

#define MAXTHREADS 16

/* per-thread counters, summed by stats(); each is written by its own thread only */
struct tstats {
    uint64_t accepted, mptcp, tcp, in, out, errors, active, maxactive;
} __attribute__((aligned(64)));

static struct tstats tst[MAXTHREADS];
static int nthreads = 1;
static __thread struct tstats *ST;
static __thread int epfd;
static __thread unsigned char buf[BUFSZ];
static unsigned char srcbuf[BUFSZ];
static double t_start;

static void stats(FILE *f, const char *tag)
{
    double u, s;
    self_cpu(&u, &s);
    uint64_t st_accepted = 0, st_mptcp = 0, st_tcp = 0, st_in = 0, st_out = 0, st_errors = 0,
             st_active = 0, st_maxactive = 0;
    for (int i = 0; i < nthreads; i++) {
#define SUM(f) st_##f += __atomic_load_n(&tst[i].f, __ATOMIC_RELAXED)
        SUM(accepted);
        SUM(mptcp);
        SUM(tcp);
        SUM(in);
        SUM(out);
        SUM(errors);
        SUM(active);
        SUM(maxactive);
#undef SUM
    }
    fprintf(f,
            "%s accepted=%llu mptcp=%llu tcp=%llu active=%llu max_active=%llu bytes_in=%llu "
            "bytes_out=%llu errors=%llu cpu_user=%.3f cpu_sys=%.3f wall=%.3f\n",
            tag, (unsigned long long)st_accepted, (unsigned long long)st_mptcp,
            (unsigned long long)st_tcp, (unsigned long long)st_active,
            (unsigned long long)st_maxactive, (unsigned long long)st_in,
            (unsigned long long)st_out, (unsigned long long)st_errors, u, s, now_s() - t_start);
    fflush(f);
}

static void set_events(struct conn *c, int out)
{
    if (c->want_out == out)
        return;
    struct epoll_event ev = {.events = EPOLLIN | (out ? EPOLLOUT : 0), .data.ptr = c};
    epoll_ctl(epfd, EPOLL_CTL_MOD, c->fd, &ev);
    c->want_out = out;
}

static void conn_close(struct conn *c, int error)
{
    if (error)
        ST->errors++;
    close(c->fd);
    free(c->pend);
    free(c);
    ST->active--;
}

/* Sends out_left bytes of srcbuf (or the ack). Returns -1 on error, 0 if
 * blocked, 1 when done. */
static int push_out(struct conn *c)
{
    while (c->out_left > 0) {
        const unsigned char *p;
        size_t n;
        if (c->state == M_ACK) {
            p = c->ack + (8 - c->out_left);
            n = c->out_left;
        } else {
            p = srcbuf;
            n = c->out_left < BUFSZ ? (size_t)c->out_left : BUFSZ;
        }
        ssize_t w = send(c->fd, p, n, MSG_NOSIGNAL);
        if (w < 0) {
            if (errno == EAGAIN || errno == EWOULDBLOCK)
                return 0;
            if (errno == EINTR)
                continue;
            if (errno != EPIPE && errno != ECONNRESET)
                ST->errors++; /* a reset peer is normal: the client stopped at its deadline */
            return -1;
        }
        c->out_left -= (uint64_t)w;
        ST->out += (uint64_t)w;
    }
    return 1;
}

/* Flushes the pending echo bytes. -1 error, 0 blocked, 1 empty. */
static int push_pend(struct conn *c)
{
    while (c->pend_off < c->pend_len) {
        ssize_t w = send(c->fd, c->pend + c->pend_off, c->pend_len - c->pend_off, MSG_NOSIGNAL);
        if (w < 0) {
            if (errno == EAGAIN || errno == EWOULDBLOCK)
                return 0;
            if (errno == EINTR)
                continue;
            return -1;
        }
        c->pend_off += (size_t)w;
        ST->out += (uint64_t)w;
    }
    c->pend_off = c->pend_len = 0;
    return 1;
}

/* Returns 0 if c was closed. */
static int start_mode(struct conn *c)
{
    struct bench_hdr h;
    memcpy(&h, c->hdr, sizeof h);
    if (memcmp(h.magic, BENCH_MAGIC, 4) != 0) {
        conn_close(c, 1);
        return 0;
    }
    switch (h.mode) {
    case 'K':
        c->state = M_SINK;
        break;
    case 'U':
        c->state = M_UPLOAD;
        break;
    case 'S':
        c->state = M_SOURCE;
        c->out_left = h.amount;
        {
            int r = push_out(c); /* counts its own errors */
            if (r != 0) {
                conn_close(c, 0);
                return 0;
            }
            set_events(c, 1);
        }
        break;
    case 'E':
        c->state = M_ECHO;
        break;
    case 'R':
        c->state = M_RR;
        c->amount = h.amount;
        c->reqsize = h.reqsize ? h.reqsize : 1;
        c->count = h.count;
        break;
    default:
        conn_close(c, 1);
        return 0;
    }
    return 1;
}

/* Sends the u64 byte count and closes when done. Returns 0 if c was closed. */
static int start_ack(struct conn *c)
{
    memcpy(c->ack, &c->got, 8);
    c->state = M_ACK;
    c->out_left = 8;
    int pr = push_out(c);
    if (pr != 0) {
        conn_close(c, 0);
        return 0;
    }
    set_events(c, 1);
    return 1;
}

/* Walks the upload frames in buf[0..n). Returns 1 when the end frame was seen. */
static int upload_scan(struct conn *c, const unsigned char *p, size_t n)
{
    while (n > 0) {
        if (c->frame_left) {
            size_t k = n < c->frame_left ? n : c->frame_left;
            c->frame_left -= (uint32_t)k;
            c->got += k;
            p += k;
            n -= k;
            continue;
        }
        c->flen |= (uint32_t)*p << (8 * c->flen_got);
        p++;
        n--;
        if (++c->flen_got == 4) {
            if (c->flen == 0)
                return 1; /* anything after the end frame is ignored */
            c->frame_left = c->flen;
            c->flen = 0;
            c->flen_got = 0;
        }
    }
    return 0;
}

/* Handles readable data for connection c. Returns 0 if c was closed. */
static int on_read(struct conn *c)
{
    for (int rounds = 0; rounds < 16; rounds++) {
        if (c->state == M_ECHO && c->pend_len)
            return 1; /* back-pressure: wait for EPOLLOUT */
        if (c->state == M_RR && c->out_left)
            return 1;
        if (c->state == M_SOURCE || c->state == M_ACK)
            return 1; /* ignore input while sending */
        size_t want = BUFSZ;
        if (c->state == M_HDR)
            want = sizeof c->hdr - c->hlen;
        ssize_t r = recv(c->fd, c->state == M_HDR ? c->hdr + c->hlen : buf, want, 0);
        if (r < 0) {
            if (errno == EAGAIN || errno == EWOULDBLOCK)
                return 1;
            if (errno == EINTR)
                continue;
            conn_close(c, errno != ECONNRESET);
            return 0;
        }
        if (r == 0) { /* EOF */
            if (c->state == M_SINK)
                return start_ack(c);
            conn_close(c, 0);
            return 0;
        }
        ST->in += (uint64_t)r;
        switch (c->state) {
        case M_HDR:
            c->hlen += (size_t)r;
            if (c->hlen == sizeof c->hdr) {
                if (!start_mode(c))
                    return 0; /* closed (bad header, or source already done) */
                if (c->state == M_SOURCE)
                    return 1;
            }
            break;
        case M_SINK:
            c->got += (uint64_t)r;
            break;
        case M_UPLOAD:
            if (upload_scan(c, buf, (size_t)r))
                return start_ack(c);
            break;
        case M_ECHO: {
            ssize_t w = send(c->fd, buf, (size_t)r, MSG_NOSIGNAL);
            if (w < 0 && errno != EAGAIN && errno != EWOULDBLOCK) {
                conn_close(c, 1);
                return 0;
            }
            if (w < 0)
                w = 0;
            ST->out += (uint64_t)w;
            if (w < r) {
                c->pend = realloc(c->pend, (size_t)(r - w));
                memcpy(c->pend, buf + w, (size_t)(r - w));
                c->pend_len = (size_t)(r - w);
                c->pend_off = 0;
                set_events(c, 1);
                return 1;
            }
            break;
        }
        case M_RR: {
            c->req_got += (uint32_t)r; /* requests may arrive in pieces */
            uint64_t answers = 0;
            while (c->req_got >= c->reqsize) {
                c->req_got -= c->reqsize;
                answers++;
                c->reqs_done++;
                if (c->count && c->reqs_done >= c->count) {
                    c->shut_after = 1;
                    break;
                }
            }
            if (answers) {
                c->out_left = answers * c->amount;
                int pr = push_out(c);
                if (pr < 0) {
                    conn_close(c, 0);
                    return 0;
                }
                if (pr == 1 && c->shut_after) {
                    conn_close(c, 0);
                    return 0;
                }
                if (pr == 0) {
                    set_events(c, 1);
                    return 1;
                }
            }
            break;
        }
        }
    }
    return 1;
}

static void on_write(struct conn *c)
{
    int r;
    if (c->state == M_ECHO) {
        r = push_pend(c);
        if (r < 0) {
            conn_close(c, 1);
            return;
        }
        if (r == 1) {
            set_events(c, 0);
            on_read(c);
        }
        return;
    }
    r = push_out(c);
    if (r < 0) {
        conn_close(c, 0);
        return;
    }
    if (r == 0)
        return;
    if (c->state == M_SOURCE || c->state == M_ACK || c->shut_after) {
        conn_close(c, 0);
        return;
    }
    set_events(c, 0);
    on_read(c);
}

static void do_accept(int lfd)
{
    for (int i = 0; i < 256; i++) {
        int fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) {
            if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR &&
                errno != ECONNABORTED) {
                ST->errors++;
                if (errno == EMFILE || errno == ENFILE)
                    fprintf(stderr, "mptarget: accept: %s\n", strerror(errno));
            }
            return;
        }
        int proto = 0;
        socklen_t pl = sizeof proto;
        if (getsockopt(fd, SOL_SOCKET, SO_PROTOCOL, &proto, &pl) == 0 && proto == IPPROTO_MPTCP)
            ST->mptcp++;
        else
            ST->tcp++;
        ST->accepted++;
        int one = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        struct conn *c = calloc(1, sizeof *c);
        if (!c) {
            close(fd);
            continue;
        }
        c->fd = fd;
        c->state = M_HDR;
        struct epoll_event ev = {.events = EPOLLIN, .data.ptr = c};
        if (epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &ev) != 0) {
            close(fd);
            free(c);
            ST->errors++;
            continue;
        }
        ST->active++;
        if (ST->active > ST->maxactive)
            ST->maxactive = ST->active;
    }
}

struct worker_arg {
    int lfd, idx;
};

static void worker_loop(int lfd, int idx, int sfd, double max_seconds)
{
    ST = &tst[idx];
    epfd = epoll_create1(EPOLL_CLOEXEC);
    struct epoll_event ev = {.events = EPOLLIN, .data.ptr = &lfd};
    epoll_ctl(epfd, EPOLL_CTL_ADD, lfd, &ev);
    if (sfd >= 0) {
        struct epoll_event sev = {.events = EPOLLIN, .data.ptr = &sfd};
        epoll_ctl(epfd, EPOLL_CTL_ADD, sfd, &sev);
    }
    struct epoll_event evs[512];
    for (;;) {
        if (sfd >= 0 && now_s() - t_start > max_seconds) {
            stats(stdout, "exit(max-seconds)");
            exit(0);
        }
        int n = epoll_wait(epfd, evs, 512, 1000);
        if (n < 0 && errno != EINTR) {
            perror("mptarget: epoll_wait");
            exit(1);
        }
        for (int i = 0; i < n; i++) {
            void *p = evs[i].data.ptr;
            if (p == &lfd) {
                do_accept(lfd);
                continue;
            }
            if (p == &sfd) {
                struct signalfd_siginfo si;
                while (read(sfd, &si, sizeof si) == (ssize_t)sizeof si) {
                    if (si.ssi_signo == SIGUSR1)
                        stats(stdout, "stats");
                    else if (si.ssi_signo == SIGTERM || si.ssi_signo == SIGINT) {
                        stats(stdout, "exit");
                        exit(0);
                    }
                }
                continue;
            }
            struct conn *c = p;
            uint32_t e = evs[i].events;
            if (e & EPOLLOUT) {
                on_write(c);
                continue; /* c may be gone; EPOLLIN comes again if still set */
            }
            if (e & (EPOLLIN | EPOLLHUP | EPOLLERR))
                on_read(c);
        }
    }
}

static void *worker_main(void *arg)
{
    struct worker_arg *wa = arg;
    worker_loop(wa->lfd, wa->idx, -1, 0);
    return NULL;
}

int main(int argc, char **argv)
{
    const char *addr = "127.0.0.1";
    int port = 0, use_tcp = 0;
    double max_seconds = 7200;
    long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
    nthreads = ncpu < 1 ? 1 : ncpu > 4 ? 4 : (int)ncpu;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "-a") && i + 1 < argc)
            addr = argv[++i];
        else if (!strcmp(argv[i], "-p") && i + 1 < argc)
            port = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--tcp"))
            use_tcp = 1;
        else if (!strcmp(argv[i], "--threads") && i + 1 < argc)
            nthreads = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--max-seconds") && i + 1 < argc)
            max_seconds = atof(argv[++i]);
        else {
            fprintf(stderr, "usage: mptarget [-a ADDR] [-p PORT] [--tcp] [--threads N] [--max-seconds N]\n");
            return 2;
        }
    }
    raise_nofile();
    t_start = now_s();
    for (size_t i = 0; i < BUFSZ; i++)
        srcbuf[i] = (unsigned char)('a' + i % 26);

    if (nthreads < 1 || nthreads > MAXTHREADS)
        nthreads = 1;
    int lfds[MAXTHREADS];
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    if (inet_pton(AF_INET, addr, &sa.sin_addr) != 1) {
        fprintf(stderr, "mptarget: bad address %s\n", addr);
        return 2;
    }
    /* one listener per thread on the same port (SO_REUSEPORT spreads connections) */
    for (int t = 0; t < nthreads; t++) {
        int lfd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
                         use_tcp ? IPPROTO_TCP : IPPROTO_MPTCP);
        if (lfd < 0) {
            perror("mptarget: socket");
            return 1;
        }
        int one = 1;
        setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
        setsockopt(lfd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one);
        if (bind(lfd, (struct sockaddr *)&sa, sizeof sa) != 0 || listen(lfd, 65535) != 0) {
            perror("mptarget: bind/listen");
            return 1;
        }
        socklen_t sl = sizeof sa;
        getsockname(lfd, (struct sockaddr *)&sa, &sl); /* port 0 -> the real one */
        lfds[t] = lfd;
    }

    sigset_t mask;
    sigemptyset(&mask);
    sigaddset(&mask, SIGTERM);
    sigaddset(&mask, SIGINT);
    sigaddset(&mask, SIGUSR1);
    sigaddset(&mask, SIGPIPE);
    sigprocmask(SIG_BLOCK, &mask, NULL); /* inherited by the worker threads */
    int sfd = signalfd(-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC);

    for (int t = 1; t < nthreads; t++) {
        pthread_t th;
        struct worker_arg *wa = malloc(sizeof *wa);
        wa->lfd = lfds[t];
        wa->idx = t;
        if (pthread_create(&th, NULL, worker_main, wa) != 0) {
            perror("mptarget: pthread_create");
            return 1;
        }
        pthread_detach(th);
    }

    printf("port %d threads %d\n", ntohs(sa.sin_port), nthreads);
    fflush(stdout);
    worker_loop(lfds[0], 0, sfd, max_seconds);
    return 0;
}
