/* Shared bits of the benchmark tools (bench/loadgen.c, bench/mptarget.c). */
#ifndef MPBENCH_COMMON_H
#define MPBENCH_COMMON_H

#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/resource.h>

/* glibc >= 2.32 has IPPROTO_MPTCP as an enum constant (and a macro). */
#ifndef IPPROTO_MPTCP
#define IPPROTO_MPTCP 262
#endif
#ifndef SO_PROTOCOL
#define SO_PROTOCOL 38
#endif

/* Every benchmark connection to the target starts with this header (after
 * the proxy handshake, if any). The target answers according to `mode`:
 *   'K' sink:   read until EOF, then send the byte count (u64) and close
 *   'U' upload: framed sink that needs no half-close (some proxies close
 *       both directions on the first EOF): frames of u32 length + payload;
 *       a zero-length frame ends it, answered with the payload byte count
 *       (u64), then the target closes
 *   'S' source: send `amount` bytes, then close
 *   'E' echo:   send back whatever arrives, close on EOF
 *   'R' request/response: read requests of `reqsize` bytes, answer each
 *       with `amount` bytes; close after `count` requests (0 = on EOF)   */
#define BENCH_MAGIC "MPB1"
struct bench_hdr {
    char magic[4];
    uint8_t mode;
    uint8_t pad[3];
    uint64_t amount;
    uint32_t reqsize;
    uint32_t count;
};
_Static_assert(sizeof(struct bench_hdr) == 24, "header is 24 bytes");

/* upload frames: BENCH_FRAME bytes each, u32 length prefix included */
#define BENCH_FRAME (64 * 1024)

static inline double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static inline void raise_nofile(void)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
}

static inline void self_cpu(double *user, double *sys)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    *user = (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6;
    *sys = (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
}

#endif
