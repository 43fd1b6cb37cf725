#!/usr/bin/env python3
"""mpconv benchmark runner (started by bench/run.sh; see bench/README.md).

Runs the load generator (loadgen) against the MPTCP target (mptarget), directly
and through mpconv and the installed peer proxies, on loopback, and prints one
markdown table. Measures, never asserts timing: the exit status is non-zero only
when a tool fails (loadgen, mptarget, mpconv) or, with --quick, when a row of the
direct/mpconv columns has no number. Python stdlib only.
"""
import argparse
import json
import math
import os
import platform
import random
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import time

CLK_TCK = os.sysconf("SC_CLK_TCK")
PAGE_KB = os.sysconf("SC_PAGE_SIZE") // 1024
MIB = 1 << 20

STARTED = []  # Popen objects we started (each in its own session/process group)


def log(msg):
    print(f"[bench {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


# --------------------------------------------------------------------------- /proc


def _stat_fields(pid):
    with open(f"/proc/{pid}/stat") as f:
        s = f.read()
    return s[s.rindex(")") + 2:].split()


def _all_children():
    kids = {}
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            ppid = int(_stat_fields(d)[1])
        except (OSError, ValueError, IndexError):
            continue
        kids.setdefault(ppid, []).append(int(d))
    return kids


def tree_pids(root):
    kids = _all_children()
    out, todo = [], [root]
    while todo and len(out) < 100000:
        p = todo.pop()
        out.append(p)
        todo.extend(kids.get(p, []))
    return out


def tree_cpu(root):
    """CPU seconds (user+sys, plus reaped children) of a process tree."""
    total = 0
    for p in tree_pids(root):
        try:
            f = _stat_fields(p)
        except OSError:
            continue
        total += int(f[11]) + int(f[12]) + int(f[13]) + int(f[14])
    return total / CLK_TCK


def tree_rss_kb(root):
    """Sum of VmRSS over a process tree (kB)."""
    total = 0
    for p in tree_pids(root):
        try:
            with open(f"/proc/{p}/status") as f:
                for line in f:
                    if line.startswith("VmRSS:"):
                        total += int(line.split()[1])
                        break
        except OSError:
            continue
    return total


def tree_pss_kb(root):
    """Sum of Pss (shared pages split among their users) over a process tree (kB)."""
    total = 0
    for p in tree_pids(root):
        try:
            with open(f"/proc/{p}/smaps_rollup") as f:
                for line in f:
                    if line.startswith("Pss:"):
                        total += int(line.split()[1])
                        break
        except OSError:
            continue
    return total


def busy_seconds():
    """CPU seconds all CPUs spent not idle since boot (/proc/stat)."""
    f = [int(x) for x in read("/proc/stat").split("\n", 1)[0].split()[1:]]
    return (sum(f[:8]) - f[3] - f[4]) / CLK_TCK


def tree_count(root):
    return len(tree_pids(root))


# --------------------------------------------------------------------------- processes


def spawn(cmd, out_path, stdin=subprocess.DEVNULL, env=None, text=False):
    out = open(out_path, "ab")
    p = subprocess.Popen(cmd, stdin=stdin, stdout=out, stderr=subprocess.STDOUT,
                         start_new_session=True, env=env)
    out.close()
    STARTED.append(p)
    return p


def stop(p, grace=3.0):
    if p is None or p.poll() is not None:
        return
    try:
        os.killpg(p.pid, signal.SIGTERM)
    except ProcessLookupError:
        pass
    try:
        p.wait(timeout=grace)
    except subprocess.TimeoutExpired:
        try:
            os.killpg(p.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        try:
            p.wait(timeout=5)
        except subprocess.TimeoutExpired:
            pass


def stop_all():
    for p in reversed(STARTED):
        stop(p, grace=2.0)
        # the group may outlive its leader (dante's children): sweep it too
        try:
            os.killpg(p.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass


def wait_for(pred, timeout, step=0.05):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        v = pred()
        if v:
            return v
        time.sleep(step)
    return None


def read(path):
    try:
        with open(path, errors="replace") as f:
            return f.read()
    except OSError:
        return ""


def port_open(port):
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        return False


def free_port():
    """A port below the ephemeral range (so no client socket holds it) that binds now."""
    lo = 20000
    try:
        with open("/proc/sys/net/ipv4/ip_local_port_range") as f:
            eph_lo = int(f.read().split()[0])
    except (OSError, ValueError):
        eph_lo = 32768
    hi = max(lo + 1000, min(eph_lo, 32768))
    for _ in range(200):
        port = random.randrange(lo, hi)
        s = socket.socket()
        try:
            s.bind(("127.0.0.1", port))
            return port
        except OSError:
            continue
        finally:
            s.close()
    raise RuntimeError("no free port found")


def parse_kv(line):
    d = {}
    for tok in line.split():
        if "=" in tok:
            k, v = tok.split("=", 1)
            try:
                d[k] = float(v)
            except ValueError:
                d[k] = v
    return d


# --------------------------------------------------------------------------- target


class Target:
    def __init__(self, tools, work):
        self.out = os.path.join(work, "mptarget.out")
        self.p = spawn([os.path.join(tools, "mptarget"), "--max-seconds", "7200"], self.out)
        m = wait_for(lambda: re.search(r"^port (\d+)", read(self.out), re.M), 10)
        if not m:
            raise RuntimeError("mptarget did not start: " + read(self.out)[-500:])
        self.port = int(m.group(1))

    def alive(self):
        return self.p.poll() is None

    def cpu(self):
        return tree_cpu(self.p.pid)

    def stats(self):
        n = read(self.out).count("\nstats ")
        os.kill(self.p.pid, signal.SIGUSR1)
        wait_for(lambda: read(self.out).count("\nstats ") > n, 3)
        lines = [l for l in read(self.out).splitlines() if l.startswith("stats ")]
        return parse_kv(lines[-1]) if lines else {}


# --------------------------------------------------------------------------- proxies


class Proxy:
    """A running proxy: .p (Popen), .port (for the column's protocol)."""

    def __init__(self, p, port, name):
        self.p, self.port, self.name = p, port, name

    def cpu(self):
        return tree_cpu(self.p.pid)

    def rss_kb(self):
        return tree_rss_kb(self.p.pid)

    def pss_kb(self):
        return tree_pss_kb(self.p.pid)

    def nprocs(self):
        return tree_count(self.p.pid)

    def alive(self):
        return self.p.poll() is None


def start_mpconv(col, env):
    out = os.path.join(env.work, f"{col['key']}.log")
    open(out, "w").close()
    # The target server is on loopback, which mpconv refuses unless allowed.
    # One event loop per CPU (workers = auto), as haproxy runs one thread per CPU.
    cmd = [env.mpconv, "-l", "socks5://127.0.0.1:0", "-l", "http://127.0.0.1:0",
           "-l", f"socks5://{env.user}:{env.password}@127.0.0.1:0", "-o", "acl.allow=127.0.0.0/8,::1",
           "-o", "mpconv.workers=auto"]
    p = spawn(cmd, out)
    ok = wait_for(lambda: read(out).count("listening: ") >= 3 or p.poll() is not None, 10)
    ports = [int(x) for x in re.findall(r"listening: \S+://[^ ]*?:(\d+)", read(out))]
    if p.poll() is not None or len(ports) < 3 or not ok:
        stop(p)
        raise RuntimeError("mpconv did not start: " + read(out)[-800:])
    port = {"socks5": ports[0], "http": ports[1], "socks5auth": ports[2]}[col["via"]]
    return Proxy(p, port, "mpconv")


def peer_config(name, port, env):
    """(command, config files) for a peer on 127.0.0.1:port."""
    w = env.work
    if name == "microsocks":
        return ["microsocks", "-i", "127.0.0.1", "-p", str(port)], {}
    if name == "dante":
        conf = os.path.join(w, "danted.conf")
        return ["danted", "-f", conf], {conf: f"""logoutput: {w}/danted.log
internal: 127.0.0.1 port = {port}
external: 127.0.0.1
clientmethod: none
socksmethod: none
user.privileged: root
user.unprivileged: nobody
client pass {{ from: 127.0.0.0/8 to: 0.0.0.0/0 }}
socks pass {{ from: 127.0.0.0/8 to: 0.0.0.0/0 command: connect }}
"""}
    if name == "tinyproxy":
        conf = os.path.join(w, "tinyproxy.conf")
        return ["tinyproxy", "-d", "-c", conf], {conf: f"""Port {port}
Listen 127.0.0.1
Timeout 600
MaxClients {env.idle_big + 1000}
Allow 127.0.0.0/8
LogLevel Warning
LogFile "{w}/tinyproxy.log"
PidFile "{w}/tinyproxy.pid"
DisableViaHeader Yes
"""}
    if name == "haproxy":
        conf = os.path.join(w, "haproxy.cfg")
        # maxconn: the fd hard limit must hold 2 fds per connection plus a few
        maxconn = min(env.idle_big + 200, max(100, (env.nofile - 200) // 2))
        return ["haproxy", "-db", "-f", conf], {conf: f"""global
  maxconn {maxconn}
defaults
  mode tcp
  timeout connect 10s
  timeout client 600s
  timeout server 600s
frontend bench
  bind 127.0.0.1:{port}
  default_backend target
backend target
  server t 127.0.0.1:{env.target.port}
"""}
    raise ValueError(name)


def start_peer(col, env):
    name = col["key"]
    last = ""
    for _attempt in range(3):
        port = free_port()
        cmd, files = peer_config(name, port, env)
        for path, text in files.items():
            with open(path, "w") as f:
                f.write(text)
        out = os.path.join(env.work, f"{name}.out")
        with open(out, "a") as f:
            f.write(f"--- start {' '.join(cmd)}\n")
        p = spawn(["mptcpize", "run"] + cmd, out)
        ok = wait_for(lambda: p.poll() is not None or port_open(port), 10)
        if ok and p.poll() is None:
            return Proxy(p, port, name)
        last = read(out)[-600:]
        stop(p)
    raise RuntimeError(f"{name} did not start: {last}")


# --------------------------------------------------------------------------- loadgen


def loadgen(env, col, proxy, args, timeout):
    cmd = [os.path.join(env.tools, "loadgen"), "--via", col["via"],
           "--target", f"127.0.0.1:{env.target.port}"]
    if proxy:
        cmd += ["--proxy", f"127.0.0.1:{proxy.port}"]
    if col["via"] == "socks5auth":
        cmd += ["--user", env.user, "--pass", env.password]
    cmd += args
    try:
        r = subprocess.run(cmd, stdin=subprocess.DEVNULL, capture_output=True, text=True,
                           timeout=timeout, start_new_session=True)
    except subprocess.TimeoutExpired:
        return None, f"loadgen timed out after {timeout}s"
    res = [l for l in r.stdout.splitlines() if l.startswith("result ")]
    d = parse_kv(res[-1]) if res else None
    err = r.stderr.strip().splitlines()
    if r.returncode != 0 or d is None:
        return d, f"loadgen exit {r.returncode}: {' | '.join(err[:3])}"
    return d, None


class Failure(Exception):
    pass


def account(env, label, secs, lg_cpu, tg_cpu, p_cpu, wall, busy0):
    """Tools' CPU, and what every other process on the machine used meanwhile."""
    env.tool_cpu.append((label.split(":")[1], secs, lg_cpu, tg_cpu, wall, label))
    other = busy_seconds() - busy0 - lg_cpu - tg_cpu - (p_cpu or 0.0)
    if wall > 0.5:
        env.background.append(max(0.0, other / wall))


def run_tput(env, col, proxy, direction, streams, nbytes):
    t_cpu0 = env.target.cpu()
    p_cpu0 = proxy.cpu() if proxy else 0.0
    busy0 = busy_seconds()
    t0 = time.monotonic()
    d, err = loadgen(env, col, proxy, ["--test", "tput", "--dir", direction, "--streams",
                                        str(streams), "--bytes", str(nbytes),
                                        "--time", str(env.tput_time)],
                     timeout=env.tput_time + 90)
    wall = time.monotonic() - t0
    if err:
        raise Failure(f"tput {direction} x{streams}: {err}")
    p_cpu = (proxy.cpu() - p_cpu0) if proxy else None
    account(env, f"{col['key']}:tput:{direction}{streams}", d["secs"],
            d["cpu_user"] + d["cpu_sys"], env.target.cpu() - t_cpu0, p_cpu, wall, busy0)
    return {"gbps": d["gbps"], "bytes": d["bytes"], "proxy_cpu": p_cpu}


def run_cps(env, col, proxy):
    t_cpu0 = env.target.cpu()
    p_cpu0 = proxy.cpu() if proxy else 0.0
    busy0 = busy_seconds()
    t0 = time.monotonic()
    d, err = loadgen(env, col, proxy, ["--test", "cps", "--conc", str(env.cps_conc), "--time",
                                        str(env.cps_time), "--max-conns", str(env.cps_max)],
                     timeout=env.cps_time + 60)
    wall = time.monotonic() - t0
    if err:
        raise Failure(f"cps: {err}")
    p_cpu = (proxy.cpu() - p_cpu0) if proxy else None
    account(env, f"{col['key']}:cps", d["secs"], d["cpu_user"] + d["cpu_sys"],
            env.target.cpu() - t_cpu0, p_cpu, wall, busy0)
    return {"cps": d["cps"], "p50_ms": d["p50_us"] / 1000, "p99_ms": d["p99_us"] / 1000,
            "cpu_us_per_conn": (p_cpu / d["done"] * 1e6) if (p_cpu is not None and d["done"]) else None}


def run_idle(env, col, proxy, steps):
    """Opens steps[0], then steps[1], ... idle proxied connections; returns
    {n: (rss_kb, established)}. The proxy's RSS is sampled while they are held."""
    cmd = [os.path.join(env.tools, "loadgen"), "--via", col["via"],
           "--target", f"127.0.0.1:{env.target.port}", "--proxy", f"127.0.0.1:{proxy.port}",
           "--test", "idle", "--steps", ",".join(map(str, steps)), "--open-conc", "128",
           "--hold", str(60 + 30 * len(steps)), "--conn-timeout", "20",
           "--src-ips", ",".join(f"127.0.0.{i}" for i in range(2, 10))]
    if col["via"] == "socks5auth":
        cmd += ["--user", env.user, "--pass", env.password]
    out = os.path.join(env.work, "idle.out")
    open(out, "w").close()
    lg = spawn(cmd, out, stdin=subprocess.PIPE)
    res = {}
    try:
        for i, n in enumerate(steps):
            m = wait_for(lambda: re.search(rf"^ready {n} established=(\d+) failed=(\d+)",
                                           read(out), re.M) or lg.poll() is not None, 60 + n / 100)
            m = re.search(rf"^ready {n} established=(\d+) failed=(\d+)", read(out), re.M)
            if not m:
                raise Failure(f"idle {n}: loadgen did not get there: {read(out)[-400:]}")
            est, failed = int(m.group(1)), int(m.group(2))
            time.sleep(env.settle)  # let the proxy finish any lazy work
            res[n] = (proxy.rss_kb(), est, failed, proxy.pss_kb(), proxy.nprocs())
            if i + 1 < len(steps):
                lg.stdin.write(b"next\n")
                lg.stdin.flush()
        lg.stdin.close()
        lg.wait(timeout=30)
    finally:
        stop(lg)
    return res


# --------------------------------------------------------------------------- table

ROWS = [
    # key, title, unit/format, ratio base ("direct" or "mpconv" or None)
    ("down1", "throughput down, 1 stream (Gbit/s)", "{:.2f}", "direct"),
    ("up1", "throughput up, 1 stream (Gbit/s)", "{:.2f}", "direct"),
    ("down8", "throughput down, 8 streams (Gbit/s)", "{:.2f}", "direct"),
    ("up8", "throughput up, 8 streams (Gbit/s)", "{:.2f}", "direct"),
    ("cpu_per_gb", "proxy CPU per GB moved (s/GB)", "{:.2f}", "mpconv"),
    ("cps", "connections/s, 64 concurrent", "{:.0f}", "direct"),
    ("p50_ms", "connect+first byte p50 (ms)", "{:.2f}", "direct"),
    ("p99_ms", "connect+first byte p99 (ms)", "{:.2f}", "direct"),
    ("cpu_us_per_conn", "proxy CPU per connection (µs)", "{:.0f}", "mpconv"),
    ("rss0", "proxy RSS at startup (MiB)", "{:.1f}", "mpconv"),
    ("rss_small", "proxy RSS, {small} idle conns (MiB)", "{:.1f}", "mpconv"),
    ("bpc_small", "bytes/conn at {small} ((RSS_n-RSS_0)/n)", "{:.0f}", "mpconv"),
    ("rss_big", "proxy RSS, {big} idle conns (MiB)", "{:.1f}", "mpconv"),
    ("bpc_big", "bytes/conn at {big}", "{:.0f}", "mpconv"),
    ("mptcp_share", "upstream connections that were MPTCP (%)", "{:.0f}", None),
]


def median(vals):
    vals = [v for v in vals if v is not None and not (isinstance(v, float) and math.isnan(v))]
    return statistics.median(vals) if vals else None


def fmt_cell(v, fmt, base):
    if v is None:
        return None
    s = fmt.format(v)
    if base not in (None, 0):
        s += f" ({v / base:.2f}×)"
    return s


def render(env, cols, results, notes):
    small, big = env.idle_small, env.idle_big
    head = ["metric (median of %d run%s)" % (env.runs, "s" if env.runs > 1 else "")]
    for c in cols:
        t = c["title"]
        if c.get("missing"):
            t += " (not installed)"
        head.append(t)
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for key, title, fmt, basekey in ROWS:
        title = title.format(small=small, big=big)
        base = None
        if basekey:
            bcol = "direct" if basekey == "direct" else "mpconv"
            base = median(results.get(bcol, {}).get(key, []))
        row = [title + (" ×: vs mpconv" if basekey == "mpconv" else "")]
        for c in cols:
            k = c["key"]
            if c.get("missing"):
                row.append("not installed")
                continue
            if key not in c["rows"]:
                row.append("—")
                continue
            vals = results.get(k, {}).get(key, [])
            if results.get(k, {}).get("_failed_" + key):
                row.append("fail")
                continue
            cell = fmt_cell(median(vals), fmt, base)
            row.append(cell if cell is not None else "n/a")
        lines.append("| " + " | ".join(row) + " |")
    return "\n".join(lines)


# --------------------------------------------------------------------------- main

COLUMNS = [
    # key, title, kind, via, rows
    dict(key="direct", title="direct MPTCP", kind="direct", via="direct",
         rows={"down1", "up1", "down8", "up8", "cps", "p50_ms", "p99_ms", "mptcp_share"}),
    dict(key="mpconv", title="mpconv socks5", kind="mpconv", via="socks5", rows="all"),
    dict(key="mpconv_auth", title="mpconv socks5+auth", kind="mpconv", via="socks5auth",
         rows={"cps", "p50_ms", "p99_ms", "cpu_us_per_conn", "mptcp_share"}),
    dict(key="mpconv_http", title="mpconv http CONNECT", kind="mpconv", via="http", rows="all"),
    dict(key="microsocks", title="microsocks†", kind="peer", via="socks5", bin="microsocks",
         rows="all"),
    dict(key="dante", title="dante†", kind="peer", via="socks5", bin="danted", rows="all"),
    dict(key="tinyproxy", title="tinyproxy† (CONNECT)", kind="peer", via="http",
         bin="tinyproxy", rows="all"),
    dict(key="haproxy", title="haproxy† (static fwd‡)", kind="peer", via="plain",
         bin="haproxy", rows="all"),
]
ALL_ROWS = {r[0] for r in ROWS}


class Env:
    pass


def column_run(env, col, res, errors):
    """One run of every test for one column, with a fresh proxy."""
    key = col["key"]
    rows = col["rows"]
    rec = res.setdefault(key, {})

    def put(k, v):
        rec.setdefault(k, []).append(v)

    def fail(k, msg):
        rec["_failed_" + k] = True
        errors.append(f"{col['title']}: {msg}")
        log(f"  FAIL {col['title']}: {msg}")

    proxy = None
    st0 = env.target.stats()
    try:
        if col["kind"] == "mpconv":
            proxy = start_mpconv(col, env)
        elif col["kind"] == "peer":
            proxy = start_peer(col, env)
    except Exception as e:  # noqa: BLE001 - report it in the table and go on
        for k in rows:
            rec["_failed_" + k] = True
        fail("start", str(e)[:300])
        return
    try:
        if proxy:
            time.sleep(env.settle)
            rss0, pss0 = proxy.rss_kb(), proxy.pss_kb()
            if "rss0" in rows:
                put("rss0", rss0 / 1024)
            if "rss_small" in rows:
                try:
                    idle = run_idle(env, col, proxy, [env.idle_small, env.idle_big])
                    for n, rk, bk in ((env.idle_small, "rss_small", "bpc_small"),
                                      (env.idle_big, "rss_big", "bpc_big")):
                        rss, est, failed, pss, nprocs = idle[n]
                        put(rk, rss / 1024)
                        if nprocs > 1 and n == env.idle_big and est > 0:
                            rec.setdefault("_pss", []).append(
                                (pss0 / 1024, (pss - pss0) * 1024 / est, nprocs))
                        if est > 0:
                            put(bk, (rss - rss0) * 1024 / est)
                        if failed or est < n:
                            env.notes.add(f"{col['title']}: {failed} of {n} idle connections "
                                          f"failed (held {est}); bytes/conn uses {est}")
                except Failure as e:
                    for k in ("rss_small", "bpc_small", "rss_big", "bpc_big"):
                        rec["_failed_" + k] = True
                    fail("rss_small", str(e)[:300])
                if not proxy.alive():
                    raise Failure("proxy died during the idle test: " + tail_log(env, col))
                # let the proxy notice the resets before the next test
                wait_for(lambda: env.target.stats().get("active", 1) == 0, 15, 0.2)
        cpu_sum, bytes_sum = 0.0, 0
        for k, direction, streams, nbytes in (
                ("down1", "down", 1, env.bytes1), ("up1", "up", 1, env.bytes1),
                ("down8", "down", 8, env.bytes8), ("up8", "up", 8, env.bytes8)):
            if k not in rows:
                continue
            try:
                r = run_tput(env, col, proxy, direction, streams, nbytes)
                put(k, r["gbps"])
                if r["proxy_cpu"] is not None:
                    cpu_sum += r["proxy_cpu"]
                    bytes_sum += r["bytes"]
            except Failure as e:
                fail(k, str(e)[:300])
            if proxy and not proxy.alive():
                raise Failure("proxy died: " + tail_log(env, col))
        if "cpu_per_gb" in rows and proxy and bytes_sum:
            put("cpu_per_gb", cpu_sum / (bytes_sum / 1e9))
        if "cps" in rows:
            try:
                r = run_cps(env, col, proxy)
                put("cps", r["cps"])
                put("p50_ms", r["p50_ms"])
                put("p99_ms", r["p99_ms"])
                if "cpu_us_per_conn" in rows and r["cpu_us_per_conn"] is not None:
                    put("cpu_us_per_conn", r["cpu_us_per_conn"])
            except Failure as e:
                for k in ("p50_ms", "p99_ms", "cpu_us_per_conn"):
                    rec["_failed_" + k] = True
                fail("cps", str(e)[:300])
        st1 = env.target.stats()
        acc = st1.get("accepted", 0) - st0.get("accepted", 0)
        mp = st1.get("mptcp", 0) - st0.get("mptcp", 0)
        if "mptcp_share" in rows and acc > 0:
            put("mptcp_share", 100.0 * mp / acc)
    except Failure as e:
        fail("proxy", str(e)[:300])
    finally:
        if proxy:
            stop(proxy.p)
            try:  # dante's children
                os.killpg(proxy.p.pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
        if not env.target.alive():
            raise SystemExit("mptarget died: " + read(env.target.out)[-500:])


def tail_log(env, col):
    path = os.path.join(env.work, f"{col['key']}.log" if col["kind"] == "mpconv" else f"{col['key']}.out")
    return read(path)[-300:].replace("\n", " | ")


def sysinfo(env):
    cpu = "?"
    for line in read("/proc/cpuinfo").splitlines():
        if line.startswith("model name"):
            cpu = line.split(":", 1)[1].strip()
            break
    mem = read("/proc/meminfo").splitlines()[0].split()[1]

    def sysctl(name):
        return read("/proc/sys/" + name.replace(".", "/")).strip()
    try:
        ver = subprocess.run([env.mpconv, "-V"], capture_output=True, text=True,
                             timeout=5).stdout.strip() or "?"
    except (OSError, subprocess.TimeoutExpired):
        ver = "?"
    return (f"kernel {platform.release()}; CPU {cpu} × {os.cpu_count()} cores; "
            f"{int(mem) // 1024 // 1024} GiB RAM; net.mptcp.enabled={sysctl('net.mptcp.enabled')}, "
            f"tcp_congestion_control={sysctl('net.ipv4.tcp_congestion_control')}; "
            f"open-file limit {env.nofile}; mpconv: {ver}")


def tool_cpu_line(env):
    parts = []
    for kind, label in (("tput", "throughput tests"), ("cps", "connection-rate tests")):
        rows = [t for t in env.tool_cpu if t[0] == kind and t[1] > 0]
        if not rows:
            continue
        lg = [(t[2] / t[1] * 100, t[5]) for t in rows]
        tg = [(t[3] / t[1] * 100, t[5]) for t in rows]
        lmax, tmax = max(lg), max(tg)
        parts.append(f"{label}: loadgen median {statistics.median(v for v, _ in lg):.0f}% of one "
                     f"core, max {lmax[0]:.0f}% ({lmax[1]}); mptarget median "
                     f"{statistics.median(v for v, _ in tg):.0f}%, max {tmax[0]:.0f}% ({tmax[1]})")
    tot_l = sum(t[2] for t in env.tool_cpu)
    tot_t = sum(t[3] for t in env.tool_cpu)
    tot_w = sum(t[4] for t in env.tool_cpu)
    parts.append(f"total {tot_l:.1f} s loadgen + {tot_t:.1f} s mptarget CPU over "
                 f"{tot_w:.0f} s of tests (loadgen: one thread; mptarget: one thread per CPU; "
                 f"both include the kernel work charged to them)")
    return "Tools' CPU use — " + "; ".join(parts)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--work", required=True)
    ap.add_argument("--tools", required=True)
    ap.add_argument("--mpconv", required=True)
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--runs", type=int)
    ap.add_argument("--only", help="comma-separated column keys")
    ap.add_argument("--out")
    a = ap.parse_args()

    env = Env()
    env.work, env.tools, env.mpconv = a.work, a.tools, a.mpconv
    env.user, env.password = "bench", "bench-pass"
    env.tool_cpu = []
    env.background = []
    env.notes = set()
    import resource
    env.nofile = resource.getrlimit(resource.RLIMIT_NOFILE)[0]
    # ~10,000 idle connections, as many as two fds per connection allow
    fit = max(100, (env.nofile - 300) // 2 // 500 * 500)
    if a.quick:
        env.runs = a.runs or 1
        env.bytes1, env.bytes8, env.tput_time = 32 * MIB, 64 * MIB, 2
        env.cps_time, env.cps_conc, env.cps_max = 1, 64, 20000
        env.idle_small, env.idle_big = 50, min(200, fit)
        env.settle = 0.2
    else:
        env.runs = a.runs or 3
        env.bytes1, env.bytes8, env.tput_time = 2048 * MIB, 4096 * MIB, 8
        env.cps_time, env.cps_conc, env.cps_max = 5, 64, 1000000
        env.idle_small, env.idle_big = 1000, min(10000, fit)
        env.settle = 0.5
    if env.idle_big < 10000 and not a.quick:
        env.notes.add(f"idle test holds {env.idle_big} connections, not 10,000: the open-file "
                      f"hard limit is {env.nofile} (2 fds per proxied connection) and could "
                      f"not be raised here")

    cols = []
    only = set(a.only.split(",")) if a.only else None
    for c in COLUMNS:
        c = dict(c)
        if c["rows"] == "all":
            c["rows"] = set(ALL_ROWS)
        if only and c["key"] not in only:
            continue
        if c["kind"] == "peer" and (not shutil.which(c["bin"]) or not shutil.which("mptcpize")):
            c["missing"] = True
        cols.append(c)
    missing = [c["title"].rstrip("†") for c in cols if c.get("missing")]

    info = sysinfo(env)
    load0 = read("/proc/loadavg").split()[:3]
    log(info)
    env.target = Target(env.tools, env.work)
    log(f"mptarget on 127.0.0.1:{env.target.port}; {env.runs} run(s); columns: "
        + ", ".join(c["key"] for c in cols if not c.get("missing")))
    results, errors = {}, []
    t_begin = time.monotonic()
    for run in range(env.runs):
        for col in cols:
            if col.get("missing"):
                continue
            log(f"run {run + 1}/{env.runs}: {col['title']}")
            column_run(env, col, results, errors)
    elapsed = time.monotonic() - t_begin
    tstats = env.target.stats()
    load1 = read("/proc/loadavg").split()[:3]

    out = []
    out.append(render(env, cols, results, env.notes))
    out.append("")
    out.append("Cells: median (ratio). Throughput/connection-rate/latency ratios are to the "
               "direct-MPTCP column of the same run; rows marked \"×: vs mpconv\" only exist "
               "for proxies and are relative to mpconv socks5. \"—\" = not measured for that "
               "column, \"fail\" = the tool or proxy failed (see below).")
    out.append("† run under `mptcpize run` so its upstream sockets are MPTCP (its listener "
               "too; clients are plain TCP). ‡ haproxy is a static TCP forward to the target, "
               "no proxy handshake: compare it on the throughput rows; its connection-rate and "
               "idle rows measure a simpler job. Multi-process peers (dante): RSS is the sum "
               "of VmRSS over its processes (shared pages counted in each).")
    if missing:
        out.append("Skipped, not installed: " + ", ".join(missing) +
                   " (bench/run.sh --install-peers installs them).")
    out.append("")
    out.append(tool_cpu_line(env))
    out.append(f"Target over the whole run: accepted {int(tstats.get('accepted', 0))} "
               f"connections, {int(tstats.get('mptcp', 0))} MPTCP, "
               f"{int(tstats.get('tcp', 0))} TCP; CPU {tstats.get('cpu_user', 0) + tstats.get('cpu_sys', 0):.1f} s.")
    out.append(f"Machine: {info}")
    out.append(f"Load average before/after: {' '.join(load0)} / {' '.join(load1)}; "
               f"benchmark took {elapsed:.0f} s.")
    if env.background:
        bg = sorted(env.background)
        out.append(f"Background: during the tests, processes other than the proxy and the tools "
                   f"kept a median {statistics.median(bg):.2f} (max {bg[-1]:.2f}) of the "
                   f"{os.cpu_count()} CPUs busy (from /proc/stat).")
    for c in cols:
        ps = results.get(c["key"], {}).get("_pss")
        if ps:
            out.append(f"{c['title']} runs as {median([p[2] for p in ps]):.0f} processes with "
                       f"{env.idle_big} idle connections; counting shared pages once (sum of Pss): "
                       f"{median([p[0] for p in ps]):.1f} MiB at startup, "
                       f"{median([p[1] for p in ps]):.0f} bytes/conn at {env.idle_big}.")
    for n in sorted(env.notes):
        out.append(f"Note: {n}")
    for e in errors:
        out.append(f"Error: {e}")
    report = "\n".join(out)
    with open(os.path.join(env.work, "raw.json"), "w") as f:
        json.dump({"results": results, "tool_cpu": env.tool_cpu, "background": env.background,
                   "errors": errors}, f, indent=1)
    print(report, flush=True)
    if a.out:
        with open(a.out, "w") as f:
            f.write(report + "\n")

    # exit status: tool failures (not peer failures); --quick: every row has a number
    bad = [e for e in errors if not any(e.startswith(c["title"]) for c in cols if c["kind"] == "peer")]
    if a.quick:
        for c in cols:
            if c["kind"] == "peer":
                continue
            for k in c["rows"]:
                if median(results.get(c["key"], {}).get(k, [])) is None:
                    bad.append(f"{c['key']}: no number for {k}")
    if bad:
        print("bench: FAILED: " + "; ".join(bad), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    def _term(signum, _frame):
        raise SystemExit(128 + signum)
    signal.signal(signal.SIGTERM, _term)
    signal.signal(signal.SIGHUP, _term)
    try:
        rc = main()
    except KeyboardInterrupt:
        rc = 130
    finally:
        stop_all()
    sys.exit(rc)
