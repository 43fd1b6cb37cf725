"""Listener kinds: TLS (socks5+tls, https, mixed+tls), ?mptcp=1, forward://, and
their -t / start-up checks.

- socks5+tls with a Python ssl client (cert verified against the test CA),
  https with curl --proxy https:// --proxy-cacert, mixed+tls with both; auth on
  all three (wrong password: 01 01 / 407); a plain-TCP client on a TLS listener
  is closed without a proxy answer, reason=client-tls-failed, and the listener
  keeps serving.
- ?mptcp=1: an IPPROTO_MPTCP client is logged client_mptcp=yes (SOCKS5, HTTP,
  socks5+tls, forward); a plain TCP client (curl) works and is not; an MPTCP
  client on a listener without ?mptcp=1 falls back and is not.
- forward://: 16 MiB down (python and ncat), 16 MiB up, 16 MiB both ways at once
  (sha256), origin saw MPTCP; targets 127.0.0.1, [::1] and localhost; a closed
  target port: the client is closed without data, reason=refused.
- -t prints the URLs back (password ***), redirect://...?mptcp=1 is rejected
  (SO_ORIGINAL_DST), a missing cert/key file names the file.
"""

import hashlib
import os
import re
import shutil
import socket
import subprocess
import tempfile
import threading

from mpconvtest import (release_ctx, IPPROTO_MPTCP, MiB, Lazy, Origin, Reader, Suite, basic_auth, check,
                        check_alive, check_eq, check_session, clean_env, closed_port, connect, curl, curl_ok, http_read_response,
                        make_cert, mpconv_bin, mptcp_subflows, payload, payload_sha,
                        recv_exact, recv_to_eof, sha256_file, socks5_request, start_daemon,
                        tls_connect, write_payload_file)

S = Suite("listeners")
ctx = {}
USER, PASS = "alice", "s3cret"
N = 16 * MiB


@Lazy
def setup():
    tmp = tempfile.mkdtemp(prefix="mpc-it-")
    ctx["tmp"] = tmp
    ctx["cert"], ctx["key"] = make_cert(tmp)
    ctx["up"] = write_payload_file(os.path.join(tmp, "upload.bin"), N)
    ctx["out"] = os.path.join(tmp, "download.bin")
    ctx["http"] = Origin("http")
    ctx["https"] = Origin("https", certfile=ctx["cert"], keyfile=ctx["key"])
    ctx["echo"] = Origin("echo")
    ctx["source"] = Origin("source", size=N)
    ctx["sink"] = Origin("sink")
    ctx["closed_sock"], ctx["closed"] = closed_port()
    tls = f"cert={ctx['cert']}&key={ctx['key']}"
    # name -> (URL, logged scheme, logged flags)
    ctx["lspec"] = [
        ("s5tls", f"socks5+tls://{USER}:{PASS}@127.0.0.1:0?{tls}", "socks5+tls",
         {"auth required"}),
        ("https", f"https://{USER}:{PASS}@127.0.0.1:0?{tls}", "https", {"auth required"}),
        ("mixtls", f"mixed+tls://{USER}:{PASS}@127.0.0.1:0?{tls}", "mixed+tls",
         {"auth required"}),
        ("s5mp", "socks5://127.0.0.1:0?mptcp=1", "socks5", {"mptcp"}),
        ("httpmp", "http://127.0.0.1:0?mptcp=1", "http", {"mptcp"}),
        ("s5", "socks5://127.0.0.1:0", "socks5", set()),
        ("s5tlsmp", f"socks5+tls://127.0.0.1:0?mptcp=1&{tls}", "socks5+tls", {"mptcp"}),
    ]
    args = []
    for _, url, _, _ in ctx["lspec"]:
        args += ["-l", url]
    ctx["d"] = start_daemon(args, case_scoped=False)
    ctx["L"] = {}
    for (name, url, scheme, flags), li in zip(ctx["lspec"], ctx["d"].listeners):
        check_eq(li.kind, scheme, f"listening line for {url}: {li.line}")
        check_eq(li.flags, flags, f"listening line flags for {url}: {li.line}")
        ctx["L"][name] = li
    e = ctx["echo"].port
    ctx["fspec"] = [
        ("src", f"forward://127.0.0.1:0/127.0.0.1:{ctx['source'].port}", set()),
        ("sink", f"forward://127.0.0.1:0/127.0.0.1:{ctx['sink'].port}", set()),
        ("v6", f"forward://127.0.0.1:0/[::1]:{e}", set()),
        ("name", f"forward://127.0.0.1:0/localhost:{e}", set()),
        ("closed", f"forward://127.0.0.1:0/127.0.0.1:{ctx['closed']}", set()),
        ("mp6", f"forward://[::1]:0/127.0.0.1:{e}?mptcp=1", {"mptcp"}),
    ]
    args = []
    for _, url, _ in ctx["fspec"]:
        args += ["-l", url]
    ctx["f"] = start_daemon(args, case_scoped=False)
    ctx["F"] = {}
    for (name, url, flags), li in zip(ctx["fspec"], ctx["f"].listeners):
        check_eq(li.kind, "forward", f"listening line for {url}: {li.line}")
        check_eq(li.flags, flags | {"forward"}, f"listening line flags for {url}: {li.line}")
        ctx["F"][name] = li
    check_eq(ctx["F"]["mp6"].host, "[::1]", "forward listener on [::1]")
    return ctx


@S.cleanup
def _cleanup():
    release_ctx(ctx, daemons=("d", "f"), closables=("http", "https", "echo", "source", "sink", "closed_sock"))


def connect_mptcp(addr, timeout=10):
    host, port = addr
    fam = socket.AF_INET6 if ":" in host else socket.AF_INET
    s = socket.socket(fam, socket.SOCK_STREAM, IPPROTO_MPTCP)
    s.settimeout(timeout)
    try:
        s.connect((host, port))
    except BaseException:
        s.close()
        raise
    return s


def echo_session(d, s, n, via, user=None, password=None, host="127.0.0.1", port=None):
    """SOCKS5 (auth optional) over the connected socket s (plain, MPTCP or TLS)
    to the echo origin, n bytes round trip, half-close; returns the session line."""
    c = setup()
    mark = d.mark()
    cport = s.getsockname()[1]
    try:
        method, auth, rep = socks5_request(s, host, port or c["echo"].port, user, password)
        check_eq(method, b"\x05\x02" if user else b"\x05\x00", "method reply")
        if user:
            check_eq(auth, b"\x01\x00", "auth reply")
        check_eq(rep[:3], b"\x05\x00\x00", "CONNECT reply")
        data = bytes(payload(n))
        s.sendall(data)
        check(recv_exact(s, n) == data, "echo data intact")
        if isinstance(s, socket.socket) and not hasattr(s, "unwrap"):
            s.shutdown(socket.SHUT_WR)
            check_eq(recv_to_eof(s), b"", "after half-close")
    finally:
        s.close()
    sess = d.wait_session(since=mark, client_port=cport)
    check_eq(len(sess), 1, "session end lines")
    check_session(sess[0], via=via, mptcp="yes", up=n, down=n)
    return sess[0]


# ---------------------------------------------------------------- TLS listeners

def tls_socks5_ok(name, user=USER, password=PASS, mptcp=False):
    c = setup()
    s = tls_connect(c["L"][name].addr, c["cert"], "localhost", mptcp=mptcp)
    check(s.version() is not None, "TLS handshake done")
    return echo_session(c["d"], s, MiB + 1, "socks5", user, password)


@S.case
def socks5_tls_python_client():
    sess = tls_socks5_ok("s5tls")
    check(" client_mptcp=" not in sess["_line"], f"TCP client logged as MPTCP: {sess['_line']}")
    c = setup()
    # wrong password inside TLS: RFC 1929 failure, then closed
    mark = c["d"].mark()
    s = tls_connect(c["L"]["s5tls"].addr, c["cert"])
    try:
        cport = s.getsockname()[1]
        method, auth, rep = socks5_request(s, "127.0.0.1", c["echo"].port, USER, "wrong")
        check_eq((method, auth, rep), (b"\x05\x02", b"\x01\x01", None), "wrong password replies")
        check_eq(recv_to_eof(s), b"", "after auth failure")
    finally:
        s.close()
    c["d"].wait_session(since=mark, client_port=cport)
    # no credentials offered on an auth listener: 05 ff
    s = tls_connect(c["L"]["s5tls"].addr, c["cert"])
    try:
        s.sendall(b"\x05\x01\x00")
        check_eq(recv_exact(s, 2), b"\x05\xff", "method reply without credentials")
        check_eq(recv_to_eof(s), b"", "after 05 ff")
    finally:
        s.close()
    tls_socks5_ok("s5tls")


def curl_https_proxy(name, extra, url, out=None):
    c = setup()
    p = ["--proxy", f"https://127.0.0.1:{c['L'][name].port}", "--proxy-cacert", c["cert"]]
    args = p + list(extra) + (["-o", out] if out else []) + [url]
    return curl(args)


def https_proxy_transfers(name):
    c = setup()
    d, o, os_ = c["d"], c["http"], c["https"]
    auth = ["--proxy-user", f"{USER}:{PASS}"]
    for what, extra, url, origin in (
            ("forward download", [], f"http://127.0.0.1:{o.port}/bytes/{N}", o),
            ("forward upload", ["-H", "Expect:", "-T", c["up"]],
             f"http://127.0.0.1:{o.port}/upload", o),
            ("CONNECT download", ["--cacert", c["cert"]],
             f"https://localhost:{os_.port}/bytes/{N}", os_),
            ("CONNECT upload", ["--cacert", c["cert"], "-H", "Expect:", "-T", c["up"]],
             f"https://localhost:{os_.port}/upload", os_)):
        mark, omark = d.mark(), origin.count()
        down = "download" in what
        if down and os.path.exists(c["out"]):
            os.unlink(c["out"])
        r = curl_https_proxy(name, auth + extra, url, c["out"] if down else None)
        check(r.returncode == 0, f"{what} via {name}: curl rc={r.returncode}: "
              f"{r.stderr.decode(errors='replace')}")
        if down:
            check_eq(sha256_file(c["out"]), payload_sha(N), f"{what}: sha256")
        else:
            check_eq(r.stdout.decode().strip(), payload_sha(N), f"{what}: sha256 at origin")
        conns = origin.wait_conns(omark, 1)
        check_eq(conns[0].proto, 262, f"{what}: origin SO_PROTOCOL")
        sess = d.wait_session(since=mark, target_port=origin.port)
        check_eq(len(sess), 1, f"{what}: session end lines")
        check_session(sess[0], via="http", mptcp="yes",
                      **({"min_down": N} if down else {"min_up": N}))
    # wrong password and no password: 407 from inside TLS
    for creds in (["--proxy-user", f"{USER}:wrong"], []):
        r = curl_https_proxy(name, creds + ["-w", "%{http_code}"],
                             f"http://127.0.0.1:{o.port}/bytes/10", os.devnull)
        check_eq(r.stdout.decode(), "407", f"forward status with creds {creds}")
        r = curl_https_proxy(name, creds + ["--proxytunnel", "-w", "%{http_connect}"],
                             f"http://127.0.0.1:{o.port}/bytes/10", os.devnull)
        check(r.returncode != 0, "CONNECT with bad credentials succeeded")
        check_eq(r.stdout.decode(), "407", f"CONNECT status with creds {creds}")
    # a proxy certificate the client does not trust: curl refuses
    r = curl(["--proxy", f"https://127.0.0.1:{c['L'][name].port}",
              "--proxy-user", f"{USER}:{PASS}", "-o", os.devnull,
              f"http://127.0.0.1:{o.port}/bytes/10"])
    check_eq(r.returncode, 60, "curl rc without --proxy-cacert (peer certificate not trusted)")


@S.case
def https_listener_curl():
    https_proxy_transfers("https")


@S.case
def mixed_tls_listener_both_protocols():
    tls_socks5_ok("mixtls")
    https_proxy_transfers("mixtls")


def plain_client_closed(name, data, what):
    """A plain-TCP client on a TLS listener: no proxy answer, closed, reason
    client-tls-failed; then the listener serves a TLS client again."""
    c = setup()
    d = c["d"]
    mark = d.mark()
    s = connect(c["L"][name].addr)
    try:
        cport = s.getsockname()[1]
        s.sendall(data)
        got = recv_to_eof(s, timeout=5)
    finally:
        s.close()
    # Nothing but (at most) TLS alert records: content type 0x15, version 03 0x.
    off = 0
    while off < len(got):
        rec = got[off:off + 5]
        check(len(rec) == 5 and rec[0] == 0x15 and rec[1] == 3,
              f"{what}: non-alert bytes from a TLS listener to a plain client: {got[:64]!r}")
        off += 5 + int.from_bytes(rec[3:5], "big")
    check_eq(off, len(got), f"{what}: truncated alert record {got!r}")
    sess = d.wait_session(since=mark, client_port=cport)
    check_eq(sess[0]["reason"], "client-tls-failed", f"{what}: reason= in {sess[0]['_line']}")
    check_eq(sess[0]["target"], "-", f"{what}: target= in {sess[0]['_line']}")
    check_alive(d)


@S.case
def plain_client_on_tls_listeners():
    c = setup()
    socks = b"\x05\x01\x00\x05\x01\x00" + socket.inet_aton("127.0.0.1") + \
        c["echo"].port.to_bytes(2, "big")
    get = (f"GET http://127.0.0.1:{c['http'].port}/bytes/10 HTTP/1.1\r\n"
           f"Host: 127.0.0.1\r\nProxy-Authorization: {basic_auth(USER, PASS)}\r\n\r\n").encode()
    for name in ("s5tls", "mixtls", "s5tlsmp"):
        plain_client_closed(name, socks, f"plain SOCKS5 on {name}")
    for name in ("https", "mixtls"):
        plain_client_closed(name, get, f"plain HTTP on {name}")
        # curl speaking plain HTTP to the TLS port gets no HTTP answer
        r = curl(["-x", f"http://127.0.0.1:{c['L'][name].port}", "--proxy-user",
                  f"{USER}:{PASS}", "-o", os.devnull, "-w", "%{http_code}",
                  f"http://127.0.0.1:{c['http'].port}/bytes/10"], timeout=20)
        check(r.returncode != 0, f"plain curl on {name} succeeded")
        check_eq(r.stdout.decode(), "000", f"plain curl on {name}: HTTP status")
    tls_socks5_ok("s5tls")
    tls_socks5_ok("mixtls")
    tls_socks5_ok("s5tlsmp", None, None)
    https_good = curl_https_proxy("https", ["--proxy-user", f"{USER}:{PASS}"],
                                  f"http://127.0.0.1:{c['http'].port}/bytes/1000")
    check_eq(https_good.returncode, 0, "https listener after plain clients")
    check(https_good.stdout == bytes(payload(1000)), "https listener body after plain clients")


# ---------------------------------------------------------------- ?mptcp=1

def mptcp_socks(name, want_client_mptcp):
    c = setup()
    s = connect_mptcp(c["L"][name].addr)
    if want_client_mptcp:
        check(mptcp_subflows(s) is not None,
              "client socket fell back to TCP on an ?mptcp=1 listener (no MPTCP_INFO)")
    sess = echo_session(c["d"], s, 256 * 1024 + 3, "socks5")
    if want_client_mptcp:
        check_eq(sess.get("client_mptcp"), "yes", f"client_mptcp= in {sess['_line']}")
    else:
        check(" client_mptcp=" not in sess["_line"],
              f"client_mptcp on a listener without ?mptcp=1: {sess['_line']}")


@S.case
def mptcp_listener_socks5_mptcp_client():
    mptcp_socks("s5mp", True)


@S.case
def mptcp_listener_http_mptcp_client():
    c = setup()
    d, o = c["d"], c["http"]
    mark = d.mark()
    s = connect_mptcp(c["L"]["httpmp"].addr)
    try:
        check(mptcp_subflows(s) is not None, "client socket fell back to TCP")
        cport = s.getsockname()[1]
        s.sendall((f"GET http://127.0.0.1:{o.port}/bytes/{MiB} HTTP/1.1\r\n"
                   f"Host: 127.0.0.1:{o.port}\r\nConnection: close\r\n\r\n").encode())
        resp = http_read_response(Reader(s))
    finally:
        s.close()
    check_eq(resp.status, 200, "status")
    check(resp.body == bytes(payload(MiB)), "body intact")
    sess = d.wait_session(since=mark, client_port=cport)
    check_session(sess[0], via="http", mptcp="yes", min_down=MiB)
    check_eq(sess[0].get("client_mptcp"), "yes", f"client_mptcp= in {sess[0]['_line']}")


@S.case
def mptcp_listener_tls_mptcp_client():
    sess = tls_socks5_ok("s5tlsmp", None, None, mptcp=True)
    check_eq(sess.get("client_mptcp"), "yes", f"client_mptcp= in {sess['_line']}")


@S.case
def mptcp_listener_plain_tcp_clients():
    c = setup()
    d, o = c["d"], c["http"]
    for name, proxy in (("s5mp", ["--socks5"]), ("httpmp", ["-x"])):
        mark = d.mark()
        hp = c["L"][name].hostport
        r = curl_ok(proxy + [("http://" + hp) if proxy == ["-x"] else hp, "-o", c["out"],
                             f"http://127.0.0.1:{o.port}/bytes/{4 * MiB}"])
        del r
        check_eq(sha256_file(c["out"]), payload_sha(4 * MiB), f"curl via {name}: sha256")
        sess = d.wait_session(since=mark, target_port=o.port)
        check_session(sess[0], mptcp="yes", min_down=4 * MiB)
        check(" client_mptcp=" not in sess[0]["_line"],
              f"plain curl logged as MPTCP client: {sess[0]['_line']}")


@S.case
def mptcp_client_on_plain_listener_falls_back():
    mptcp_socks("s5", False)


# ---------------------------------------------------------------- forward://

def fwd_session(mark, cport, target, **kw):
    f = setup()["f"]
    sess = f.wait_session(since=mark, client_port=cport)
    check_eq(len(sess), 1, "session end lines")
    check_session(sess[0], via="forward", **kw)
    check_eq(sess[0]["target"], target, f"target= in {sess[0]['_line']}")
    return sess[0]


@S.case
def forward_download_python():
    c = setup()
    o, f = c["source"], c["f"]
    mark, omark = f.mark(), o.count()
    s = connect(c["F"]["src"].addr, timeout=60)
    try:
        cport = s.getsockname()[1]
        h = hashlib.sha256()
        Reader(s).read_into_hash(N, h)
        check_eq(recv_to_eof(s, timeout=10), b"", "bytes after the source's end")
    finally:
        s.close()
    check_eq(h.hexdigest(), payload_sha(N), "sha256 through forward")
    conns = o.wait_conns(omark, 1)
    check_eq(conns[0].proto, 262, "origin SO_PROTOCOL")
    fwd_session(mark, cport, f"127.0.0.1:{o.port}", mptcp="yes", up=0, down=N)


@S.case
def forward_download_ncat():
    c = setup()
    o, f = c["source"], c["f"]
    if not shutil.which("ncat"):
        from mpconvtest import Skip
        raise Skip("ncat not installed")
    mark, omark = f.mark(), o.count()
    with open(c["out"], "wb") as out:
        r = subprocess.run(["ncat", "--recv-only", "127.0.0.1", str(c["F"]["src"].port)],
                           stdout=out, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL,
                           timeout=60, env=clean_env())
    check_eq(r.returncode, 0, f"ncat rc ({r.stderr.decode(errors='replace')})")
    check_eq(sha256_file(c["out"]), payload_sha(N), "sha256 through forward (ncat)")
    check_eq(o.wait_conns(omark, 1)[0].proto, 262, "origin SO_PROTOCOL")
    sess = f.wait_session(since=mark, target_port=o.port)
    check_session(sess[0], via="forward", mptcp="yes", down=N)


@S.case
def forward_upload():
    c = setup()
    o, f = c["sink"], c["f"]
    mark, omark = f.mark(), o.count()
    s = connect(c["F"]["sink"].addr, timeout=60)
    try:
        cport = s.getsockname()[1]
        mv = payload(N)
        for off in range(0, N, 4 * MiB):
            s.sendall(mv[off:off + 4 * MiB])
        s.shutdown(socket.SHUT_WR)
        got = recv_to_eof(s, timeout=30)
    finally:
        s.close()
    check_eq(got, (payload_sha(N) + "\n").encode(), "sha256 computed by the origin")
    check_eq(o.wait_conns(omark, 1)[0].proto, 262, "origin SO_PROTOCOL")
    fwd_session(mark, cport, f"127.0.0.1:{o.port}", mptcp="yes", up=N, down=65)


def echo_both_ways(addr, n, connector=connect):
    """Sends n bytes from a thread while reading the echo; returns (cport, sha)."""
    s = connector(addr, timeout=60)
    err = []

    def send():
        try:
            mv = payload(n)
            for off in range(0, n, MiB):
                s.sendall(mv[off:off + MiB])
            s.shutdown(socket.SHUT_WR)
        except OSError as e:
            err.append(e)
    try:
        cport = s.getsockname()[1]
        t = threading.Thread(target=send, daemon=True)
        t.start()
        h = hashlib.sha256()
        Reader(s).read_into_hash(n, h)
        check_eq(recv_to_eof(s, timeout=10), b"", "after the echo")
        t.join(30)
        check(not t.is_alive(), "sender thread still running")
        check(not err, f"send error: {err}")
    finally:
        s.close()
    return cport, h.hexdigest()


@S.case
def forward_ipv6_target_both_ways():
    c = setup()
    o, f = c["echo"], c["f"]
    mark, omark = f.mark(), o.count()
    cport, sha = echo_both_ways(c["F"]["v6"].addr, N)
    check_eq(sha, payload_sha(N), "sha256 of the echo")
    conn = o.wait_conns(omark, 1)[0]
    check_eq(conn.family, socket.AF_INET6, "origin address family")
    check_eq(conn.proto, 262, "origin SO_PROTOCOL")
    fwd_session(mark, cport, f"[::1]:{o.port}", mptcp="yes", up=N, down=N)


@S.case
def forward_name_target():
    c = setup()
    o, f = c["echo"], c["f"]
    mark, omark = f.mark(), o.count()
    cport, sha = echo_both_ways(c["F"]["name"].addr, 4 * MiB)
    check_eq(sha, payload_sha(4 * MiB), "sha256 of the echo")
    check_eq(o.wait_conns(omark, 1)[0].proto, 262, "origin SO_PROTOCOL")
    sess = f.wait_session(since=mark, client_port=cport)
    check_session(sess[0], via="forward", mptcp="yes", up=4 * MiB, down=4 * MiB)
    check(sess[0]["target"] in (f"localhost:{o.port}", f"127.0.0.1:{o.port}",
                                f"[::1]:{o.port}"), f"target= in {sess[0]['_line']}")


@S.case
def forward_mptcp_client_on_ipv6_listener():
    c = setup()
    o, f = c["echo"], c["f"]
    mark = f.mark()
    cport, sha = echo_both_ways(c["F"]["mp6"].addr, MiB, connector=connect_mptcp)
    check_eq(sha, payload_sha(MiB), "sha256 of the echo")
    s = fwd_session(mark, cport, f"127.0.0.1:{o.port}", mptcp="yes", up=MiB, down=MiB)
    check_eq(s.get("client_mptcp"), "yes", f"client_mptcp= in {s['_line']}")


def refused_client(addr, data=b""):
    """Connects (from a pre-bound port, so the port is known even when the
    daemon's reset arrives before connect() returns), optionally sends data,
    reads to EOF. A reset anywhere counts as "closed without data"."""
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.settimeout(10)
    try:
        s.bind(("127.0.0.1", 0))
        cport = s.getsockname()[1]
        try:
            s.connect(addr)
            if data:
                s.sendall(data)
        except (ConnectionResetError, BrokenPipeError):
            return cport, b""
        return cport, recv_to_eof(s, timeout=10)
    finally:
        s.close()


@S.case
def forward_closed_target():
    c = setup()
    f = c["f"]
    for _ in range(2):
        mark = f.mark()
        cport, got = refused_client(c["F"]["closed"].addr)
        check_eq(got, b"", "bytes from a forward whose target is closed")
        sess = f.wait_session(since=mark, client_port=cport)
        check_eq(sess[0]["reason"], "refused", f"reason= in {sess[0]['_line']}")
        check_eq(sess[0]["via"], "forward", f"via= in {sess[0]['_line']}")
        check_eq(sess[0]["up"], "0", f"up= in {sess[0]['_line']}")
        check_eq(sess[0]["down"], "0", f"down= in {sess[0]['_line']}")
    # a client that sent data before the refusal is closed the same way
    mark = f.mark()
    cport, got = refused_client(c["F"]["closed"].addr, b"hello")
    check_eq(got, b"", "bytes from a refused forward (client spoke first)")
    check_eq(f.wait_session(since=mark, client_port=cport)[0]["reason"], "refused", "reason")
    check_alive(f)
    cport, sha = echo_both_ways(c["F"]["v6"].addr, 64 * 1024)
    check_eq(sha, payload_sha(64 * 1024), "forward serves after refusals")


# ---------------------------------------------------------------- -t / start-up

def run_bin(args, timeout=15):
    return subprocess.run([mpconv_bin()] + list(args), capture_output=True, timeout=timeout,
                          stdin=subprocess.DEVNULL, env=clean_env())


@S.case
def test_mode_prints_urls():
    c = setup()
    cert, key = c["cert"], c["key"]
    urls = [
        f"socks5+tls://{USER}:{PASS}@127.0.0.1:0?mptcp=1&cert={cert}&key={key}",
        f"https://bob:pw%40x@127.0.0.1:0?cert={cert}&key={key}",
        f"mixed+tls://127.0.0.1:0?cert={cert}&key={key}",
        "socks5://127.0.0.1:0?mptcp=1",
        "http://127.0.0.1:0?mptcp=1",
        "forward://127.0.0.1:0/127.0.0.1:22",
        "forward://127.0.0.1:0/[::1]:22",
        "forward://[::1]:0/localhost:22?mptcp=1",
    ]
    upstream = f"https://{USER}:{PASS}@localhost:8443?ca={cert}&sni=conc.example"
    args = ["-t"]
    for u in urls:
        args += ["-l", u]
    r = run_bin(args + ["-u", upstream])
    out = r.stdout.decode(errors="replace")
    check_eq(r.returncode, 0, f"-t exit status (stderr {r.stderr!r})")
    listens = re.findall(r"^listen = (.*)$", out, re.M)
    want = [u.replace(f":{PASS}@", ":***@").replace(":pw%40x@", ":***@") for u in urls]
    check_eq(listens, want, "listen = lines printed by -t")
    check_eq(re.findall(r"^upstream = (.*)$", out, re.M),
             [upstream.replace(f":{PASS}@", ":***@")], "upstream = line printed by -t")
    check(PASS not in out and "pw%40x" not in out and "pw@x" not in out,
          f"password printed by -t: {out!r}")
    for sch in ("socks5+tls", "https"):
        r = run_bin(["-t", "-u", f"{sch}://{USER}:{PASS}@127.0.0.1:1?ca={cert}"])
        check_eq(r.returncode, 0, f"-t with -u {sch}")
        check(f"upstream = {sch}://{USER}:***@127.0.0.1:1?ca={cert}" in r.stdout.decode(),
              f"-t output for -u {sch}: {r.stdout!r}")


@S.case
def redirect_with_mptcp_rejected():
    for extra in (["-t"], []):
        r = run_bin(extra + ["-l", "redirect://127.0.0.1:0?mptcp=1"])
        err = r.stderr.decode(errors="replace")
        check(r.returncode != 0, f"redirect ?mptcp=1 accepted ({extra}): {err!r}")
        check("SO_ORIGINAL_DST" in err, f"message lacks SO_ORIGINAL_DST: {err!r}")
        check("listening:" not in err, f"listened anyway: {err!r}")
    # tproxy with ?mptcp=1 is fine for -t (its own tests need root + nft)
    r = run_bin(["-t", "-l", "tproxy://127.0.0.1:0?mptcp=1"])
    check_eq(r.returncode, 0, f"-t tproxy ?mptcp=1 ({r.stderr!r})")


@S.case
def tls_listener_missing_files():
    c = setup()
    missing = os.path.join(c["tmp"], "no-such-dir", "missing-cert.pem")
    missing_key = os.path.join(c["tmp"], "missing-key.pem")
    cases = [
        (f"https://127.0.0.1:0?cert={missing}&key={c['key']}", missing),
        (f"socks5+tls://127.0.0.1:0?cert={missing}&key={c['key']}", missing),
        (f"mixed+tls://127.0.0.1:0?cert={c['cert']}&key={missing_key}", missing_key),
    ]
    for url, path in cases:
        for extra in ([], ["-t"]):
            r = run_bin(extra + ["-l", url, "-l", "socks5://127.0.0.1:0"])
            err = r.stderr.decode(errors="replace")
            check(r.returncode != 0, f"started with {url} {extra}: {err!r}")
            check(path in err, f"message does not name {path}: {err!r}")
            check("listening:" not in err, f"listened anyway with {url}: {err!r}")


if __name__ == "__main__":
    S.main()
