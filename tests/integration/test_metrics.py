"""The metrics endpoint (--metrics / [mpconv] metrics): /metrics and /status.

A daemon with workers = 2 serves a known mix of sessions from many threads at
once; afterwards every counter must be exact: per listener and in total,
bytes, MPTCP outcomes, subflow distributions, end reasons and histogram
counts, cross-checked against the session end lines. Every line of /metrics
goes through a strict checker of the Prometheus text format; /status must be
JSON with the same numbers. The HTTP server answers 404/405/400/431, and
survives garbage and slow clients."""

import concurrent.futures
import json
import os
import random
import re
import signal
import socket
import subprocess

from mpconvtest import (IPPROTO_MPTCP, Daemon, Lazy, Origin, Reader, Skip, Suite, basic_auth,
                        check, check_eq, closed_port, connect, echo_roundtrip, http_connect,
                        http_read_response, metrics_address, mpconv_bin, mptcp_available, payload,
                        recv_exact, recv_to_eof, socks5_addr, socks5_reply)

S = Suite("metrics")
ctx = {}

USER, PASSWORD = "alice", "t0ps3cret"

N_MPTCP, N_MPTCP_CLIENTS, N_FALLBACK, N_REFUSED = 200, 40, 50, 30
N_CONNECT, N_FORWARD, N_AUTH_FAILED = 20, 5, 3


@Lazy
def setup():
    if not mptcp_available():
        raise Skip("no MPTCP in this kernel (the origins need it)")
    ctx["mp_echo"] = Origin("echo")
    ctx["tcp_echo"] = Origin("echo", tcp_only=True)
    ctx["mp_http"] = Origin("http")
    ctx["closed"] = closed_port()
    return ctx


@S.cleanup
def _cleanup():
    for k in ("mp_echo", "tcp_echo", "mp_http"):
        if k in ctx:
            ctx[k].close()
    if "closed" in ctx:
        ctx["closed"][0].close()


def start(listeners, extra=""):
    """A daemon with these listen URLs and the metrics endpoint on port 0;
    returns (daemon, (host, port) of the endpoint)."""
    conf = "[mpconv]\nmetrics = 127.0.0.1:0\n" + extra + "".join(f"listen = {u}\n" for u in listeners)
    d = Daemon([], config=conf)
    return d, metrics_address(d)


def http_get(addr, path, method="GET"):
    """One request; returns the HttpResponse. The server must close after it."""
    s = connect(addr)
    try:
        s.sendall(f"{method} {path} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
        rd = Reader(s)
        resp = http_read_response(rd, method)
        check_eq((resp.header("connection") or "").lower(), "close", f"Connection header of {path}")
        check_eq(recv_to_eof(s) if not rd.buf else bytes(rd.buf), b"", f"bytes after the answer to {path}")
        return resp
    finally:
        s.close()


# --------------------------------------------------------------------------
# A strict reader of the Prometheus text exposition format (version 0.0.4)
# --------------------------------------------------------------------------

NAME = r"[a-zA-Z_:][a-zA-Z0-9_:]*"
LABEL = r"[a-zA-Z_][a-zA-Z0-9_]*"
VALUE_RE = re.compile(r"^(?:[+-]?(?:\d+(?:\.\d+)?(?:[eE][+-]?\d+)?)|[+-]Inf|NaN)$")


def parse_labels(text, where):
    """'a="x",b="y\\"z"' -> [("a", "x"), ("b", 'y"z')]; strict escapes."""
    out, i = [], 0
    while i < len(text):
        m = re.match(LABEL + "=\"", text[i:])
        check(m, f"{where}: bad label at {text[i:]!r}")
        name = m.group(0)[:-2]
        i += len(m.group(0))
        value = []
        while True:
            check(i < len(text), f"{where}: unterminated label value")
            c = text[i]
            if c == "\\":
                esc = text[i + 1: i + 2]
                check(esc in ("\\", "\"", "n"), f"{where}: bad escape \\{esc}")
                value.append({"\\": "\\", "\"": "\"", "n": "\n"}[esc])
                i += 2
            elif c == "\"":
                i += 1
                break
            else:
                check(c != "\n", f"{where}: raw newline in a label value")
                value.append(c)
                i += 1
        out.append((name, "".join(value)))
        if i < len(text):
            check(text[i] == ",", f"{where}: expected ',' at {text[i:]!r}")
            i += 1
            check(i < len(text), f"{where}: trailing comma")
    names = [n for n, _ in out]
    check(len(names) == len(set(names)), f"{where}: repeated label name")
    return out


def parse_exposition(text):
    """Checks every line; returns {family: {"type", "help", "samples": [(name, labels dict, float)]}}."""
    check(text.endswith("\n"), "the exposition does not end with a newline")
    families, current, seen = {}, None, set()
    for no, line in enumerate(text[:-1].split("\n"), 1):
        where = f"line {no} {line!r}"
        check(line.strip() == line and line, f"{where}: empty or padded line")
        if line.startswith("#"):
            m = re.fullmatch(r"# (HELP|TYPE) (" + NAME + r") (.+)", line)
            check(m, f"{where}: only '# HELP name text' and '# TYPE name type' comments")
            kind, name, rest = m.groups()
            fam = families.setdefault(name, {"type": None, "help": None, "samples": []})
            check(not fam["samples"], f"{where}: {kind} after the family's samples")
            if kind == "HELP":
                check(fam["help"] is None and fam["type"] is None, f"{where}: HELP must come first, once")
                check("\\" not in rest.replace("\\\\", "").replace("\\n", ""), f"{where}: bad escape in HELP")
                fam["help"] = rest
            else:
                check(fam["type"] is None, f"{where}: second TYPE")
                check(rest in ("counter", "gauge", "histogram", "summary", "untyped"), f"{where}: type")
                fam["type"] = rest
            check(name not in seen or name == current, f"{where}: family {name} split up")
            current = name
            seen.add(name)
            continue
        m = re.fullmatch(r"(" + NAME + r")(?:\{(.*)\})? (\S+)", line)
        check(m, f"{where}: not 'name{{labels}} value'")
        name, labels_text, value = m.groups()
        check(VALUE_RE.match(value), f"{where}: bad value")
        fam_name = current
        fam = families.get(fam_name)
        check(fam and fam["type"] and fam["help"], f"{where}: sample without HELP and TYPE")
        allowed = {fam_name} if fam["type"] != "histogram" else \
            {fam_name + "_bucket", fam_name + "_sum", fam_name + "_count"}
        check(name in allowed, f"{where}: sample name not of family {fam_name}")
        labels = dict(parse_labels(labels_text, where)) if labels_text else {}
        if name.endswith("_bucket"):
            check("le" in labels, f"{where}: bucket without le")
        series = (name, tuple(sorted(labels.items())))
        check(series not in fam.get("series", set()), f"{where}: duplicate series")
        fam.setdefault("series", set()).add(series)
        fam["samples"].append((name, labels, float(value)))
    for name, fam in families.items():
        check(fam["samples"], f"family {name} without samples")
        if fam["type"] == "counter":
            check(name.endswith("_total"), f"counter {name} does not end in _total")
        if fam["type"] == "histogram":
            check_histogram(name, fam["samples"])
        fam.pop("series", None)
    return families


def check_histogram(name, samples):
    buckets = [(s[1]["le"], s[2]) for s in samples if s[0] == name + "_bucket"]
    count = [s[2] for s in samples if s[0] == name + "_count"]
    total = [s[2] for s in samples if s[0] == name + "_sum"]
    check(len(count) == 1 and len(total) == 1, f"{name}: one _count and one _sum")
    check(buckets and buckets[-1][0] == "+Inf", f"{name}: last bucket is not +Inf")
    bounds = [float(le) for le, _ in buckets]
    check(bounds == sorted(bounds) and len(set(bounds)) == len(bounds), f"{name}: le not increasing")
    check(bounds[0] == 0.001 and bounds[-2] == 10, f"{name}: buckets from 1 ms to 10 s: {bounds}")
    values = [v for _, v in buckets]
    check(values == sorted(values), f"{name}: buckets not cumulative: {values}")
    check_eq(values[-1], count[0], f"{name}: +Inf bucket == _count")
    check(total[0] >= 0 and (count[0] > 0 or total[0] == 0), f"{name}: _sum {total[0]}")


def value(families, family, name=None, **labels):
    for n, l, v in families[family]["samples"]:
        if n == (name or family) and l == labels:
            return v
    raise AssertionError(f"no sample {name or family}{labels}")


def by_label(families, family, label):
    return {l[label]: v for _, l, v in families[family]["samples"]}


def scrape(addr):
    resp = http_get(addr, "/metrics")
    check_eq(resp.status, 200, "/metrics status")
    check(resp.header("content-type").startswith("text/plain; version=0.0.4"), "/metrics content type")
    text = resp.body.decode("utf-8")
    return text, parse_exposition(text)


def status(addr):
    resp = http_get(addr, "/status")
    check_eq(resp.status, 200, "/status status")
    check_eq(resp.header("content-type"), "application/json", "/status content type")
    return json.loads(resp.body)


# --------------------------------------------------------------------------
# The load: one function per kind of client
# --------------------------------------------------------------------------

def socks5_echo(listener, port, n, mptcp_client):
    fam = socket.AF_INET
    s = socket.socket(fam, socket.SOCK_STREAM, IPPROTO_MPTCP if mptcp_client else 0)
    s.settimeout(20)
    try:
        s.connect(listener.addr)
        s.sendall(b"\x05\x01\x00")
        check_eq(recv_exact(s, 2), b"\x05\x00", "method reply")
        s.sendall(b"\x05\x01\x00" + socks5_addr("127.0.0.1", port))
        check_eq(socks5_reply(s)[:2], b"\x05\x00", "CONNECT reply")
        echo_roundtrip(s, bytes(payload(n)))
        s.shutdown(socket.SHUT_WR)
        check_eq(recv_to_eof(s, timeout=20), b"", "after half-close")
    finally:
        s.close()
    return "ok"


def socks5_refused(listener, port):
    s = connect(listener.addr, 20)
    try:
        s.sendall(b"\x05\x01\x00\x05\x01\x00" + socks5_addr("127.0.0.1", port))
        check_eq(recv_exact(s, 2), b"\x05\x00", "method reply")
        check_eq(socks5_reply(s)[:2], b"\x05\x05", "refused reply")
    finally:
        s.close()
    return "refused"


def http_connect_echo(listener, port, n):
    s, rd, resp = http_connect(listener.addr, f"localhost:{port}", auth=basic_auth(USER, PASSWORD),
                               timeout=20)
    try:
        check_eq(resp.status, 200, "CONNECT status")
        data = bytes(payload(n))
        s.sendall(data)
        check(rd.read_exact(n) == data, "CONNECT echo mismatch")
        s.shutdown(socket.SHUT_WR)
        check_eq(rd.read_to_eof(), b"", "after half-close")
    finally:
        s.close()
    return "ok"


def http_forward(listener, port, n):
    s = connect(listener.addr, 20)
    try:
        s.sendall((f"GET http://127.0.0.1:{port}/bytes/{n} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
                   f"Proxy-Authorization: {basic_auth(USER, PASSWORD)}\r\n"
                   "Connection: close\r\n\r\n").encode())
        resp = http_read_response(Reader(s))
        check_eq(resp.status, 200, "forwarded GET status")
        check(resp.body == bytes(payload(n)), "forwarded body")
    finally:
        s.close()
    return "ok"


def http_wrong_password(listener, port):
    s = connect(listener.addr, 20)
    try:
        s.sendall((f"CONNECT 127.0.0.1:{port} HTTP/1.1\r\nHost: x\r\n"
                   f"Proxy-Authorization: {basic_auth(USER, 'wrong')}\r\n\r\n").encode())
        check_eq(http_read_response(Reader(s), "CONNECT").status, 407, "wrong password")
    finally:
        s.close()
    return "407"


def mixed_load(socks, http):
    c = setup()
    echo, tcp_echo, web, closed = c["mp_echo"].port, c["tcp_echo"].port, c["mp_http"].port, c["closed"][1]
    jobs, expect_up = [], {"socks5": 0, "connect": 0}
    for i in range(N_MPTCP):
        jobs.append((socks5_echo, (socks, echo, 1000 + i, i % (N_MPTCP // N_MPTCP_CLIENTS) == 0)))
        expect_up["socks5"] += 1000 + i
    for i in range(N_FALLBACK):
        jobs.append((socks5_echo, (socks, tcp_echo, 500 + i, False)))
        expect_up["socks5"] += 500 + i
    jobs += [(socks5_refused, (socks, closed))] * N_REFUSED
    for i in range(N_CONNECT):
        jobs.append((http_connect_echo, (http, echo, 2000 + i)))
        expect_up["connect"] += 2000 + i
    jobs += [(http_forward, (http, web, 10000 + i)) for i in range(N_FORWARD)]
    jobs += [(http_wrong_password, (http, echo))] * N_AUTH_FAILED
    random.Random(7).shuffle(jobs)
    with concurrent.futures.ThreadPoolExecutor(16) as pool:
        results = list(pool.map(lambda job: job[0](*job[1]), jobs))
    check_eq(len(results), len(jobs), "every client finished")
    return len(jobs), expect_up


# --------------------------------------------------------------------------
# Cases
# --------------------------------------------------------------------------

@S.case
def exact_counts_under_concurrent_load():
    setup()
    socks_url = "socks5://127.0.0.1:0?mptcp=1"
    http_url = f"http://{USER}:{PASSWORD}@127.0.0.1:0"
    http_label = f"http://{USER}:***@127.0.0.1:0"
    d, addr = start([socks_url, http_url], extra="workers = 2\n")
    d.wait_line(lambda l: "2 workers" in l, what="'2 workers'")
    socks, http = d.listener("socks5"), d.listener("http")

    n_sessions, expect_up = mixed_load(socks, http)
    sessions = d.wait_session(n=n_sessions, timeout=60)
    check_eq(len(sessions), n_sessions, "session end lines")

    text, fam = scrape(addr)
    st = status(addr)
    for secret in (PASSWORD, "t0ps3"):
        check(secret not in text and secret not in json.dumps(st), "the password reaches the metrics")

    # what the summary lines say, per listener (via) and overall
    def log_sum(via, key):
        return sum(int(s[key]) for s in sessions if s["via"] == via)
    socks_n = N_MPTCP + N_FALLBACK + N_REFUSED
    http_n = N_CONNECT + N_FORWARD + N_AUTH_FAILED
    check_eq(log_sum("socks5", "up"), expect_up["socks5"], "socks5 up= sum in the log")
    check_eq(log_sum("socks5", "down"), expect_up["socks5"], "socks5 down= sum in the log")
    forwarded_up = sum(int(s["up"]) for s in sessions if s["via"] == "http" and s["reason"] == "done")
    check_eq(log_sum("http", "up"), expect_up["connect"] + forwarded_up, "http up= sum in the log")

    key = {"socks5": {"listener": socks_url, "kind": "socks5"}, "http": {"listener": http_label, "kind": "http"}}
    want_total = {"socks5": socks_n, "http": http_n}
    for via in ("socks5", "http"):
        check_eq(value(fam, "mpconv_listener_connections_total", **key[via]), want_total[via], f"{via} total")
        check_eq(value(fam, "mpconv_listener_connections_active", **key[via]), 0, f"{via} active")
        for direction in ("up", "down"):
            check_eq(value(fam, "mpconv_listener_bytes_total", direction=direction, **key[via]),
                     log_sum(via, direction), f"{via} bytes {direction}")
    check_eq(value(fam, "mpconv_connections_total"), n_sessions, "connections total")
    check_eq(value(fam, "mpconv_connections_active"), 0, "connections active")
    total_up = sum(int(s["up"]) for s in sessions)
    total_down = sum(int(s["down"]) for s in sessions)
    check_eq(value(fam, "mpconv_bytes_total", direction="up"), total_up, "bytes up total")
    check_eq(value(fam, "mpconv_bytes_total", direction="down"), total_down, "bytes down total")

    negotiated = N_MPTCP + N_CONNECT + N_FORWARD
    outcomes = by_label(fam, "mpconv_upstream_mptcp_total", "outcome")
    check_eq(outcomes, {"negotiated": negotiated, "fallback": N_FALLBACK, "off": 0}, "MPTCP outcomes")
    check_eq(sum(s["mptcp"] == "yes" for s in sessions), negotiated, "mptcp=yes lines")

    reasons = by_label(fam, "mpconv_sessions_ended_total", "reason")
    want_reasons = {r: 0 for r in reasons}
    want_reasons.update({"eof": N_MPTCP + N_FALLBACK + N_CONNECT, "refused": N_REFUSED,
                         "done": N_FORWARD, "auth-failed": N_AUTH_FAILED})
    check_eq(reasons, want_reasons, "end reasons")
    check(all(s["reason"] in reasons for s in sessions), "a reason= of the log has no series")
    for r in ("idle-timeout", "handshake-timeout", "client-reset", "timeout", "dns-no-name"):
        check(r in reasons, f"reason {r} has no series")

    def bucket(n):
        return "unknown" if n in ("?", "0") else n if int(n) <= 3 else "4+"
    sub = {}
    for _, l, v in fam["mpconv_sessions_subflows_total"]["samples"]:
        sub.setdefault(l["side"], {})[l["subflows"]] = v
    want_up = {k: 0 for k in ("1", "2", "3", "4+", "unknown")}
    want_client = dict(want_up)
    for s in sessions:
        if s["mptcp"] == "yes":
            want_up[bucket(s["subflows"])] += 1
        if s.get("client_mptcp") == "yes":
            want_client[bucket(s["client_subflows"])] += 1
    check_eq(sub["upstream"], want_up, "upstream subflow distribution")
    check_eq(sum(want_up.values()), negotiated, "upstream subflow sessions")
    check_eq(sub["client"], want_client, "client subflow distribution")
    check_eq(sum(want_client.values()), N_MPTCP_CLIENTS, "MPTCP clients (client_mptcp=yes lines)")

    check_eq(value(fam, "mpconv_dns_resolution_seconds", "mpconv_dns_resolution_seconds_count"),
             N_CONNECT, "DNS lookups (CONNECT localhost:P)")
    check_eq(value(fam, "mpconv_upstream_connect_seconds", "mpconv_upstream_connect_seconds_count"),
             N_MPTCP + N_FALLBACK + N_CONNECT + N_FORWARD, "upstream connections made")

    version = subprocess.run([mpconv_bin(), "-V"], capture_output=True, text=True).stdout.split()[-1]
    check_eq(value(fam, "mpconv_info", version=version), 1, "mpconv_info")
    check_eq(value(fam, "mpconv_workers"), 2, "mpconv_workers")
    check(value(fam, "mpconv_uptime_seconds") > 0, "uptime")

    check_eq(st["version"], version, "/status version")
    check_eq(st["workers"], 2, "/status workers")
    check(isinstance(st["uptime_seconds"], float) and st["uptime_seconds"] > 0, "/status uptime")
    check_eq([(l["url"], l["kind"], l["active"], l["total"], l["bytes_up"], l["bytes_down"])
              for l in st["listeners"]],
             [(socks_url, "socks5", 0, socks_n, log_sum("socks5", "up"), log_sum("socks5", "down")),
              (http_label, "http", 0, http_n, log_sum("http", "up"), log_sum("http", "down"))],
             "/status listeners")
    check_eq(st["totals"], {"active": 0, "total": n_sessions, "bytes_up": total_up, "bytes_down": total_down},
             "/status totals")
    check_eq(st["mptcp"], outcomes, "/status mptcp")
    check_eq(st["reasons"], want_reasons, "/status reasons")
    print(f"     {n_sessions} sessions from 16 threads over 2 workers; {total_up} B up, "
          f"{total_down} B down; {len(text)} B of /metrics", flush=True)
    check_eq(d.stop(), 0, "exit status")


@S.case
def active_connections_are_gauges():
    c = setup()
    d, addr = start(["socks5://127.0.0.1:0"])
    socks = d.listener("socks5")
    label = {"listener": "socks5://127.0.0.1:0", "kind": "socks5"}
    held = []
    try:
        for _ in range(3):
            s = connect(socks.addr)
            s.sendall(b"\x05\x01\x00\x05\x01\x00" + socks5_addr("127.0.0.1", c["mp_echo"].port))
            check_eq(recv_exact(s, 2), b"\x05\x00", "method reply")
            check_eq(socks5_reply(s)[:2], b"\x05\x00", "CONNECT reply")
            held.append(s)
        _, fam = scrape(addr)
        check_eq(value(fam, "mpconv_listener_connections_active", **label), 3, "active while open")
        check_eq(value(fam, "mpconv_connections_active"), 3, "active in total")
        check_eq(status(addr)["totals"]["active"], 3, "/status active")
    finally:
        for s in held:
            s.close()
    d.wait_session(n=3)
    _, fam = scrape(addr)
    check_eq(value(fam, "mpconv_listener_connections_active", **label), 0, "active after close")
    check_eq(value(fam, "mpconv_listener_connections_total", **label), 3, "total after close")
    check_eq(by_label(fam, "mpconv_sessions_ended_total", "reason")["eof"], 3, "eof after close")


def raw_exchange(addr, data, timeout=10):
    """Sends data, returns everything until the server closes."""
    s = connect(addr, timeout)
    try:
        s.sendall(data)
        return recv_to_eof(s, timeout=timeout, limit=1 << 16)
    finally:
        s.close()


def status_line(raw):
    return raw.split(b"\r\n", 1)[0]


@S.case
def counts_survive_a_reload():
    c = setup()
    d, addr = start(["socks5://127.0.0.1:0"], extra="workers = 2\n")
    socks = d.listener("socks5")
    label = {"listener": "socks5://127.0.0.1:0", "kind": "socks5"}
    for _ in range(3):
        socks5_echo(socks, c["mp_echo"].port, 100, False)
    d.wait_session(n=3)
    with open(d.config_path, "a") as f:  # a second listener; the first one stays
        f.write("listen = http://127.0.0.1:0\n")
    mark = d.mark()
    os.kill(d.pid, signal.SIGHUP)
    d.wait_line(lambda l: "reloaded: configuration 2" in l, since=mark, what="reload")
    for _ in range(2):
        socks5_echo(socks, c["mp_echo"].port, 100, False)
    d.wait_session(n=5)
    _, fam = scrape(addr)
    check_eq(value(fam, "mpconv_listener_connections_total", **label), 5,
             "connections counted before and after the reload")
    check_eq(value(fam, "mpconv_listener_bytes_total", direction="up", **label), 500,
             "bytes up across it")
    check_eq(value(fam, "mpconv_listener_connections_total", listener="http://127.0.0.1:0",
                   kind="http"), 0, "the new listener starts at 0")
    check_eq(d.stop(), 0, "exit status")


@S.case
def http_errors_and_methods():
    setup()
    d, addr = start(["socks5://127.0.0.1:0"])
    check_eq(http_get(addr, "/nope").status, 404, "unknown path")
    check_eq(http_get(addr, "/").status, 404, "root")
    check_eq(http_get(addr, "/metricsx").status, 404, "prefix of a path is not the path")
    r = http_get(addr, "/metrics", method="POST")
    check_eq(r.status, 405, "POST /metrics")
    check_eq(r.header("allow"), "GET, HEAD", "Allow header")
    check_eq(http_get(addr, "/status", method="DELETE").status, 405, "DELETE /status")
    r = http_get(addr, "/metrics", method="HEAD")
    check_eq((r.status, r.body), (200, b""), "HEAD /metrics")
    check(int(r.header("content-length")) > 1000, "HEAD gives the length")
    check_eq(http_get(addr, "/status?pretty=1").status, 200, "a query string is ignored")
    raw = raw_exchange(addr, b"GET /metrics HTTP/1.0\r\n\r\n")
    check_eq(status_line(raw), b"HTTP/1.1 200 OK", "HTTP/1.0 request")
    check(b"\nmpconv_workers 1\n" in raw, "HTTP/1.0 body")
    for garbage in (b"\x00\x01\x02hello\r\n\r\n", b"GET /metrics\r\n\r\n", b"GET  /metrics HTTP/1.1\r\n\r\n",
                    b"GET /metrics HTTP/1.1\r\nBad Header\r\n\r\n"):
        check_eq(status_line(raw_exchange(addr, garbage)), b"HTTP/1.1 400 Bad Request", f"answer to {garbage!r}")
    check_eq(status_line(raw_exchange(addr, b"GET /metrics HTTP/2.0\r\n\r\n"))[:12], b"HTTP/1.1 505",
             "HTTP/2.0 request line")
    big = b"GET /metrics HTTP/1.1\r\nX-Filler: " + b"a" * 5000 + b"\r\n\r\n"
    check_eq(status_line(raw_exchange(addr, big)), b"HTTP/1.1 431 Request Header Fields Too Large",
             "request head over 4 KiB")
    check(d.alive(), "daemon alive")
    check(not [l for l in d.log() if " ERROR " in l], "no ERROR lines")


@S.case
def garbage_and_slow_clients():
    setup()
    d, addr = start(["socks5://127.0.0.1:0"])
    rnd = random.Random(11)
    for i in range(30):  # random heads: each answered with an error, and closed
        junk = bytes(rnd.randrange(256) for _ in range(rnd.randrange(1, 6000))) + b"\r\n\r\n"
        raw = raw_exchange(addr, junk)
        check(re.match(rb"HTTP/1\.1 (400|431|505) ", raw), f"answer to garbage {i}: {raw[:60]!r}")
    s = connect(addr)  # half a request, then FIN: closed without waiting for the deadline
    s.sendall(b"GET /metr")
    s.shutdown(socket.SHUT_WR)
    check_eq(recv_to_eof(s, timeout=3), b"", "a request cut short")
    s.close()
    idle = [connect(addr) for _ in range(40)]  # more than the 32 connections the server keeps
    drip = connect(addr)
    try:
        drip.sendall(b"GET /met")
        text, _ = scrape(addr)  # served at once: the oldest idle ones made room
        check("mpconv_workers 1" in text, "scrape among slow clients")
        idle[-1].setblocking(False)
        try:
            idle[-1].recv(10)
            check(False, "the newest idle connection was closed or answered before its deadline")
        except BlockingIOError:
            pass  # still open: the scrape did not wait for the slow clients' deadline
        idle[0].settimeout(1)
        check_eq(idle[0].recv(10), b"", "the oldest idle connection was closed to make room")
        for s in idle[-3:] + [drip]:  # the request deadline closes the rest
            check_eq(recv_to_eof(s, timeout=15), b"", "a silent client is closed by the deadline")
    finally:
        for s in idle + [drip]:
            s.close()
    text, fam = scrape(addr)
    check_eq(value(fam, "mpconv_connections_total"), 0, "metrics clients are not proxy sessions")
    check(d.alive(), "daemon alive")


@S.case
def bind_failure_stops_the_start():
    busy = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        busy.bind(("127.0.0.1", 0))
        busy.listen(1)
        port = busy.getsockname()[1]
        r = subprocess.run([mpconv_bin(), "-l", "socks5://127.0.0.1:0", "--metrics", f"127.0.0.1:{port}"],
                           capture_output=True, text=True, timeout=20, stdin=subprocess.DEVNULL)
    finally:
        busy.close()
    check(r.returncode != 0, "start with the metrics port taken must fail")
    check(f"cannot serve metrics on 127.0.0.1:{port}: address already in use" in r.stderr,
          f"error message: {r.stderr}")
    check("listening:" not in r.stderr, "no listener was announced")
    for bad in ("127.0.0.1", "127.0.0.1:70000", "::1:80", "http://x:1"):
        r = subprocess.run([mpconv_bin(), "-t", "--metrics", bad], capture_output=True, text=True, timeout=20)
        check(r.returncode != 0, f"--metrics {bad} accepted")
        check(f"mpconv.metrics: invalid address '{bad}'" in r.stderr, f"error for {bad}: {r.stderr}")
    r = subprocess.run([mpconv_bin(), "-t", "--metrics", "[::1]:0"], capture_output=True, text=True, timeout=20)
    check_eq(r.returncode, 0, "-t with --metrics")
    check("\nmetrics = [::1]:0\n" in r.stdout, f"-t shows the address: {r.stdout}")


@S.case
def ipv6_endpoint_and_off_by_default():
    setup()
    d = Daemon(["-l", "socks5://127.0.0.1:0", "--metrics", "[::1]:0"])
    host, port = metrics_address(d)
    check_eq(host, "::1", "bound address logged")
    st = status((host, port))
    check_eq([l["url"] for l in st["listeners"]], ["socks5://127.0.0.1:0"], "/status over IPv6")
    d.stop()
    d = Daemon(["-l", "socks5://127.0.0.1:0"])
    check(not any("metrics" in l for l in d.log()), "no endpoint unless configured")


if __name__ == "__main__":
    S.main()
