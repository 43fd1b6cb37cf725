"""IPv6: SOCKS5 CONNECT to an [::1] origin (MPTCP), HTTP CONNECT/forward to [::1],
and listeners bound to [::1]."""

import os
import shutil
import socket
import tempfile

from mpconvtest import (MiB, Daemon, Lazy, Origin, Reader, Suite, check, check_eq,
                        check_session, check_unique_session_ids, connect, curl_ok,
                        http_read_response, payload, payload_sha, recv_exact, recv_to_eof,
                        sha256_file, socks5_addr, socks5_reply)

S = Suite("ipv6")
ctx = {}
N = 8 * MiB


@Lazy
def setup():
    ctx["tmp"] = tempfile.mkdtemp(prefix="mpc-it-")
    ctx["out"] = os.path.join(ctx["tmp"], "out.bin")
    ctx["echo"] = Origin("echo")
    ctx["http"] = Origin("http")
    ctx["d"] = Daemon(["-l", "socks5://[::1]:0", "-l", "http://[::1]:0",
                       "-l", "socks5://127.0.0.1:0"], case_scoped=False)
    return ctx


@S.cleanup
def _cleanup():
    if "d" in ctx:
        check_unique_session_ids(ctx["d"])
        ctx["d"].stop()
    for k in ("echo", "http"):
        if k in ctx:
            ctx[k].close()
    if "tmp" in ctx:
        shutil.rmtree(ctx["tmp"], ignore_errors=True)


@S.case
def listeners_report_ipv6_addresses():
    d = setup()["d"]
    check_eq(d.listener("socks5", v6=True).host, "[::1]", "socks5 listener host")
    check_eq(d.listener("http", v6=True).host, "[::1]", "http listener host")
    check_eq(d.listener("socks5", v6=False).host, "127.0.0.1", "v4 socks5 listener host")
    check(d.listener("socks5", v6=True).port != 0, "ephemeral port reported")


def socks_v6_echo(listener_v6):
    c = setup()
    d, o = c["d"], c["echo"]
    lst = d.listener("socks5", v6=listener_v6)
    mark, omark = d.mark(), o.count()
    s = connect(lst.addr)
    try:
        s.sendall(b"\x05\x01\x00")
        check_eq(recv_exact(s, 2), b"\x05\x00", "method reply")
        s.sendall(b"\x05\x01\x00" + socks5_addr("::1", o.port))
        rep = socks5_reply(s)
        check_eq(rep[:3], b"\x05\x00\x00", "CONNECT [::1] reply")
        data = bytes(payload(300000))
        s.sendall(data)
        check(recv_exact(s, len(data)) == data, "echo data mismatch")
        s.shutdown(socket.SHUT_WR)
        check_eq(recv_to_eof(s), b"", "after half-close")
        cport = s.getsockname()[1]
    finally:
        s.close()
    conns = o.wait_conns(omark)
    check_eq(conns[0].family, socket.AF_INET6, "origin accepted on the v6 listener")
    check_eq(conns[0].proto, 262, "origin SO_PROTOCOL")
    sess = d.wait_session(since=mark, client_port=cport)
    check_eq(len(sess), 1, "session end lines")
    check_session(sess[0], via="socks5", mptcp="yes", up=len(data), down=len(data))
    check_eq(sess[0]["target"], f"[::1]:{o.port}", "target= for an IPv6 literal")
    if listener_v6:
        check(sess[0]["client"].startswith("[::1]:"), f"client= {sess[0]['client']}")


@S.case
def socks5_connect_ipv6_origin_via_v4_listener():
    socks_v6_echo(False)


@S.case
def socks5_connect_ipv6_origin_via_v6_listener():
    socks_v6_echo(True)


@S.case
def curl_socks5_ipv6_download():
    c = setup()
    d, o = c["d"], c["http"]
    mark, omark = d.mark(), o.count()
    curl_ok(["--socks5", d.listener("socks5", v6=True).hostport, "-o", c["out"],
             f"http://[::1]:{o.port}/bytes/{N}"])
    check_eq(sha256_file(c["out"]), payload_sha(N), "sha256")
    conns = o.wait_conns(omark)
    check_eq((conns[0].family, conns[0].proto), (socket.AF_INET6, 262), "origin family/proto")
    check_session(d.wait_session(since=mark, target_port=o.port)[0], via="socks5",
                  mptcp="yes", min_down=N)


@S.case
def curl_http_forward_ipv6():
    c = setup()
    d, o = c["d"], c["http"]
    mark, omark = d.mark(), o.count()
    curl_ok(["-x", "http://" + d.listener("http", v6=True).hostport, "-o", c["out"],
             f"http://[::1]:{o.port}/bytes/{N}"])
    check_eq(sha256_file(c["out"]), payload_sha(N), "sha256")
    conns = o.wait_conns(omark)
    check_eq((conns[0].family, conns[0].proto), (socket.AF_INET6, 262), "origin family/proto")
    check_session(d.wait_session(since=mark, target_port=o.port)[0], via="http",
                  mptcp="yes", min_down=N)


@S.case
def http_connect_ipv6_literal():
    c = setup()
    d, o = c["d"], c["http"]
    mark = d.mark()
    s = connect(d.listener("http", v6=True).addr)
    try:
        s.sendall(f"CONNECT [::1]:{o.port} HTTP/1.1\r\nHost: [::1]:{o.port}\r\n\r\n".encode())
        rd = Reader(s)
        head = rd.read_until(b"\r\n\r\n")
        check_eq(head.split(b"\r\n")[0], b"HTTP/1.1 200 Connection established", "status")
        s.sendall(b"GET /bytes/4321 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        resp = http_read_response(rd)
        check_eq(resp.body, bytes(payload(4321)), "body through the tunnel")
    finally:
        s.close()
    sess = d.wait_session(since=mark, target_port=o.port)
    check_session(sess[0], via="http", mptcp="yes")
    check_eq(sess[0]["target"], f"[::1]:{o.port}", "target=")


if __name__ == "__main__":
    S.main()
