"""MPTCP fallback and --mptcp off.

- TCP-only origin: the daemon's MPTCP socket falls back to TCP; data intact,
  origin sees SO_PROTOCOL 6, log says mptcp=fallback.
- --mptcp off: plain TCP upstream even to an MPTCP origin (origin sees 6), mptcp=off.
"""

import os
import socket
import tempfile

from mpconvtest import (release_ctx, MiB, Daemon, Lazy, Origin, Suite, check_eq, check_session,
                        curl_ok, payload, payload_sha, recv_exact,
                        recv_to_eof, sha256_file, socks5_connect, write_payload_file)

S = Suite("fallback")
ctx = {}
N = 16 * MiB


@Lazy
def setup():
    ctx["tmp"] = tempfile.mkdtemp(prefix="mpc-it-")
    ctx["up"] = write_payload_file(os.path.join(ctx["tmp"], "up.bin"), N)
    ctx["out"] = os.path.join(ctx["tmp"], "out.bin")
    ctx["tcp_http"] = Origin("http", tcp_only=True)
    ctx["tcp_echo"] = Origin("echo", tcp_only=True)
    ctx["mp_http"] = Origin("http")
    ctx["mp_echo"] = Origin("echo")
    ctx["auto"] = Daemon(["-l", "socks5://127.0.0.1:0", "-l", "http://127.0.0.1:0",
                          "--mptcp", "auto"], case_scoped=False)
    ctx["off"] = Daemon(["-l", "socks5://127.0.0.1:0", "-l", "http://127.0.0.1:0",
                         "--mptcp", "off"], case_scoped=False)
    return ctx


@S.cleanup
def _cleanup():
    release_ctx(ctx, daemons=("auto", "off"), closables=("tcp_http", "tcp_echo", "mp_http", "mp_echo"))


def socks_echo(dkey, okey, host, want_proto, want_mptcp):
    c = setup()
    d, o = c[dkey], c[okey]
    mark, omark = d.mark(), o.count()
    data = bytes(payload(MiB + 3))
    s = socks5_connect(d.listener("socks5").addr, host, o.port)
    try:
        s.sendall(data)
        got = recv_exact(s, len(data))
        s.shutdown(socket.SHUT_WR)
        check_eq(recv_to_eof(s), b"", "after half-close")
        cport = s.getsockname()[1]
    finally:
        s.close()
    check_eq(got == data, True, "echoed data intact")
    conns = o.wait_conns(omark)
    check_eq(conns[0].proto, want_proto, "origin SO_PROTOCOL")
    sess = d.wait_session(since=mark, client_port=cport)
    check_eq(len(sess), 1, "session end lines")
    check_session(sess[0], via="socks5", mptcp=want_mptcp, up=len(data), down=len(data))


def curl_download(dkey, okey, proxy_kind, want_proto, want_mptcp):
    c = setup()
    d, o = c[dkey], c[okey]
    mark, omark = d.mark(), o.count()
    if proxy_kind == "socks5":
        p = ["--socks5", d.listener("socks5").hostport]
    else:
        p = ["-x", "http://" + d.listener("http").hostport]
    curl_ok(p + ["-o", c["out"], f"http://127.0.0.1:{o.port}/bytes/{N}"])
    check_eq(sha256_file(c["out"]), payload_sha(N), "sha256 of download")
    r = curl_ok(p + ["-H", "Expect:", "-T", c["up"], f"http://127.0.0.1:{o.port}/up"])
    check_eq(r.stdout.decode().strip(), payload_sha(N), "sha256 of upload")
    conns = o.wait_conns(omark, 2)
    for cn in conns:
        check_eq(cn.proto, want_proto, "origin SO_PROTOCOL")
    sess = d.wait_session(since=mark, target_port=o.port, n=2)
    check_eq(len(sess), 2, "session end lines")
    check_session(sess[0], via=proxy_kind, mptcp=want_mptcp, min_down=N)
    check_session(sess[1], via=proxy_kind, mptcp=want_mptcp, min_up=N)


@S.case
def fallback_socks5_echo():
    socks_echo("auto", "tcp_echo", "127.0.0.1", 6, "fallback")


@S.case
def fallback_socks5_echo_ipv6():
    socks_echo("auto", "tcp_echo", "::1", 6, "fallback")


@S.case
def fallback_socks5_curl():
    curl_download("auto", "tcp_http", "socks5", 6, "fallback")


@S.case
def fallback_http_curl():
    curl_download("auto", "tcp_http", "http", 6, "fallback")


@S.case
def auto_to_mptcp_origin_is_yes():
    socks_echo("auto", "mp_echo", "127.0.0.1", 262, "yes")


@S.case
def mptcp_off_socks5_echo():
    socks_echo("off", "mp_echo", "127.0.0.1", 6, "off")


@S.case
def mptcp_off_socks5_curl():
    curl_download("off", "mp_http", "socks5", 6, "off")


@S.case
def mptcp_off_http_curl():
    curl_download("off", "mp_http", "http", 6, "off")


@S.case
def mptcp_off_to_tcp_origin():
    socks_echo("off", "tcp_echo", "::1", 6, "off")


if __name__ == "__main__":
    S.main()
