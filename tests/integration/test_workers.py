"""workers = N: one event loop per thread, listeners shared with SO_REUSEPORT.

Several workers serve the same (ephemeral) port, connections spread over the
threads, every transfer stays intact, and SIGTERM drains all loops."""

import concurrent.futures
import os
import re
import shutil
import tempfile

from mpconvtest import (MiB, Daemon, Lazy, Origin, Suite, check, check_eq, curl_ok,
                        payload_sha, sha256_file, wait_until)

S = Suite("workers")
ctx = {}
N = 16 * MiB
STREAMS = 12


@Lazy
def setup():
    ctx["tmp"] = tempfile.mkdtemp(prefix="mpc-it-")
    ctx["http"] = Origin("http")
    return ctx


@S.cleanup
def _cleanup():
    if "http" in ctx:
        ctx["http"].close()
    if "tmp" in ctx:
        shutil.rmtree(ctx["tmp"], ignore_errors=True)


def thread_cpu_ticks(pid):
    """utime+stime of each thread of pid (main thread included)."""
    ticks = {}
    for tid in os.listdir(f"/proc/{pid}/task"):
        with open(f"/proc/{pid}/task/{tid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        ticks[int(tid)] = int(fields[11]) + int(fields[12])
    return ticks


def thread_count(d):
    return len(os.listdir(f"/proc/{d.proc.pid}/task"))


def download(d, i):
    out = os.path.join(ctx["tmp"], f"out{i}.bin")
    curl_ok(["--socks5", d.listener("socks5").hostport, "-o", out,
             f"http://127.0.0.1:{ctx['http'].port}/bytes/{N}"])
    return sha256_file(out)


@S.case
def four_workers_share_one_port_and_the_load():
    c = setup()
    d = Daemon([], config="[mpconv]\nworkers = 4\nlisten = socks5://127.0.0.1:0\n"
                          "listen = http://127.0.0.1:0\n")
    listening = [l for l in d.log() if "listening:" in l]
    check_eq(len(listening), 2, "one 'listening:' line per listener, not per worker")
    d.wait_line(lambda l: "4 workers" in l, what="'4 workers' in the log")
    wait_until(lambda: thread_count(d) == 5, 10, "5 threads: the control loop and 4 workers")
    before = thread_cpu_ticks(d.proc.pid)
    with concurrent.futures.ThreadPoolExecutor(STREAMS) as pool:
        shas = list(pool.map(lambda i: download(d, i), range(STREAMS)))
    check_eq(shas, [payload_sha(N)] * STREAMS, "sha256 of every download")
    after = thread_cpu_ticks(d.proc.pid)
    busy = [t for t in after if after[t] - before.get(t, 0) > 0 and t != d.proc.pid]
    print(f"     {STREAMS} x {N // MiB} MiB through 4 workers: "
          f"{len(busy)} worker threads used CPU", flush=True)
    check(len(busy) >= 2, f"connections spread over the workers: only {len(busy)} thread(s) busy")
    sessions = d.wait_session(n=STREAMS, timeout=20)
    check_eq(len({s['id'] for s in sessions}), STREAMS, "session ids unique across workers")
    check_eq(d.stop(), 0, "exit status after SIGTERM")


@S.case
def auto_starts_one_worker_per_cpu():
    setup()
    d = Daemon([], config="[mpconv]\nworkers = auto\nlisten = socks5://127.0.0.1:0\n")
    cpus = len(os.sched_getaffinity(0))
    wait_until(lambda: thread_count(d) == cpus + 1, 10,
               f"{cpus + 1} threads with workers = auto on {cpus} CPU(s)")
    sha = download(d, 100)
    check_eq(sha, payload_sha(N), "sha256 through an auto-sized daemon")
    check_eq(d.stop(), 0, "exit status")


@S.case
def sigterm_drains_every_worker():
    c = setup()
    d = Daemon([], config="[mpconv]\nworkers = 3\nlisten = socks5://127.0.0.1:0\n")
    hostport = d.listener("socks5").hostport
    with concurrent.futures.ThreadPoolExecutor(6) as pool:
        outs = [os.path.join(c["tmp"], f"slow{i}.bin") for i in range(6)]
        futs = [pool.submit(curl_ok, ["--limit-rate", "8M", "--socks5", hostport, "-o", outs[i],
                                      f"http://127.0.0.1:{c['http'].port}/bytes/{N}"])
                for i in range(6)]
        wait_until(lambda: sum(os.path.exists(o) and os.path.getsize(o) > 0 for o in outs) == 6,
                   20, "all six transfers under way")
        d.proc.terminate()
        for f in futs:
            f.result()
    for o in outs:
        check_eq(sha256_file(o), payload_sha(N), f"sha256 of {os.path.basename(o)} after SIGTERM")
    check_eq(d.proc.wait(20), 0, "exit status once the transfers finished")
    check(any(re.search(r"all sessions finished", l) for l in d.log()), "drain completed")


if __name__ == "__main__":
    S.main()
