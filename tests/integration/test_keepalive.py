"""HTTP forward proxy keep-alive: several absolute-URI requests on one client
socket; Connection: close and HTTP/1.0 end the connection after the response."""

import hashlib
import socket

from mpconvtest import (MiB, Daemon, Lazy, Origin, Reader, Suite, TestFailure, check,
                        check_alive, check_eq, check_session, connect, http_read_response,
                        payload, payload_sha)

S = Suite("keepalive")
ctx = {}


@Lazy
def setup():
    ctx["a"] = Origin("http")
    ctx["b"] = Origin("http")
    ctx["d"] = Daemon(["-l", "http://127.0.0.1:0"], case_scoped=False)
    return ctx


@S.cleanup
def _cleanup():
    for k in ("d",):
        if k in ctx:
            ctx[k].stop()
    for k in ("a", "b"):
        if k in ctx:
            ctx[k].close()


def get(port, path, extra=""):
    return (f"GET http://127.0.0.1:{port}{path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
            f"{extra}\r\n").encode()


def still_open(s, rd):
    """True if the daemon has not closed the client socket (checked without waiting
    longer than 0.3 s)."""
    s.settimeout(0.3)
    try:
        b = s.recv(1)
    except socket.timeout:
        return True
    finally:
        s.settimeout(10)
    if b:
        raise TestFailure(f"unexpected byte {b!r} between responses")
    return False


def closed_after(s, rd, timeout=5):
    s.settimeout(timeout)
    try:
        rest = rd.read_to_eof()
    except ConnectionResetError:
        rest = b""
    except socket.timeout:
        raise TestFailure(f"connection still open {timeout}s after the last response")
    check_eq(rest, b"", "bytes after the last response")


@S.case
def two_requests_one_socket():
    c = setup()
    o, d = c["a"], c["d"]
    mark = d.mark()
    s = connect(d.listener("http").addr)
    rd = Reader(s)
    try:
        s.sendall(get(o.port, "/bytes/1000"))
        r1 = http_read_response(rd)
        check_eq((r1.status, r1.body), (200, bytes(payload(1000))), "first response")
        check(still_open(s, rd), "daemon closed the client after a keep-alive response")
        s.sendall(get(o.port, "/bytes/123457"))
        r2 = http_read_response(rd)
        check_eq((r2.status, r2.body == bytes(payload(123457))), (200, True), "second response")
        check(still_open(s, rd), "daemon closed the client after the second response")
        cport = s.getsockname()[1]
    finally:
        s.close()
    sess = d.wait_session(since=mark, client_port=cport)
    check_session(sess[0], via="http", mptcp="yes")


@S.case
def keepalive_mixed_methods_and_framing():
    c = setup()
    o, d = c["a"], c["d"]
    s = connect(d.listener("http").addr)
    rd = Reader(s)
    try:
        n = 3 * MiB + 1
        s.sendall(get(o.port, f"/chunked/{n}"))
        h = hashlib.sha256()
        r = http_read_response(rd, body_hash=h)
        check_eq((r.status, h.hexdigest()), (200, payload_sha(n)), "chunked response")
        body = bytes(payload(200001))
        s.sendall((f"POST http://127.0.0.1:{o.port}/sum HTTP/1.1\r\nHost: 127.0.0.1:{o.port}\r\n"
                   f"Content-Length: {len(body)}\r\n\r\n").encode() + body)
        r = http_read_response(rd)
        check_eq((r.status, r.body.decode().strip()), (200, payload_sha(200001)), "POST sha")
        s.sendall(get(o.port, "/bytes/0"))
        r = http_read_response(rd)
        check_eq((r.status, r.body), (200, b""), "empty body")
        s.sendall(get(o.port, "/missing"))
        r = http_read_response(rd)
        check_eq(r.status, 404, "origin 404 passed through")
        s.sendall(get(o.port, "/bytes/77"))
        r = http_read_response(rd)
        check_eq((r.status, r.body), (200, bytes(payload(77))), "last response")
    finally:
        s.close()


@S.case
def pipelined_requests():
    c = setup()
    o, d = c["a"], c["d"]
    s = connect(d.listener("http").addr)
    rd = Reader(s)
    try:
        s.sendall(get(o.port, "/bytes/10") + get(o.port, "/bytes/20"))
        r1 = http_read_response(rd)
        r2 = http_read_response(rd)
        check_eq((r1.body, r2.body), (bytes(payload(10)), bytes(payload(20))),
                 "pipelined responses in order")
    finally:
        s.close()


@S.case
def two_origins_one_client_socket():
    c = setup()
    a, b, d = c["a"], c["b"], c["d"]
    s = connect(d.listener("http").addr)
    rd = Reader(s)
    try:
        s.sendall(get(a.port, "/bytes/500"))
        r = http_read_response(rd)
        check_eq((r.status, r.body), (200, bytes(payload(500))), "response from origin A")
        bmark = b.count()
        s.sendall(get(b.port, "/bytes/600"))
        r = http_read_response(rd)
        check_eq((r.status, r.body), (200, bytes(payload(600))), "response from origin B")
        check_eq(b.count() - bmark, 1, "connections at origin B")
    finally:
        s.close()


@S.case
def connection_close_from_client():
    c = setup()
    o, d = c["a"], c["d"]
    s = connect(d.listener("http").addr)
    rd = Reader(s)
    try:
        s.sendall(get(o.port, "/bytes/100"))
        r = http_read_response(rd)
        check_eq(r.body, bytes(payload(100)), "first response")
        s.sendall(get(o.port, "/bytes/2048", "Connection: close\r\n"))
        r = http_read_response(rd)
        check_eq((r.status, r.body), (200, bytes(payload(2048))), "response with close")
        closed_after(s, rd)
    finally:
        s.close()
    check_alive(d)


@S.case
def http10_without_keepalive_closes():
    c = setup()
    o, d = c["a"], c["d"]
    s = connect(d.listener("http").addr)
    rd = Reader(s)
    try:
        s.sendall(f"GET http://127.0.0.1:{o.port}/bytes/300 HTTP/1.0\r\n\r\n".encode())
        r = http_read_response(rd)
        check_eq((r.status, r.body), (200, bytes(payload(300))), "HTTP/1.0 response")
        closed_after(s, rd)
    finally:
        s.close()


if __name__ == "__main__":
    S.main()
