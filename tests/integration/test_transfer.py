"""Large transfers through SOCKS5 and the HTTP proxy with curl; MPTCP upstream.

Every transfer checks: sha256 of the data, the origin saw an MPTCP connection
(SO_PROTOCOL 262), and the daemon's "session end" line (mptcp=yes, byte counts).
"""

import os
import tempfile

from mpconvtest import (release_ctx, BIG, MiB, Daemon, Lazy, Origin, Reader, Suite, basic_auth, check,
                        check_eq, check_session, connect,
                        curl, curl_ok, http_read_response, make_cert, payload_sha,
                        sha256_file, write_payload_file)

S = Suite("transfer")
ctx = {}


@Lazy
def setup():
    tmp = tempfile.mkdtemp(prefix="mpc-it-")
    ctx["tmp"] = tmp
    ctx["cert"], ctx["key"] = make_cert(tmp)
    ctx["up"] = write_payload_file(os.path.join(tmp, "upload.bin"), BIG)
    ctx["out"] = os.path.join(tmp, "download.bin")
    ctx["http"] = Origin("http")
    ctx["https"] = Origin("https", certfile=ctx["cert"], keyfile=ctx["key"])
    ctx["d"] = Daemon(["-l", "socks5://127.0.0.1:0", "-l", "http://127.0.0.1:0",
                       "--mptcp", "auto", "--log-level", "info"], case_scoped=False)
    ctx["da"] = Daemon(["-l", "socks5://alice:s3cret@127.0.0.1:0",
                        "-l", "http://alice:s3cret@127.0.0.1:0"], case_scoped=False)
    return ctx


@S.cleanup
def _cleanup():
    release_ctx(ctx, daemons=("d", "da"), closables=("http", "https"))


def run_transfer(proxy_args, url, origin, via, upload=False, n=BIG, d_key="d",
                 extra=(), target=None):
    """One curl transfer; checks data, origin MPTCP and the session end line."""
    c = setup()
    d = c[d_key]
    mark, omark = d.mark(), origin.count()
    if upload:
        r = curl_ok(list(proxy_args) + list(extra) + ["-H", "Expect:", "-T", c["up"], url])
        check_eq(r.stdout.decode().strip(), payload_sha(n), "sha256 reported by origin")
    else:
        if os.path.exists(c["out"]):
            os.unlink(c["out"])
        curl_ok(list(proxy_args) + list(extra) + ["-o", c["out"], url])
        check_eq(os.path.getsize(c["out"]), n, "downloaded size")
        check_eq(sha256_file(c["out"]), payload_sha(n), "sha256 of download")
    conns = origin.wait_conns(omark, 1)
    check_eq(len(conns), 1, "connections at origin")
    check_eq(conns[0].proto, 262, "origin SO_PROTOCOL (262 = MPTCP)")
    check(conns[0].subflows is not None and conns[0].subflows >= 1,
          f"origin MPTCP_INFO subflows: {conns[0].subflows}")
    sess = d.wait_session(since=mark, target_port=origin.port)
    check_eq(len(sess), 1, "session end lines for this transfer")
    s = sess[0]
    if upload:
        check_session(s, via=via, mptcp="yes", min_up=n)
    else:
        check_session(s, via=via, mptcp="yes", min_down=n)
    if target:
        check_eq(s["target"], target, "target= field")
    return s


def socks(kind="socks5"):
    c = setup()
    return ["--" + kind, c["d"].listener("socks5").hostport]


def httpx(d_key="d"):
    c = setup()
    return ["-x", "http://" + c[d_key].listener("http").hostport]


@S.case
def socks5_download_64mib():
    o = setup()["http"]
    run_transfer(socks(), f"http://127.0.0.1:{o.port}/bytes/{BIG}", o, "socks5",
                 target=f"127.0.0.1:{o.port}")


@S.case
def socks5_upload_64mib():
    o = setup()["http"]
    run_transfer(socks(), f"http://127.0.0.1:{o.port}/upload", o, "socks5", upload=True)


@S.case
def socks5_hostname_localhost():
    o = setup()["http"]
    s = run_transfer(socks("socks5-hostname"), f"http://localhost:{o.port}/bytes/{4 * MiB}",
                     o, "socks5", n=4 * MiB)
    # The requested name (or, if the daemon logs the resolved address, 127.0.0.1).
    check(s["target"] in (f"localhost:{o.port}", f"127.0.0.1:{o.port}"),
          f"target= for a domain CONNECT: {s['target']}")


@S.case
def http_forward_download_64mib():
    o = setup()["http"]
    run_transfer(httpx(), f"http://127.0.0.1:{o.port}/bytes/{BIG}", o, "http")


@S.case
def http_forward_upload_64mib():
    o = setup()["http"]
    run_transfer(httpx(), f"http://127.0.0.1:{o.port}/upload", o, "http", upload=True)


@S.case
def http_forward_chunked_response():
    o = setup()["http"]
    n = 3 * MiB + 17
    run_transfer(httpx(), f"http://127.0.0.1:{o.port}/chunked/{n}", o, "http", n=n)


@S.case
def http_forward_chunked_upload():
    c = setup()
    o = c["http"]
    mark = c["d"].mark()
    r = curl_ok(httpx() + ["-H", "Expect:", "-H", "Transfer-Encoding: chunked",
                           "-T", c["up"], f"http://127.0.0.1:{o.port}/upload"])
    check_eq(r.stdout.decode().strip(), payload_sha(BIG), "sha256 of chunked upload")
    check_session(c["d"].wait_session(since=mark, target_port=o.port)[0], via="http",
                  mptcp="yes", min_up=BIG)


@S.case
def https_connect_download_64mib():
    c = setup()
    o = c["https"]
    run_transfer(httpx(), f"https://localhost:{o.port}/bytes/{BIG}", o, "http",
                 extra=["--cacert", c["cert"]])


@S.case
def https_connect_upload_64mib():
    c = setup()
    o = c["https"]
    run_transfer(httpx(), f"https://localhost:{o.port}/upload", o, "http", upload=True,
                 extra=["--cacert", c["cert"]])


@S.case
def http_connect_proxytunnel_plain_http():
    o = setup()["http"]
    run_transfer(httpx() + ["--proxytunnel"], f"http://127.0.0.1:{o.port}/bytes/{MiB}", o,
                 "http", n=MiB, target=f"127.0.0.1:{o.port}")


@S.case
def http_forward_removes_hop_by_hop_headers():
    c = setup()
    o, d = c["http"], c["da"]
    lst = d.listener("http")
    mark = d.mark()
    s = connect(lst.addr)
    cport = s.getsockname()[1]
    try:
        s.sendall((f"GET http://127.0.0.1:{o.port}/headers HTTP/1.1\r\n"
                   f"Host: 127.0.0.1:{o.port}\r\n"
                   f"Proxy-Authorization: {basic_auth('alice', 's3cret')}\r\n"
                   "Proxy-Connection: keep-alive\r\n"
                   "Connection: X-Hop, close\r\n"
                   "X-Hop: must-not-pass\r\n"
                   "Keep-Alive: timeout=5\r\n"
                   "X-End-To-End: must-pass\r\n\r\n").encode())
        resp = http_read_response(Reader(s))
    finally:
        s.close()
    check_eq(resp.status, 200, "status")
    seen = resp.body.decode("latin-1").lower()
    check(seen.startswith("get "), f"origin request line: {seen[:80]!r}")
    check(f"/headers http/1.1" in seen.split("\r\n")[0], f"request line {seen[:80]!r}")
    for h in ("proxy-authorization:", "proxy-connection:", "x-hop:", "keep-alive:"):
        check(h not in seen, f"hop-by-hop header {h} reached the origin: {seen!r}")
    check("x-end-to-end: must-pass" in seen, f"end-to-end header lost: {seen!r}")
    check(f"host: 127.0.0.1:{o.port}" in seen, f"Host header lost: {seen!r}")
    check_session(d.wait_session(since=mark, client_port=cport)[0], via="http", mptcp="yes")


@S.case
def socks5_auth_curl():
    c = setup()
    o, d = c["http"], c["da"]
    p = ["--socks5", d.listener("socks5").hostport]
    run_transfer(p + ["--proxy-user", "alice:s3cret"],
                 f"http://127.0.0.1:{o.port}/bytes/{MiB}", o, "socks5", n=MiB, d_key="da")
    omark = o.count()
    r = curl(p + ["--proxy-user", "alice:wrong", "-o", os.devnull,
                  f"http://127.0.0.1:{o.port}/bytes/10"])
    check(r.returncode != 0, "curl with a wrong SOCKS5 password succeeded")
    r = curl(p + ["-o", os.devnull, f"http://127.0.0.1:{o.port}/bytes/10"])
    check(r.returncode != 0, "curl without SOCKS5 credentials succeeded")
    check_eq(o.count() - omark, 0, "origin connections after failed auth")


@S.case
def http_auth_curl():
    c = setup()
    o, d = c["http"], c["da"]
    p = ["-x", "http://" + d.listener("http").hostport]
    run_transfer(p + ["--proxy-user", "alice:s3cret"],
                 f"http://127.0.0.1:{o.port}/bytes/{MiB}", o, "http", n=MiB, d_key="da")
    run_transfer(p + ["--proxy-user", "alice:s3cret", "--cacert", c["cert"]],
                 f"https://localhost:{c['https'].port}/bytes/{MiB}", c["https"], "http",
                 n=MiB, d_key="da")
    omark = o.count()
    r = curl(p + ["--proxy-user", "alice:wrong", "-o", os.devnull, "-w", "%{http_code}",
                  f"http://127.0.0.1:{o.port}/bytes/10"])
    check_eq(r.stdout.decode(), "407", "status for a wrong proxy password (forward)")
    r = curl(p + ["-o", os.devnull, "-w", "%{http_code}", f"http://127.0.0.1:{o.port}/bytes/10"])
    check_eq(r.stdout.decode(), "407", "status without proxy credentials (forward)")
    r = curl(p + ["--proxy-user", "alice:wrong", "--proxytunnel", "-o", os.devnull,
                  "-w", "%{http_connect}", f"http://127.0.0.1:{o.port}/bytes/10"])
    check(r.returncode != 0, "CONNECT with a wrong password succeeded")
    check_eq(r.stdout.decode(), "407", "CONNECT status for a wrong proxy password")
    check_eq(o.count() - omark, 0, "origin connections after failed auth")


if __name__ == "__main__":
    S.main()
