"""HTTP proxy front-end: malformed / abusive input and error statuses, raw sockets.

After every case the same daemon process must still be alive and serve a
normal absolute-URI GET on the same listener.
"""

import socket
import time

from mpconvtest import (release_ctx, Daemon, Lazy, Origin, Reader, Suite, UnresponsivePort, basic_auth,
                        check, check_alive, check_eq, check_session,
                        closed_port, connect, http_get_ok,
                        http_read_response, payload)

S = Suite("http_errors")
ctx = {}
USER, PASS = "carol", "c0rrect-horse"
MAX_HEAD = 4096


@Lazy
def setup():
    ctx["http"] = Origin("http")
    ctx["echo"] = Origin("echo")
    conf = f"[timeouts]\nconnect = 0.5\n\n[http]\nmax_header_bytes = {MAX_HEAD}\n"
    ctx["d"] = Daemon(["-l", "http://127.0.0.1:0"], config=conf, case_scoped=False)
    ctx["da"] = Daemon(["-l", f"http://{USER}:{PASS}@127.0.0.1:0"], config=conf,
                       case_scoped=False)
    return ctx


@S.cleanup
def _cleanup():
    release_ctx(ctx, daemons=("d", "da"), closables=("http", "echo"))


def lst(auth=False):
    c = setup()
    return (c["da"] if auth else c["d"]).listener("http")


def still_serves(auth=False):
    c = setup()
    d = c["da"] if auth else c["d"]
    check_alive(d)
    http_get_ok(lst(auth), c["http"], auth=basic_auth(USER, PASS) if auth else None,
                daemon=d)
    check_alive(d)


def exchange(data, auth=False, expect_close=True, timeout=10):
    """Sends raw bytes; returns the response (and checks the close if asked)."""
    s = connect(lst(auth).addr, timeout)
    try:
        try:
            s.sendall(data)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the daemon may answer and close before reading everything
        rd = Reader(s)
        resp = http_read_response(rd)
        if expect_close:
            s.settimeout(timeout)
            try:
                rest = rd.read_to_eof()
            except ConnectionResetError:
                rest = bytes(rd.buf)
            except socket.timeout:
                raise AssertionError(f"connection not closed {timeout}s after {resp.status}")
            check_eq(rest, b"", f"bytes after the {resp.status} response before close")
        return resp
    finally:
        s.close()


def expect_status(data, status, auth=False, expect_close=True, timeout=10):
    resp = exchange(data, auth, expect_close, timeout)
    check_eq(resp.status, status, f"status for {data[:60]!r}")
    check(resp.version == "HTTP/1.1" or resp.version == "HTTP/1.0",
          f"status line version {resp.version}")
    return resp


@S.case
def garbage_request_line():
    expect_status(b"THIS IS NOT HTTP\r\n\r\n", 400)
    still_serves()
    expect_status(b"GET\r\n\r\n", 400)
    still_serves()
    expect_status(b"\x00\x01\x02\x03 \xff\xfe HTTP/1.1\r\n\r\n", 400)
    still_serves()


@S.case
def bad_header_line():
    o = setup()["http"]
    expect_status((f"GET http://127.0.0.1:{o.port}/bytes/1 HTTP/1.1\r\n"
                   f"Host: 127.0.0.1:{o.port}\r\nthis line has no colon\r\n\r\n").encode(), 400)
    still_serves()


@S.case
def head_too_large():
    o = setup()["http"]
    pad = "a" * (2 * MAX_HEAD)
    expect_status((f"GET http://127.0.0.1:{o.port}/bytes/1 HTTP/1.1\r\n"
                   f"Host: 127.0.0.1:{o.port}\r\nX-Pad: {pad}\r\n\r\n").encode(), 431)
    still_serves()
    # A head that never ends: 431 once the limit is passed, no waiting for CRLFCRLF.
    expect_status((f"GET http://127.0.0.1:{o.port}/bytes/1 HTTP/1.1\r\n"
                   f"X-Pad: {pad}").encode(), 431)
    still_serves()


@S.case
def head_just_under_limit_ok():
    o = setup()["http"]
    base = (f"GET http://127.0.0.1:{o.port}/bytes/5 HTTP/1.1\r\n"
            f"Host: 127.0.0.1:{o.port}\r\nConnection: close\r\nX-Pad: \r\n\r\n")
    pad = "b" * (MAX_HEAD - len(base) - 64)
    resp = expect_status(base.replace("X-Pad: ", "X-Pad: " + pad).encode(), 200)
    check_eq(resp.body, bytes(payload(5)), "body")
    still_serves()


@S.case
def origin_form_request():
    o = setup()["http"]
    expect_status(f"GET / HTTP/1.1\r\nHost: 127.0.0.1:{o.port}\r\n\r\n".encode(), 400)
    still_serves()


@S.case
def connect_without_port():
    expect_status(b"CONNECT 127.0.0.1 HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n", 400)
    still_serves()


@S.case
def connect_refused_502():
    hold, port = closed_port()
    try:
        expect_status(f"CONNECT 127.0.0.1:{port} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n\r\n"
                      .encode(), 502)
        still_serves()
        expect_status(f"GET http://127.0.0.1:{port}/ HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n\r\n"
                      .encode(), 502, expect_close=False)
    finally:
        hold.close()
    still_serves()


@S.case
def unresolvable_502():
    expect_status(b"CONNECT nonexistent.invalid:443 HTTP/1.1\r\n"
                  b"Host: nonexistent.invalid:443\r\n\r\n", 502, timeout=30)
    still_serves()
    expect_status(b"GET http://nonexistent.invalid/ HTTP/1.1\r\n"
                  b"Host: nonexistent.invalid\r\n\r\n", 502, expect_close=False, timeout=30)
    still_serves()


@S.case
def connect_timeout_504():
    with UnresponsivePort() as u:
        t0 = time.monotonic()
        expect_status(f"CONNECT 127.0.0.1:{u.port} HTTP/1.1\r\nHost: 127.0.0.1:{u.port}\r\n\r\n"
                      .encode(), 504, timeout=15)
        el = time.monotonic() - t0
    check(el >= 0.4, f"504 after {el:.2f}s, before [timeouts] connect = 0.5")
    still_serves()


def check_challenge(resp):
    check_eq(resp.status, 407, "status without valid proxy credentials")
    check_eq(resp.header("Proxy-Authenticate"), 'Basic realm="mpconv"',
             "Proxy-Authenticate header")


@S.case
def missing_auth_407():
    o = setup()["http"]
    for req in (f"GET http://127.0.0.1:{o.port}/bytes/1 HTTP/1.1\r\n"
                f"Host: 127.0.0.1:{o.port}\r\n\r\n",
                f"CONNECT 127.0.0.1:{o.port} HTTP/1.1\r\nHost: 127.0.0.1:{o.port}\r\n\r\n"):
        omark = o.count()
        check_challenge(exchange(req.encode(), auth=True, expect_close=False))
        check_eq(o.count() - omark, 0, "origin connections without auth")
        still_serves(auth=True)


@S.case
def wrong_auth_407():
    o = setup()["http"]
    for cred in (basic_auth(USER, "wrong"), basic_auth("mallory", PASS), "Basic !!!notb64",
                 "Bearer abc"):
        req = (f"CONNECT 127.0.0.1:{o.port} HTTP/1.1\r\nHost: 127.0.0.1:{o.port}\r\n"
               f"Proxy-Authorization: {cred}\r\n\r\n")
        resp = exchange(req.encode(), auth=True, expect_close=False)
        if cred.startswith("Basic !!!"):
            check(resp.status in (400, 407), f"status for undecodable credentials: {resp}")
        else:
            check_challenge(resp)
        still_serves(auth=True)


@S.case
def connect_ok_exact_status_line_and_early_data():
    c = setup()
    o, d = c["echo"], c["da"]
    mark = d.mark()
    s = connect(lst(True).addr)
    try:
        early = bytes(payload(100000))
        s.sendall((f"CONNECT 127.0.0.1:{o.port} HTTP/1.1\r\nHost: 127.0.0.1:{o.port}\r\n"
                   f"Proxy-Authorization: {basic_auth(USER, PASS)}\r\n\r\n").encode() + early)
        rd = Reader(s)
        head = rd.read_until(b"\r\n\r\n")
        check_eq(head.split(b"\r\n")[0], b"HTTP/1.1 200 Connection established",
                 "CONNECT status line")
        got = rd.read_exact(len(early))
        check(got == early, "early data after CONNECT corrupted")
        s.shutdown(socket.SHUT_WR)
        check_eq(rd.read_to_eof(), b"", "after half-close")
        cport = s.getsockname()[1]
    finally:
        s.close()
    sess = d.wait_session(since=mark, client_port=cport)
    check_session(sess[0], via="http", mptcp="yes", up=len(early), down=len(early))
    still_serves(auth=True)


@S.case
def connect_ipv6_literal():
    c = setup()
    o = c["echo"]
    s = connect(lst().addr)
    try:
        s.sendall(f"CONNECT [::1]:{o.port} HTTP/1.1\r\nHost: [::1]:{o.port}\r\n\r\n".encode())
        rd = Reader(s)
        head = rd.read_until(b"\r\n\r\n")
        check_eq(head.split(b"\r\n")[0], b"HTTP/1.1 200 Connection established",
                 "CONNECT [::1] status line")
        s.sendall(b"ping6")
        check_eq(rd.read_exact(5), b"ping6", "echo through CONNECT [::1]")
    finally:
        s.close()
    still_serves()


@S.case
def byte_at_a_time_request():
    o = setup()["http"]
    req = (f"GET http://127.0.0.1:{o.port}/bytes/777 HTTP/1.1\r\n"
           f"Host: 127.0.0.1:{o.port}\r\nConnection: close\r\n\r\n").encode()
    s = connect(lst().addr)
    try:
        for i in range(len(req)):
            s.send(req[i:i + 1])
            if i < 64:
                time.sleep(0.002)  # separate segments, not a readiness wait
        resp = http_read_response(Reader(s))
    finally:
        s.close()
    check_eq(resp.status, 200, "status")
    check_eq(resp.body, bytes(payload(777)), "body")
    still_serves()


if __name__ == "__main__":
    S.main()
