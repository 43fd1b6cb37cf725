"""mixed:// listener: SOCKS5 and HTTP on the same port (with and without auth)."""

import os
import tempfile

from mpconvtest import (release_ctx, MiB, Daemon, Lazy, Origin, Suite, basic_auth, check, check_eq,
                        check_session, curl, curl_ok, http_get_ok,
                        make_cert, payload_sha, sha256_file, socks5_echo_ok)

S = Suite("mixed")
ctx = {}
N = 8 * MiB


@Lazy
def setup():
    ctx["tmp"] = tempfile.mkdtemp(prefix="mpc-it-")
    ctx["cert"], ctx["key"] = make_cert(ctx["tmp"])
    ctx["out"] = os.path.join(ctx["tmp"], "out.bin")
    ctx["http"] = Origin("http")
    ctx["https"] = Origin("https", certfile=ctx["cert"], keyfile=ctx["key"])
    ctx["echo"] = Origin("echo")
    ctx["d"] = Daemon(["-l", "mixed://127.0.0.1:0"], case_scoped=False)
    ctx["da"] = Daemon(["-l", "mixed://dave:d4ve-pw@127.0.0.1:0"], case_scoped=False)
    return ctx


@S.cleanup
def _cleanup():
    release_ctx(ctx, daemons=("d", "da"), closables=("http", "https", "echo"))


def download(d, proxy_args, url, origin, via, extra=()):
    c = setup()
    mark, omark = d.mark(), origin.count()
    curl_ok(list(proxy_args) + list(extra) + ["-o", c["out"], url])
    check_eq(sha256_file(c["out"]), payload_sha(N), "sha256")
    check_eq(origin.wait_conns(omark)[0].proto, 262, "origin SO_PROTOCOL")
    sess = d.wait_session(since=mark, target_port=origin.port)
    check_session(sess[0], via=via, mptcp="yes", min_down=N)


@S.case
def listening_line_says_mixed():
    check_eq(setup()["d"].listeners[0].kind, "mixed", "listener kind in the log")


@S.case
def socks5_on_mixed():
    c = setup()
    d = c["d"]
    lst = d.listener("mixed")
    socks5_echo_ok(lst, c["echo"], daemon=c["d"])
    download(d, ["--socks5", lst.hostport], f"http://127.0.0.1:{c['http'].port}/bytes/{N}",
             c["http"], "socks5")
    download(d, ["--socks5-hostname", lst.hostport],
             f"http://localhost:{c['http'].port}/bytes/{N}", c["http"], "socks5")


@S.case
def http_on_mixed():
    c = setup()
    d = c["d"]
    lst = d.listener("mixed")
    http_get_ok(lst, c["http"], daemon=c["d"])
    download(d, ["-x", "http://" + lst.hostport], f"http://127.0.0.1:{c['http'].port}/bytes/{N}",
             c["http"], "http")
    download(d, ["-x", "http://" + lst.hostport], f"https://localhost:{c['https'].port}/bytes/{N}",
             c["https"], "http", extra=["--cacert", c["cert"]])


@S.case
def alternating_protocols_same_port():
    c = setup()
    lst = c["d"].listener("mixed")
    for _ in range(3):
        socks5_echo_ok(lst, c["echo"], daemon=c["d"])
        http_get_ok(lst, c["http"], daemon=c["d"])


@S.case
def mixed_with_auth():
    c = setup()
    d = c["da"]
    lst = d.listener("mixed")
    socks5_echo_ok(lst, c["echo"], "dave", "d4ve-pw", daemon=d)
    http_get_ok(lst, c["http"], auth=basic_auth("dave", "d4ve-pw"), daemon=d)
    o = c["http"]
    url = f"http://127.0.0.1:{o.port}/bytes/10"
    r = curl(["-x", "http://" + lst.hostport, "-o", os.devnull, "-w", "%{http_code}", url])
    check_eq(r.stdout.decode(), "407", "HTTP on mixed without credentials")
    r = curl(["--socks5", lst.hostport, "--proxy-user", "dave:nope", "-o", os.devnull, url])
    check(r.returncode != 0, "SOCKS5 on mixed with a wrong password succeeded")
    download(d, ["--socks5", lst.hostport, "--proxy-user", "dave:d4ve-pw"],
             f"http://127.0.0.1:{o.port}/bytes/{N}", o, "socks5")


if __name__ == "__main__":
    S.main()
