"""Handshake and idle timeouts (0.5 s) while other clients keep being served."""

import socket
import time

from mpconvtest import (Daemon, Lazy, Origin, Reader, Suite, TestFailure, check,
                        check_alive, check_eq, check_session, connect, http_get_ok,
                        recv_exact, socks5_connect, socks5_echo_ok)

S = Suite("timeouts")
ctx = {}
T = 0.5       # configured timeout
BOUND = 5.0   # the daemon must act within this


@Lazy
def setup():
    ctx["echo"] = Origin("echo")
    ctx["http"] = Origin("http")
    ctx["dh"] = Daemon(["-l", "socks5://127.0.0.1:0", "-l", "http://127.0.0.1:0"],
                       config="[timeouts]\nhandshake = 0.5\nidle = 60\n", case_scoped=False)
    ctx["di"] = Daemon(["-l", "socks5://127.0.0.1:0", "-l", "http://127.0.0.1:0"],
                       config="[timeouts]\nidle = 0.5\nhandshake = 10\n", case_scoped=False)
    return ctx


@S.cleanup
def _cleanup():
    for k in ("dh", "di"):
        if k in ctx:
            ctx[k].stop()
    for k in ("echo", "http"):
        if k in ctx:
            ctx[k].close()


def wait_closed(s, t0, bound=BOUND):
    """Waits (bounded) until the daemon closes s; returns (data, seconds since t0)."""
    s.settimeout(bound)
    out = b""
    while True:
        try:
            b = s.recv(65536)
        except ConnectionResetError:
            b = b""
        except socket.timeout:
            raise TestFailure(f"daemon did not close the connection within {bound}s "
                              f"(got {out[:100]!r})")
        if not b:
            return out, time.monotonic() - t0
        out += b
        if len(out) > 65536:
            raise TestFailure("unexpected data")


def stalled_then_closed(listener, partial, served, want_prefix=b"", allow_408=False):
    """Sends a partial handshake, serves another client meanwhile, then expects
    the stalled connection to be closed after about T seconds."""
    s = connect(listener.addr, BOUND)
    try:
        t0 = time.monotonic()
        if partial:
            s.sendall(partial)
        served()  # another client is served while this one stalls
        data, el = wait_closed(s, t0)
    finally:
        s.close()
    check(data.startswith(want_prefix), f"data before close: {data!r}")
    rest = data[len(want_prefix):]
    if allow_408:
        check(rest == b"" or rest.startswith(b"HTTP/1.1 408") or rest.startswith(b"HTTP/1.0 408"),
              f"bytes before close: {rest[:80]!r}")
    else:
        check_eq(rest, b"", "bytes before close")
    check(el >= T * 0.8, f"closed after {el:.2f}s, before the {T}s handshake timeout")
    check(el < BOUND, f"closed after {el:.2f}s")


def h():
    c = setup()
    return c["dh"]


def serve_socks():
    c = setup()
    socks5_echo_ok(c["dh"].listener("socks5"), c["echo"], daemon=c["dh"])


def serve_http():
    c = setup()
    http_get_ok(c["dh"].listener("http"), c["http"], daemon=c["dh"])


@S.case
def socks5_half_greeting_closed():
    stalled_then_closed(h().listener("socks5"), b"\x05\x02\x00", serve_socks)
    check_alive(h())
    serve_socks()


@S.case
def socks5_silent_client_closed():
    stalled_then_closed(h().listener("socks5"), b"", serve_socks)
    serve_socks()


@S.case
def socks5_half_request_closed():
    stalled_then_closed(h().listener("socks5"), b"\x05\x01\x00" + b"\x05\x01\x00\x01\x7f",
                        serve_socks, want_prefix=b"\x05\x00")
    serve_socks()


@S.case
def socks5_slow_drip_is_not_a_keepalive():
    # One byte every 0.1 s of a 257-byte greeting: the timeout is for the whole
    # handshake, so the daemon must close long before the greeting is complete.
    s = connect(h().listener("socks5").addr, BOUND)
    closed_at = None
    try:
        t0 = time.monotonic()
        greeting = b"\x05\xff" + bytes(range(255))
        for i in range(len(greeting)):
            if time.monotonic() - t0 > BOUND:
                break
            try:
                s.send(greeting[i:i + 1])
            except (BrokenPipeError, ConnectionResetError):
                closed_at = time.monotonic() - t0
                break
            s.settimeout(0.1)
            try:
                b = s.recv(16)
            except socket.timeout:
                continue
            except ConnectionResetError:
                b = b""
            check_eq(b, b"", "data from the daemon during the greeting")
            closed_at = time.monotonic() - t0
            break
    finally:
        s.close()
    check(closed_at is not None, f"still open after {BOUND}s of dripping")
    check(closed_at < 3.0, f"closed only after {closed_at:.2f}s")
    serve_socks()


@S.case
def http_half_head_closed():
    o = setup()["http"]
    stalled_then_closed(h().listener("http"),
                        f"GET http://127.0.0.1:{o.port}/bytes/1 HTTP/1.1\r\nHost: x".encode(),
                        serve_http, allow_408=True)
    serve_http()


@S.case
def handshake_timer_stops_after_tunnel_established():
    c = setup()
    s = socks5_connect(c["dh"].listener("socks5").addr, "127.0.0.1", c["echo"].port)
    try:
        s.settimeout(3 * T)
        try:
            b = s.recv(1)  # waits 3x the handshake timeout on an established tunnel
            raise TestFailure(f"established tunnel got {b!r} / closed while idle")
        except socket.timeout:
            pass
        s.settimeout(BOUND)
        s.sendall(b"still-here")
        check_eq(recv_exact(s, 10), b"still-here", "echo after 1.5s idle (idle=60)")
    finally:
        s.close()


def idle_tunnel(kind):
    c = setup()
    d, o = c["di"], c["echo"]
    mark = d.mark()
    if kind == "socks5":
        s = socks5_connect(d.listener("socks5").addr, "127.0.0.1", o.port)
        rd = None
    else:
        s = connect(d.listener("http").addr)
        s.sendall(f"CONNECT 127.0.0.1:{o.port} HTTP/1.1\r\nHost: 127.0.0.1:{o.port}\r\n\r\n"
                  .encode())
        rd = Reader(s)
        head = rd.read_until(b"\r\n\r\n")
        check_eq(head.split(b"\r\n")[0], b"HTTP/1.1 200 Connection established", "status")
        check_eq(bytes(rd.buf), b"", "extra bytes after CONNECT response")
    try:
        cport = s.getsockname()[1]
        # Activity every 0.2 s for ~1.6 s keeps the tunnel open (idle = 0.5).
        for i in range(8):
            if i:
                s.settimeout(0.2)
                try:
                    b = s.recv(1)
                    raise TestFailure(f"unexpected {b!r} / close while active")
                except socket.timeout:
                    pass
            msg = b"tick%d" % i
            s.sendall(msg)
            s.settimeout(BOUND)
            check_eq(recv_exact(s, len(msg)), msg, f"echo {i} while active")
        t0 = time.monotonic()  # last activity
        data, el = wait_closed(s, t0)
    finally:
        s.close()
    check_eq(data, b"", "data before idle close")
    check(el >= T * 0.8, f"idle close {el:.2f}s after the last activity, before idle={T}")
    sess = d.wait_session(since=mark, client_port=cport)
    check_eq(len(sess), 1, "session end lines")
    n = sum(len(b"tick%d" % i) for i in range(8))
    check_session(sess[0], via=kind, mptcp="yes", up=n, down=n)
    check_alive(d)


@S.case
def idle_timeout_socks5_tunnel():
    idle_tunnel("socks5")


@S.case
def idle_timeout_http_connect_tunnel():
    idle_tunnel("http")


@S.case
def idle_daemon_still_serves():
    c = setup()
    socks5_echo_ok(c["di"].listener("socks5"), c["echo"], daemon=c["di"])
    http_get_ok(c["di"].listener("http"), c["http"], daemon=c["di"])


if __name__ == "__main__":
    S.main()
