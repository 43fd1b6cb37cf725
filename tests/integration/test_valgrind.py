"""A representative subset of the integration tests with every daemon under
valgrind memcheck: SOCKS5, HTTP CONNECT, HTTP forwarding with keep-alive, TLS
listeners (socks5+tls, https), parent chains (socks5+tls and https parents),
error answers, timeouts, resets, the metrics endpoint (scrapes, bad requests,
slow clients), and SIGTERM shutdown with sessions open.

Each case starts its own daemon(s) through the harness's MPCONV_WRAPPER and
stops them with SIGTERM; valgrind must exit 0 (no memory errors, no definite or
indirect leaks: --error-exitcode=99 --errors-for-leak-kinds=definite,indirect).
An MPCONV_WRAPPER already set in the environment is used as is. Transfers are
small (4 MiB): valgrind makes the daemon 20-50x slower. Without valgrind the
script skips (exit 77), and fails under CI=true.
"""

import hashlib
import os
import shutil
import signal
import socket
import tempfile

from mpconvtest import (MiB, Daemon, FaultOrigin, Lazy, Listener, Origin, Reader, Suite,
                        basic_auth,
                        check, check_eq, closed_port, connect, curl,
                        curl_ok, http_connect, http_get_ok, http_raw_exchange,
                        http_read_response, make_cert, metrics_address, payload, payload_sha,
                        recv_exact,
                        recv_to_eof, reset_close, sha256_file, skip_or_fail_script,
                        socks5_addr, socks5_connect, socks5_echo_ok, socks5_reply,
                        socks5_request, start_daemon, tls_connect,
                        write_payload_file)

DEFAULT_WRAPPER = ("valgrind --error-exitcode=99 --leak-check=full "
                   "--show-leak-kinds=definite,indirect "
                   "--errors-for-leak-kinds=definite,indirect -q")
N = 4 * MiB
USER, PASS = "alice", "s3cret"

S = Suite("valgrind")
ctx = {}


@Lazy
def setup():
    tmp = tempfile.mkdtemp(prefix="mpc-vg-")
    ctx["tmp"] = tmp
    ctx["cert"], ctx["key"] = make_cert(tmp)
    ctx["tls"] = f"cert={ctx['cert']}&key={ctx['key']}"
    ctx["up"] = write_payload_file(os.path.join(tmp, "upload.bin"), N)
    ctx["out"] = os.path.join(tmp, "download.bin")
    ctx["echo"] = Origin("echo")
    ctx["source"] = Origin("source", size=N)
    ctx["sink"] = Origin("sink")
    ctx["http"] = Origin("http")
    ctx["closed_sock"], ctx["closed"] = closed_port()
    return ctx


@S.cleanup
def _cleanup():
    for k in ("echo", "source", "sink", "http"):
        if k in ctx:
            ctx[k].close()
    if "closed_sock" in ctx:
        ctx["closed_sock"].close()
    if "tmp" in ctx:
        shutil.rmtree(ctx["tmp"], ignore_errors=True)


def plain_daemon(config=None, auth=False):
    setup()
    cred = f"{USER}:{PASS}@" if auth else ""
    return Daemon(["-l", f"socks5://{cred}127.0.0.1:0", "-l", f"http://{cred}127.0.0.1:0"],
                  config=config)


def stop_clean(*daemons):
    """SIGTERM each daemon; valgrind must exit 0 (raises with its report)."""
    for d in daemons:
        check_eq(d.stop(timeout=60, check=True), 0, "valgrind exit status")


def socks5_download(addr_or_sock, port, n=N):
    s = socks5_connect(addr_or_sock, "127.0.0.1", port, timeout=60)
    try:
        h = hashlib.sha256(recv_to_eof(s, timeout=120, limit=n + 1))
    finally:
        s.close()
    check_eq(h.hexdigest(), payload_sha(n), "SOCKS5 download sha256")


def curl_down_up(proxy_args, what):
    """curl download (sha256) and upload (origin's sha256) of N bytes."""
    c = setup()
    base = f"http://127.0.0.1:{c['http'].port}"
    curl_ok(proxy_args + ["-o", c["out"], f"{base}/bytes/{N}"], timeout=180)
    check_eq(sha256_file(c["out"]), payload_sha(N), f"{what} download sha256")
    r = curl_ok(proxy_args + ["-H", "Expect:", "-T", c["up"], f"{base}/upload"], timeout=180)
    check_eq(r.stdout.decode().strip(), payload_sha(N), f"{what} upload sha256")


# --------------------------------------------------------------------------

@S.case
def socks5_relay():
    c = setup()
    d = plain_daemon()
    socks5_echo_ok(d.listener("socks5"), c["echo"], daemon=d)
    socks5_download(d.listener("socks5").addr, c["source"].port)
    s = socks5_connect(d.listener("socks5").addr, "127.0.0.1", c["sink"].port, timeout=60)
    s.sendall(bytes(payload(N)))
    s.shutdown(socket.SHUT_WR)
    check_eq(recv_to_eof(s, timeout=120).decode().strip(), payload_sha(N), "upload sha256")
    s.close()
    # One write with early data (greeting + request + payload).
    s = connect(d.listener("socks5").addr, 60)
    _, _, rep = socks5_request(s, "127.0.0.1", c["echo"].port, early=b"early-bytes")
    check_eq(rep[:2], b"\x05\x00", "one-write SOCKS5 reply")
    check_eq(recv_exact(s, 11), b"early-bytes", "early data echoed")
    s.close()
    curl_down_up(["--socks5-hostname", d.listener("socks5").hostport], "curl socks5")
    stop_clean(d)


@S.case
def http_connect_tunnel():
    c = setup()
    d = plain_daemon()
    s, rd, resp = http_connect(d.listener("http").addr, f"127.0.0.1:{c['source'].port}",
                               timeout=60)
    check_eq(resp.status, 200, "CONNECT status")
    h = hashlib.sha256(bytes(rd.buf) + recv_to_eof(s, timeout=120, limit=N + 1))
    s.close()
    check_eq(h.hexdigest(), payload_sha(N), "CONNECT download sha256")
    curl_down_up(["-x", f"http://{d.listener('http').hostport}", "--proxytunnel"],
                 "curl CONNECT")
    stop_clean(d)


@S.case
def http_forward_keepalive():
    c = setup()
    d = plain_daemon()
    o = c["http"].port
    s = connect(d.listener("http").addr, 60)
    rd = Reader(s)
    host = f"Host: 127.0.0.1:{o}\r\n"
    reqs = [
        (f"GET http://127.0.0.1:{o}/bytes/{N} HTTP/1.1\r\n{host}\r\n", "GET", 200, N),
        (f"GET http://127.0.0.1:{o}/chunked/300000 HTTP/1.1\r\n{host}\r\n", "GET", 200, 300000),
        (f"POST http://127.0.0.1:{o}/up HTTP/1.1\r\n{host}Content-Length: 100000\r\n\r\n",
         "POST", 200, None),
        (f"GET http://127.0.0.1:{o}/nothing HTTP/1.1\r\n{host}\r\n", "GET", 404, None),
        (f"GET http://127.0.0.1:{o}/bytes/1000 HTTP/1.1\r\n{host}Connection: close\r\n\r\n",
         "GET", 200, 1000),
    ]
    for head, method, status, n in reqs:
        s.sendall(head.encode() + (bytes(payload(100000)) if method == "POST" else b""))
        resp = http_read_response(rd, method)
        check_eq(resp.status, status, f"status of {head.splitlines()[0]}")
        if n is not None:
            check(resp.body == bytes(payload(n)), f"body of {head.splitlines()[0]}")
        if method == "POST":
            check_eq(resp.body.decode().strip(),
                     hashlib.sha256(payload(100000)).hexdigest(), "POST body sha256")
    check_eq(recv_to_eof(s, timeout=60), b"", "close after Connection: close")
    s.close()
    curl_down_up(["-x", f"http://{d.listener('http').hostport}"], "curl forward")
    stop_clean(d)


@S.case
def tls_listeners():
    c = setup()
    d = start_daemon(["-l", f"socks5+tls://{USER}:{PASS}@127.0.0.1:0?{c['tls']}",
                      "-l", f"https://{USER}:{PASS}@127.0.0.1:0?{c['tls']}"])
    s5, hs = d.listeners
    t = tls_connect(s5.addr, c["cert"], timeout=60)
    _, auth, rep = socks5_request(t, "127.0.0.1", c["source"].port, USER, PASS)
    check_eq((auth, rep[:2]), (b"\x01\x00", b"\x05\x00"), "socks5+tls auth + CONNECT")
    h = hashlib.sha256(recv_to_eof(t, timeout=120, limit=N + 1))
    t.close()
    check_eq(h.hexdigest(), payload_sha(N), "socks5+tls download sha256")
    t = tls_connect(s5.addr, c["cert"], timeout=60)
    _, auth, rep = socks5_request(t, "127.0.0.1", c["echo"].port, USER, "wrong")
    check_eq(auth, b"\x01\x01", "socks5+tls wrong password")
    t.close()
    proxy = ["--proxy", f"https://{hs.hostport}", "--proxy-cacert", c["cert"],
             "--proxy-user", f"{USER}:{PASS}"]
    curl_down_up(proxy, "https proxy forward")
    curl_down_up(proxy + ["--proxytunnel"], "https proxy CONNECT")
    r = curl(["--proxy", f"https://{hs.hostport}", "--proxy-cacert", c["cert"], "-o",
              os.devnull, "-w", "%{http_code}", f"http://127.0.0.1:{c['http'].port}/bytes/1"],
             timeout=60)
    check_eq(r.stdout.decode(), "407", "https proxy without credentials")
    # A plain-TCP client on the TLS listener.
    s = connect(s5.addr, 60)
    s.sendall(b"\x05\x01\x00\x05\x01\x00" + socks5_addr("127.0.0.1", c["echo"].port))
    recv_to_eof(s, timeout=60)
    s.close()
    d.wait_line(lambda l: "reason=client-tls-failed" in l, 30, what="client-tls-failed")
    stop_clean(d)


@S.case
def parent_chain():
    c = setup()
    conc = start_daemon(["-l", f"socks5+tls://{USER}:{PASS}@127.0.0.1:0?mptcp=1&{c['tls']}",
                         "-l", f"https://{USER}:{PASS}@127.0.0.1:0?mptcp=1&{c['tls']}"])
    s5, hs = conc.listeners
    routers = []
    for li in (s5, hs):  # TLS costs most under valgrind: 4 MiB each way per parent kind
        r = start_daemon(["-l", "socks5://127.0.0.1:0", "-l", "http://127.0.0.1:0", "-u",
                          f"{li.kind}://{USER}:{PASS}@localhost:{li.port}?ca={c['cert']}"])
        routers.append(r)
        socks5_echo_ok(r.listener("socks5"), c["echo"], daemon=r)
        if li is s5:
            socks5_download(r.listener("socks5").addr, c["source"].port)
            curl_ok(["-x", f"http://{r.listener('http').hostport}", "-H", "Expect:", "-T",
                     c["up"], f"http://127.0.0.1:{c['http'].port}/upload"], timeout=180)
        else:
            curl_down_up(["-x", f"http://{r.listener('http').hostport}"], f"{li.kind} parent")
    bad = start_daemon(["-l", "socks5://127.0.0.1:0", "-u",
                        f"socks5+tls://{USER}:nope@localhost:{s5.port}?ca={c['cert']}"])
    s = connect(bad.listener().addr, 60)
    s.sendall(b"\x05\x01\x00" + b"\x05\x01\x00" + socks5_addr("127.0.0.1", c["echo"].port))
    check_eq(recv_exact(s, 2), b"\x05\x00", "method reply")
    check_eq(socks5_reply(s)[1], 0x02, "wrong parent password -> 0x02")
    s.close()
    bad.wait_line(lambda l: "reason=parent-auth-failed" in l, 30, what="parent-auth-failed")
    stop_clean(bad, *routers, conc)


@S.case
def error_answers():
    c = setup()
    d = plain_daemon(config="[timeouts]\nhandshake = 3\n[http]\nmax_header_bytes = 2048\n")
    L5, LH = d.listener("socks5").addr, d.listener("http").addr

    def socks(msg, want):
        s = connect(L5, 60)
        s.sendall(msg)
        got = recv_to_eof(s, timeout=60)
        s.close()
        check(got.startswith(want), f"SOCKS5 {msg!r}: got {got!r}, want {want!r}...")

    socks(b"\x04\x01\x00\x50\x7f\x00\x00\x01\x00", b"")                       # bad version
    socks(b"\x05\x01\x02", b"\x05\xff")                                        # no method
    socks(b"\x05\x01\x00\x05\x02\x00" + socks5_addr("127.0.0.1", 1), b"\x05\x00\x05\x07")
    socks(b"\x05\x01\x00\x05\x01\x00\x09", b"\x05\x00\x05\x08")
    socks(b"\x05\x01\x00\x05\x01\x00" + socks5_addr("127.0.0.1", c["closed"]),
          b"\x05\x00\x05\x05")
    socks(b"\x05\x01\x00\x05\x01\x00" + socks5_addr("nonexistent.invalid", 80),
          b"\x05\x00\x05\x04")
    for raw, want in ((b"garbage\r\n\r\n", 400),
                      (b"GET /x HTTP/1.1\r\nHost: a\r\n\r\n", 400),
                      (b"GET http://a/ HTTP/1.1\r\nX: " + b"y" * 4000 + b"\r\n\r\n", 431),
                      (f"GET http://127.0.0.1:{c['closed']}/ HTTP/1.1\r\nHost: x\r\n\r\n"
                       .encode(), 502),
                      (f"CONNECT 127.0.0.1:{c['closed']} HTTP/1.1\r\n\r\n".encode(), 502)):
        resp, s = http_raw_exchange(LH, raw, timeout=60)
        s.close()
        check_eq(resp.status, want, f"answer to {raw[:40]!r}")
    # Handshake timeout: half a greeting, then nothing.
    s = connect(L5, 60)
    s.sendall(b"\x05\x02\x00")
    check_eq(recv_to_eof(s, timeout=60), b"", "stalled handshake closed")
    s.close()
    # Resets in the middle of transfers, both directions, spliced and copied.
    o = FaultOrigin("stream", size=64 * MiB, reset_after=2 * MiB, wait_line=True)
    sink = FaultOrigin("sink")
    try:
        for kind in ("socks5", "http"):
            if kind == "socks5":
                s = socks5_connect(L5, "127.0.0.1", o.port, timeout=60)
            else:
                s, rd, resp = http_connect(LH, f"127.0.0.1:{o.port}", timeout=60)
                check_eq(resp.status, 200, "CONNECT")
            try:
                s.sendall(b"go\n")
                got = recv_to_eof(s, timeout=120, limit=64 * MiB)
            finally:
                s.close()
            check(len(got) < 64 * MiB, "origin reset hidden")
            s = socks5_connect(L5, "127.0.0.1", sink.port, timeout=60)
            s.sendall(bytes(payload(MiB)))
            reset_close(s)
        resp, s = http_raw_exchange(
            LH, f"GET http://127.0.0.1:{o.port}/ HTTP/1.1\r\nHost: x\r\n\r\n".encode(),
            timeout=60)  # an origin that answers with a raw stream: bad response
        s.close()
        check_eq(resp.status, 502, "non-HTTP origin response")
    finally:
        o.close()
        sink.close()
    a = plain_daemon(auth=True)
    resp, s = http_raw_exchange(a.listener("http").addr,
                                f"GET http://127.0.0.1:{c['http'].port}/ HTTP/1.1\r\n"
                                f"Host: x\r\n\r\n".encode(), timeout=60)
    s.close()
    check_eq(resp.status, 407, "no credentials")
    http_get_ok(a.listener("http"), c["http"], auth=basic_auth(USER, PASS), daemon=a)
    socks5_echo_ok(d.listener("socks5"), c["echo"], daemon=d)
    stop_clean(d, a)


@S.case
def metrics_endpoint():
    c = setup()
    d = plain_daemon(config="[mpconv]\nworkers = 2\nmetrics = 127.0.0.1:0\n")
    addr = metrics_address(d, 60)
    socks5_echo_ok(d.listener("socks5"), c["echo"])
    http_get_ok(d.listener("http"), c["http"])
    answers = []
    for req in (b"GET /metrics HTTP/1.1\r\n\r\n", b"GET /status HTTP/1.1\r\n\r\n",
                b"HEAD /metrics HTTP/1.1\r\n\r\n", b"POST /metrics HTTP/1.1\r\n\r\n",
                b"GET /x HTTP/1.1\r\n\r\n", b"\x00junk\r\n\r\n", b"GET /" + b"a" * 5000):
        s = connect(addr, 60)
        s.sendall(req)
        answers.append(recv_to_eof(s, timeout=60).split(b"\r\n", 1)[0])
        s.close()
    check_eq(answers, [b"HTTP/1.1 200 OK"] * 3 + [b"HTTP/1.1 405 Method Not Allowed",
                                                   b"HTTP/1.1 404 Not Found", b"HTTP/1.1 400 Bad Request",
                                                   b"HTTP/1.1 431 Request Header Fields Too Large"],
             "metrics answers")
    idle = [connect(addr, 60) for _ in range(34)]  # two over the limit: the oldest are closed
    check_eq(recv_to_eof(idle[0], timeout=60), b"", "oldest idle metrics client closed")
    half = connect(addr, 60)
    half.sendall(b"GET /metrics HTTP/1.1\r\n")  # open at SIGTERM
    stop_clean(d)
    for s in idle + [half]:
        s.close()


@S.case
def sigterm_shutdown():
    c = setup()
    d = plain_daemon()
    # An idle tunnel, a half-done handshake and an HTTP keep-alive client are open.
    t = socks5_connect(d.listener("socks5").addr, "127.0.0.1", c["echo"].port, timeout=60)
    h = connect(d.listener("socks5").addr, 60)
    h.sendall(b"\x05\x01")
    k = connect(d.listener("http").addr, 60)
    k.sendall(f"GET http://127.0.0.1:{c['http'].port}/bytes/10 HTTP/1.1\r\nHost: x\r\n\r\n"
              .encode())
    check_eq(http_read_response(Reader(k)).status, 200, "keep-alive GET")
    d.terminate()
    d.wait_line(lambda l: "no new connections" in l, 60, what="SIGTERM drain line")
    t.sendall(b"during-drain")
    check_eq(recv_exact(t, 12), b"during-drain", "tunnel works while draining")
    for s in (t, h, k):
        s.close()
    d.wait_line(lambda l: "all sessions finished" in l, 60, what="all sessions finished")
    stop_clean(d)
    # Second SIGTERM closes open sessions at once.
    d2 = plain_daemon()
    t = socks5_connect(d2.listener("socks5").addr, "127.0.0.1", c["echo"].port, timeout=60)
    d2.terminate()
    d2.wait_line(lambda l: "no new connections" in l, 60, what="SIGTERM drain line")
    d2.proc.terminate()
    d2.wait_line(lambda l: " again" in l, 60, what="second SIGTERM line")
    check_eq(recv_to_eof(t, timeout=60), b"", "tunnel closed by the second SIGTERM")
    t.close()
    stop_clean(d2)


@S.case
def sighup_reload():
    c = setup()
    tls = f"socks5+tls://127.0.0.1:0?{c['tls']}"
    d = Daemon([], config=f"[mpconv]\nworkers = 2\nlisten = socks5://127.0.0.1:0\n"
                          f"listen = {tls}\n", n_listeners=1)
    t = socks5_connect(d.listener("socks5").addr, "127.0.0.1", c["echo"].port, timeout=60)
    with open(d.config_path, "w") as f:
        f.write(f"[mpconv]\nworkers = 2\nlisten = socks5://{USER}:{PASS}@127.0.0.1:0\n"
                "listen = http://127.0.0.1:0\n")
    mark = d.mark()
    d.proc.send_signal(signal.SIGHUP)
    d.wait_line(lambda l: "reloaded: configuration 2" in l, 60, since=mark, what="reload")
    http_port = int(d.wait_line(lambda l: "listening: http://" in l, since=mark)
                    .rsplit(":", 1)[1])
    http_get_ok(Listener("http", "127.0.0.1", http_port), c["http"])
    socks5_echo_ok(d.listener("socks5"), c["echo"], USER, PASS)
    t.sendall(b"after-reload")
    check_eq(recv_exact(t, 12), b"after-reload", "tunnel opened before the reload")
    t.close()
    with open(d.config_path, "a") as f:
        f.write("nonsense\n")
    mark = d.mark()
    d.proc.send_signal(signal.SIGHUP)
    d.wait_line(lambda l: "reload rejected" in l, 60, since=mark, what="rejected reload")
    stop_clean(d)


if __name__ == "__main__":
    if not os.environ.get("MPCONV_WRAPPER"):
        if not shutil.which("valgrind"):
            skip_or_fail_script("valgrind not installed (scripts/install-deps.sh test)")
        os.environ["MPCONV_WRAPPER"] = DEFAULT_WRAPPER
    S.main()
