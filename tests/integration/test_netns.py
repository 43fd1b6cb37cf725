"""MPTCP disabled in a network namespace (net.mptcp.enabled=0).

Needs root and `ip netns` (skip otherwise; under CI=true a skip fails).
Creates mpc-nsoff-<pid>-<rand>, removed on exit (try/finally, atexit, SIGTERM).
- --mptcp auto: curl through mpconv to an origin in the same netns works, log mptcp=off.
- --mptcp on: refuses to start (non-zero exit, message mentions MPTCP).
"""

import os
import re
import shutil
import subprocess
import tempfile

from mpconvtest import (MiB, Daemon, Lazy, OriginProcess, Suite, Skip, acl_allow_args, check, check_eq,
                        check_session, curl_ok, mpconv_bin, netns_create, netns_delete,
                        netns_exec, netns_usable, payload_sha, sha256_file)

S = Suite("netns")
ctx = {}
N = 4 * MiB


@Lazy
def setup():
    why = netns_usable()
    if why:
        raise Skip(why)
    mpconv_bin()
    ctx["tmp"] = tempfile.mkdtemp(prefix="mpc-it-")
    ns = netns_create("nsoff")
    ctx["ns"] = ns
    r = netns_exec(ns, ["sysctl", "-w", "net.mptcp.enabled=0"])
    if r.returncode != 0:
        raise Skip(f"cannot set net.mptcp.enabled=0: {r.stderr.decode(errors='replace')}")
    r = netns_exec(ns, ["sysctl", "-n", "net.mptcp.enabled"])
    check_eq(r.stdout.decode().strip(), "0", "net.mptcp.enabled in the netns")
    ctx["origin"] = OriginProcess("http", netns=ns)
    check_eq(ctx["origin"].listen_proto, 6, "origin in the netns is plain TCP")
    return ctx


@S.cleanup
def _cleanup():
    if "origin" in ctx:
        ctx["origin"].close()
    if "ns" in ctx:
        netns_delete(ctx["ns"])
        r = subprocess.run(["ip", "netns", "list"], capture_output=True, timeout=10)
        if ctx["ns"] in r.stdout.decode():
            print(f"warning: netns {ctx['ns']} still present")
    if "tmp" in ctx:
        shutil.rmtree(ctx["tmp"], ignore_errors=True)


@S.case
def auto_mode_works_with_mptcp_disabled():
    c = setup()
    ns, o = c["ns"], c["origin"]
    d = Daemon(["-l", "socks5://127.0.0.1:0", "-l", "http://127.0.0.1:0", "--mptcp", "auto"],
               netns=ns)
    out = os.path.join(c["tmp"], "out.bin")
    for kind, args in (("socks5", ["--socks5", d.listener("socks5").hostport]),
                       ("http", ["-x", "http://" + d.listener("http").hostport])):
        mark, omark = d.mark(), len(o.conns())
        curl_ok(args + ["-o", out, f"http://127.0.0.1:{o.port}/bytes/{N}"], netns=ns)
        check_eq(sha256_file(out), payload_sha(N), f"sha256 via {kind}")
        conns = o.wait_conns(omark)
        check_eq(conns[0][1], 6, "origin SO_PROTOCOL in the netns")
        sess = d.wait_session(since=mark, target_port=o.port)
        check_eq(len(sess), 1, "session end lines")
        check_session(sess[0], via=kind, mptcp="off", min_down=N)
    check(d.alive(), "daemon died")


@S.case
def on_mode_refuses_to_start():
    c = setup()
    cmd = ["ip", "netns", "exec", c["ns"], mpconv_bin(), "-l", "socks5://127.0.0.1:0",
           "--mptcp", "on"] + acl_allow_args()
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         stdin=subprocess.DEVNULL)
    try:
        out, err = p.communicate(timeout=15)
    except subprocess.TimeoutExpired:
        p.kill()
        out, err = p.communicate(timeout=5)
        raise AssertionError("--mptcp on kept running in a netns with MPTCP disabled: "
                             + err.decode(errors="replace")[-300:])
    msg = (out + err).decode(errors="replace")
    check(p.returncode != 0, f"--mptcp on exited 0: {msg!r}")
    check(re.search(r"mptcp", msg, re.I), f"refusal does not mention MPTCP: {msg!r}")
    check("listening:" not in msg, f"--mptcp on listened before refusing: {msg!r}")


if __name__ == "__main__":
    S.main()
