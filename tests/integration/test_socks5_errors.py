"""SOCKS5 malformed / abusive input with raw sockets; exact reply bytes.

After every case the same daemon process must still be alive and serve a
normal CONNECT (echo round trip) on the same listener.
"""

import socket
import time

from mpconvtest import (release_ctx, Daemon, Lazy, Origin, Suite, UnresponsivePort, check, check_alive,
                        check_eq, check_session, closed_port,
                        connect, payload, recv_exact, recv_to_eof, socks5_addr,
                        socks5_connect, socks5_echo_ok, socks5_reply)

S = Suite("socks5_errors")
ctx = {}
USER, PASS = "bob", "pa55word"


@Lazy
def setup():
    ctx["echo"] = Origin("echo")
    conf = "[timeouts]\nconnect = 0.5\n"
    ctx["d"] = Daemon(["-l", "socks5://127.0.0.1:0"], config=conf, case_scoped=False)
    ctx["da"] = Daemon(["-l", f"socks5://{USER}:{PASS}@127.0.0.1:0"], config=conf,
                       case_scoped=False)
    return ctx


@S.cleanup
def _cleanup():
    release_ctx(ctx, daemons=("d", "da"), closables=("echo",))


def plain():
    return setup()["d"].listener("socks5")


def authed():
    return setup()["da"].listener("socks5")


def still_serves(auth=False):
    c = setup()
    d = c["da"] if auth else c["d"]
    check_alive(d)
    if auth:
        socks5_echo_ok(authed(), c["echo"], USER, PASS, daemon=d)
    else:
        socks5_echo_ok(plain(), c["echo"], daemon=d)
    check_alive(d)


def greet(s, methods=b"\x00", want=b"\x05\x00"):
    s.sendall(b"\x05" + bytes([len(methods)]) + methods)
    check_eq(recv_exact(s, 2), want, "method selection reply")


def request_reply(cmd, addr_bytes, timeout=10):
    """Greets, sends a request with command cmd; returns (reply, bytes-until-close)."""
    s = connect(plain().addr, timeout)
    try:
        greet(s)
        s.sendall(b"\x05" + bytes([cmd]) + b"\x00" + addr_bytes)
        rep = socks5_reply(s)
        rest = recv_to_eof(s, timeout)
        return rep, rest
    finally:
        s.close()


def expect_rep(cmd, addr_bytes, code, timeout=10):
    rep, rest = request_reply(cmd, addr_bytes, timeout)
    check_eq(rep[:3], b"\x05" + bytes([code]) + b"\x00", "reply VER REP RSV")
    check_eq(rest, b"", "bytes after the error reply (connection must close)")


@S.case
def wrong_version_socks4():
    s = connect(plain().addr)
    try:
        s.sendall(b"\x04\x01\x00\x50\x7f\x00\x00\x01user\x00")
        got = recv_to_eof(s)
    finally:
        s.close()
    # Not SOCKS5: close, optionally after a "no acceptable methods" reply.
    check(got in (b"", b"\x05\xff"), f"reply to a SOCKS4 greeting: {got!r}")
    still_serves()


@S.case
def nmethods_zero():
    s = connect(plain().addr)
    try:
        s.sendall(b"\x05\x00")
        got = recv_to_eof(s)
    finally:
        s.close()
    check_eq(got, b"\x05\xff", "reply to nmethods=0")
    still_serves()


@S.case
def no_acceptable_method():
    s = connect(plain().addr)
    try:
        s.sendall(b"\x05\x02\x01\x80")  # GSSAPI and a private method only
        got = recv_to_eof(s)
    finally:
        s.close()
    check_eq(got, b"\x05\xff", "reply when no method is acceptable")
    still_serves()


@S.case
def auth_listener_rejects_noauth_only_client():
    s = connect(authed().addr)
    try:
        s.sendall(b"\x05\x01\x00")
        got = recv_to_eof(s)
    finally:
        s.close()
    check_eq(got, b"\x05\xff", "auth listener, client offers only no-auth")
    still_serves(auth=True)


@S.case
def method_choice():
    # A listener without credentials picks no-auth even if user/pass is offered first.
    s = connect(plain().addr)
    try:
        greet(s, b"\x02\x00", b"\x05\x00")
    finally:
        s.close()
    s = connect(authed().addr)
    try:
        greet(s, b"\x00\x02", b"\x05\x02")
    finally:
        s.close()
    still_serves()
    still_serves(auth=True)


@S.case
def bind_not_supported():
    expect_rep(0x02, socks5_addr("127.0.0.1", 80), 0x07)
    still_serves()


@S.case
def udp_associate_not_supported():
    expect_rep(0x03, socks5_addr("0.0.0.0", 0), 0x07)
    still_serves()


@S.case
def unknown_command():
    expect_rep(0x09, socks5_addr("127.0.0.1", 80), 0x07)
    still_serves()


@S.case
def unknown_address_type():
    s = connect(plain().addr)
    try:
        greet(s)
        s.sendall(b"\x05\x01\x00\x09\x7f\x00\x00\x01\x00\x50")
        rep = socks5_reply(s)
        rest = recv_to_eof(s)
    finally:
        s.close()
    check_eq(rep[:3], b"\x05\x08\x00", "reply VER REP RSV for ATYP 0x09")
    check_eq(rest, b"", "bytes after the error reply")
    still_serves()


@S.case
def wrong_password():
    s = connect(authed().addr)
    try:
        greet(s, b"\x02", b"\x05\x02")
        s.sendall(b"\x01\x03bob\x05wrong")
        got = recv_to_eof(s)
    finally:
        s.close()
    check_eq(got, b"\x01\x01", "RFC 1929 reply to a wrong password, then close")
    s = connect(authed().addr)
    try:
        greet(s, b"\x02", b"\x05\x02")
        s.sendall(b"\x01\x05alice\x08pa55word")
        got = recv_to_eof(s)
    finally:
        s.close()
    check_eq(got, b"\x01\x01", "RFC 1929 reply to an unknown user, then close")
    still_serves(auth=True)


@S.case
def wrong_auth_subnegotiation_version():
    s = connect(authed().addr)
    try:
        greet(s, b"\x02", b"\x05\x02")
        s.sendall(b"\x05\x03bob\x08pa55word")
        got = recv_to_eof(s)
    finally:
        s.close()
    check(got in (b"", b"\x01\x01"), f"reply to auth version 5: {got!r}")
    still_serves(auth=True)


@S.case
def connect_refused():
    hold, port = closed_port()
    try:
        expect_rep(0x01, socks5_addr("127.0.0.1", port), 0x05)
    finally:
        hold.close()
    still_serves()


@S.case
def connect_unresolvable_name():
    expect_rep(0x01, socks5_addr("nonexistent.invalid", 80), 0x04, timeout=30)
    still_serves()


@S.case
def connect_timeout():
    with UnresponsivePort() as u:
        t0 = time.monotonic()
        expect_rep(0x01, socks5_addr("127.0.0.1", u.port), 0x06, timeout=15)
        el = time.monotonic() - t0
    check(el >= 0.4, f"timeout reply after {el:.2f}s, before [timeouts] connect = 0.5")
    still_serves()


def pipelined(auth, chunks, early, byte_by_byte, want_replies):
    """Sends greeting/auth/request/early data (each chunk either byte by byte or
    everything in one write), then checks the replies and the echoed early data."""
    c = setup()
    d = c["da"] if auth else c["d"]
    listener = d.listener("socks5")
    mark = d.mark()
    s = connect(listener.addr, 15)
    try:
        data = b"".join(chunks) + early
        if byte_by_byte:
            for i in range(len(data)):
                s.send(data[i:i + 1])
                if i < 64:
                    time.sleep(0.002)  # separate segments, not a readiness wait
        else:
            s.sendall(data)
        for want in want_replies:
            check_eq(recv_exact(s, len(want)), want, "handshake reply")
        rep = socks5_reply(s)
        check_eq(rep[:3], b"\x05\x00\x00", "CONNECT reply")
        got = recv_exact(s, len(early))
        check(got == early, f"early data corrupted ({len(early)} bytes)")
        s.shutdown(socket.SHUT_WR)
        check_eq(recv_to_eof(s), b"", "after half-close")
        cport = s.getsockname()[1]
    finally:
        s.close()
    sess = d.wait_session(since=mark, client_port=cport)
    check_eq(len(sess), 1, "session end lines")
    check_session(sess[0], via="socks5", mptcp="yes", up=len(early), down=len(early))
    check_alive(d)


def auth_msg(u, p):
    return b"\x01" + bytes([len(u)]) + u.encode() + bytes([len(p)]) + p.encode()


@S.case
def byte_at_a_time_with_early_data():
    o = setup()["echo"]
    early = b"EARLY\x00DATA\xff" * 7
    pipelined(True, [b"\x05\x01\x02", auth_msg(USER, PASS),
                         b"\x05\x01\x00" + socks5_addr("127.0.0.1", o.port)],
              early, True, [b"\x05\x02", b"\x01\x00"])
    pipelined(False, [b"\x05\x01\x00", b"\x05\x01\x00" + socks5_addr("localhost", o.port)],
              early, True, [b"\x05\x00"])
    still_serves()


@S.case
def one_write_with_early_data():
    o = setup()["echo"]
    early = bytes(payload(256 * 1024))
    pipelined(True, [b"\x05\x01\x02", auth_msg(USER, PASS),
                         b"\x05\x01\x00" + socks5_addr("127.0.0.1", o.port)],
              early, False, [b"\x05\x02", b"\x01\x00"])
    pipelined(False, [b"\x05\x02\x00\x02", b"\x05\x01\x00" + socks5_addr("::1", o.port)],
              early, False, [b"\x05\x00"])
    still_serves()


@S.case
def connect_ipv4_domain_ipv6_ok():
    c = setup()
    o, d = c["echo"], c["d"]
    for host in ("127.0.0.1", "localhost", "::1"):
        mark, omark = d.mark(), o.count()
        s = socks5_connect(plain().addr, host, o.port)
        try:
            data = b"hello " + host.encode()
            s.sendall(data)
            check_eq(recv_exact(s, len(data)), data, "echo")
            s.shutdown(socket.SHUT_WR)
            check_eq(recv_to_eof(s), b"", "after half-close")
            cport = s.getsockname()[1]
        finally:
            s.close()
        conns = o.wait_conns(omark)
        check_eq(conns[0].proto, 262, f"origin SO_PROTOCOL for {host}")
        sess = d.wait_session(since=mark, client_port=cport)
        check_session(sess[0], via="socks5", mptcp="yes", up=len(data), down=len(data))


if __name__ == "__main__":
    S.main()
