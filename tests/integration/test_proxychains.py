"""Third-party SOCKS5 clients: proxychains4 (curl, ncat under it) and ncat --proxy."""

import os
import shutil
import subprocess
import tempfile

from mpconvtest import (MiB, Daemon, Lazy, Origin, Skip, Suite, check, check_eq,
                        check_session, clean_env, payload, payload_sha, sha256_file)

S = Suite("proxychains")
ctx = {}
N = 8 * MiB


@Lazy
def setup():
    for tool in ("proxychains4", "ncat", "curl"):
        if not shutil.which(tool):
            raise Skip(f"{tool} not installed")
    ctx["tmp"] = tempfile.mkdtemp(prefix="mpc-it-")
    ctx["out"] = os.path.join(ctx["tmp"], "out.bin")
    ctx["http"] = Origin("http")
    ctx["sink"] = Origin("sink")
    ctx["d"] = Daemon(["-l", "socks5://127.0.0.1:0"], case_scoped=False)
    ctx["da"] = Daemon(["-l", "socks5://erin:3r1n-pw@127.0.0.1:0"], case_scoped=False)
    port = ctx["d"].listener("socks5").port
    aport = ctx["da"].listener("socks5").port
    ctx["conf"] = write_conf("plain.conf", f"socks5 127.0.0.1 {port}")
    ctx["conf_dns"] = write_conf("dns.conf", f"socks5 127.0.0.1 {port}", proxy_dns=True)
    ctx["conf_auth"] = write_conf("auth.conf", f"socks5 127.0.0.1 {aport} erin 3r1n-pw")
    return ctx


def write_conf(name, line, proxy_dns=False):
    p = os.path.join(ctx["tmp"], name)
    with open(p, "w") as f:
        f.write("strict_chain\nquiet_mode\n")
        if proxy_dns:
            f.write("proxy_dns\n")
        f.write("tcp_read_time_out 15000\ntcp_connect_time_out 8000\n\n[ProxyList]\n")
        f.write(line + "\n")
    return p


@S.cleanup
def _cleanup():
    for k in ("d", "da"):
        if k in ctx:
            ctx[k].stop()
    for k in ("http", "sink"):
        if k in ctx:
            ctx[k].close()
    if "tmp" in ctx:
        shutil.rmtree(ctx["tmp"], ignore_errors=True)


def run(cmd, input_bytes=None, timeout=60):
    return subprocess.run(cmd, input=input_bytes, capture_output=True, timeout=timeout,
                          env=clean_env(), stdin=None if input_bytes is not None
                          else subprocess.DEVNULL)


def checked(r, what):
    check(r.returncode == 0, f"{what} rc={r.returncode}: {r.stderr.decode(errors='replace')}")
    return r


def via_daemon(dkey, origin, fn, n_down=None, n_up=None):
    c = setup()
    d = c[dkey]
    mark, omark = d.mark(), origin.count()
    fn()
    conns = origin.wait_conns(omark)
    check_eq(len(conns), 1, "origin connections")
    check_eq(conns[0].proto, 262, "origin SO_PROTOCOL")
    sess = d.wait_session(since=mark, target_port=origin.port)
    check_eq(len(sess), 1, "session end lines")
    check_session(sess[0], via="socks5", mptcp="yes", up=n_up, min_down=n_down)


@S.case
def proxychains_curl():
    c = setup()
    o = c["http"]

    def go():
        checked(run(["proxychains4", "-q", "-f", c["conf"], "curl", "-sS", "--noproxy", "",
                     "-o", c["out"], f"http://127.0.0.1:{o.port}/bytes/{N}"]), "proxychains curl")
        check_eq(sha256_file(c["out"]), payload_sha(N), "sha256")
    via_daemon("d", o, go, n_down=N)


@S.case
def proxychains_curl_proxy_dns():
    c = setup()
    o = c["http"]

    def go():
        checked(run(["proxychains4", "-q", "-f", c["conf_dns"], "curl", "-sS", "--noproxy", "",
                     "-o", c["out"], f"http://localhost:{o.port}/bytes/{N}"]),
                "proxychains curl (proxy_dns)")
        check_eq(sha256_file(c["out"]), payload_sha(N), "sha256")
    via_daemon("d", o, go, n_down=N)


@S.case
def proxychains_ncat_upload():
    c = setup()
    o = c["sink"]
    data = bytes(payload(N))

    def go():
        r = checked(run(["proxychains4", "-q", "-f", c["conf"], "ncat", "127.0.0.1", str(o.port)],
                        input_bytes=data), "proxychains ncat")
        check_eq(r.stdout.decode().strip(), payload_sha(N), "sha256 at the sink")
    via_daemon("d", o, go, n_up=N)


@S.case
def proxychains_with_auth():
    c = setup()
    o = c["sink"]
    data = bytes(payload(MiB))

    def go():
        r = checked(run(["proxychains4", "-q", "-f", c["conf_auth"], "ncat", "127.0.0.1",
                         str(o.port)], input_bytes=data), "proxychains ncat (auth)")
        check_eq(r.stdout.decode().strip(), payload_sha(MiB), "sha256 at the sink")
    via_daemon("da", o, go, n_up=MiB)


@S.case
def ncat_proxy_socks5():
    c = setup()
    o = c["sink"]
    data = bytes(payload(MiB))

    def go():
        r = checked(run(["ncat", "--proxy", c["d"].listener("socks5").hostport,
                         "--proxy-type", "socks5", "127.0.0.1", str(o.port)],
                        input_bytes=data), "ncat --proxy")
        check_eq(r.stdout.decode().strip(), payload_sha(MiB), "sha256 at the sink")
    via_daemon("d", o, go, n_up=MiB)


if __name__ == "__main__":
    S.main()
