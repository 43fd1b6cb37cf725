"""Command line and config: -t, bad config files (FILE:LINE: key:), -V/-h,
--mptcp on on a normal host, the log line format."""

import os
import re
import shutil
import subprocess
import tempfile

from mpconvtest import (LOG_RE, Daemon, Lazy, Origin, Skip, Suite, check, check_eq,
                        check_session, clean_env, connect, mpconv_bin, mptcp_available,
                        recv_exact, recv_to_eof, socks5_echo_ok)

S = Suite("cli")
ctx = {}


@Lazy
def setup():
    ctx["tmp"] = tempfile.mkdtemp(prefix="mpc-it-")
    ctx["bin"] = mpconv_bin()
    return ctx


@S.cleanup
def _cleanup():
    if "tmp" in ctx:
        shutil.rmtree(ctx["tmp"], ignore_errors=True)


def run(args, timeout=15):
    r = subprocess.run([setup()["bin"]] + list(args), capture_output=True, timeout=timeout,
                       stdin=subprocess.DEVNULL, env=clean_env())
    r.out = r.stdout.decode(errors="replace")
    r.err = r.stderr.decode(errors="replace")
    return r


def conf(name, text):
    p = os.path.join(setup()["tmp"], name)
    with open(p, "w") as f:
        f.write(text)
    return p


GOOD = """# test config
[mpconv]
listen = socks5://127.0.0.1:0
listen = http://frank:t0ps3cretpw@127.0.0.1:0
upstream = direct
mptcp = off
log_level = warn

[timeouts]
connect = 3.5
handshake = 2.5
idle = 120

[http]
max_header_bytes = 12345
"""


@S.case
def check_config_prints_settings():
    p = conf("good.conf", GOOD)
    r = run(["-t", "-c", p])
    check_eq(r.returncode, 0, f"-t exit status (stderr: {r.err.strip()})")
    out = r.out + r.err
    for pat in (r"socks5://127\.0\.0\.1:0", r"http://[^\s]*127\.0\.0\.1:0",
                r"mptcp\s*=\s*off", r"log_level\s*=\s*warn", r"max_header_bytes\s*=\s*12345",
                r"handshake\s*=\s*2\.50*\b", r"connect\s*=\s*3\.50*\b",
                r"idle\s*=\s*120(\.0*)?\b", r"upstream\s*=\s*direct"):
        check(re.search(pat, out), f"-t output lacks /{pat}/:\n{out}")
    check("t0ps3cretpw" not in out, f"-t output shows the password:\n{out}")


@S.case
def check_config_cli_overrides_file():
    p = conf("good.conf", GOOD)
    r = run(["-t", "-c", p, "--mptcp", "on", "-l", "mixed://127.0.0.1:0"])
    check_eq(r.returncode, 0, f"-t exit status (stderr: {r.err.strip()})")
    out = r.out + r.err
    check(re.search(r"mptcp\s*=\s*on", out), f"--mptcp on not effective:\n{out}")
    check(re.search(r"mixed://127\.0\.0\.1:0", out), f"-l not in output:\n{out}")
    check(not re.search(r"socks5://127\.0\.0\.1:0", out),
          f"-l on the command line must replace the file's listeners:\n{out}")


@S.case
def set_option_overrides_any_key():
    p = conf("good.conf", GOOD + "\n[acl]\nallow = 192.0.2.0/24\ndeny = 10.0.0.0/8\n")
    r = run(["-t", "-c", p, "-o", "timeouts.idle=7.5", "--set", "acl.allow=127.0.0.0/8",
             "-o", "acl.allow=::1, 198.51.100.7", "-o", "http.max_header_bytes=2048"])
    check_eq(r.returncode, 0, f"-t exit status (stderr: {r.err.strip()})")
    out = r.out
    for pat in (r"\nidle = 7\.5\n", r"\nmax_header_bytes = 2048\n",
                r"\n\[acl\]\nclients =\ndeny = 10\.0\.0\.0/8\nallow = 127\.0\.0\.0/8\n"
                r"allow = ::1\nallow = 198\.51\.100\.7\ntcp =\nrequire_mptcp =\n"):
        check(re.search(pat, out), f"-t output lacks /{pat}/:\n{out}")
    check("192.0.2.0" not in out, f"-o acl.allow must replace the file's list:\n{out}")
    # the dump loads back to the same settings
    back = conf("back.conf", out)
    r2 = run(["-t", "-c", back])
    check_eq(r2.returncode, 0, f"-t of the dump (stderr: {r2.err.strip()})")
    check_eq(r2.out.split("\n", 1)[1], out.split("\n", 1)[1], "dump of the dump")

    for args, want in ((["-o", "acl.allow"], "-o expects SECTION.KEY=VALUE"),
                       (["-o", "=1"], "-o expects SECTION.KEY=VALUE"),
                       (["-o", "acl.colour=red"], "acl.colour: unknown key"),
                       (["-o", "acl.deny=10.0.0.300"], "acl.deny: '10.0.0.300': not an IP address"),
                       (["--set", "acl.tcp=10.0.0.1/8"], "did you mean 10.0.0.0/8?")):
        r = run(["-t"] + args)
        check(r.returncode != 0, f"mpconv -t {' '.join(args)} exited 0")
        check(want in r.err, f"mpconv -t {' '.join(args)}: stderr {r.err.strip()!r} lacks {want!r}")


@S.case
def check_builtin_defaults():
    r = run(["-t"])
    check_eq(r.returncode, 0, f"-t without config (stderr: {r.err.strip()})")
    out = r.out + r.err
    check("1080" in out and "8080" in out, f"default listeners not shown:\n{out}")
    check(re.search(r"mptcp\s*=\s*auto", out), f"default mptcp mode not auto:\n{out}")


BAD = [
    # (name, text, line, key)
    ("mode", "[mpconv]\nlisten = socks5://127.0.0.1:0\nmptcp = sometimes\n", 3, "mptcp"),
    ("unknown", "[mpconv]\nbogus_key = 1\n", 2, "bogus_key"),
    ("loglevel", "[mpconv]\n\nlog_level = loud\n", 3, "log_level"),
    ("listen", "[mpconv]\nlisten = ftp://127.0.0.1:21\n", 2, "listen"),
    ("listenport", "[mpconv]\nlisten = socks5://127.0.0.1:99999\n", 2, "listen"),
    ("upstream", "[mpconv]\nupstream = carrier-pigeon\n", 2, "upstream"),
    ("timeout_neg", "[timeouts]\nconnect = -1\n", 2, "connect"),
    ("timeout_word", "[timeouts]\n# comment\nidle = soon\n", 3, "idle"),
    ("header_bytes", "[http]\nmax_header_bytes = lots\n", 2, "max_header_bytes"),
    ("unknown_in_section", "[timeouts]\nconnect = 1\nhandshak = 2\n", 3, "handshak"),
    ("acl_cidr", "[acl]\ndeny = 10.0.0.0/8\n\ndeny = fd00::/8, 10.0.0.300\n", 4, "deny"),
    ("acl_host_bits", "[acl]\nclients = 192.168.1.1/24\n", 2, "clients"),
    ("listen_allow", "[mpconv]\nlisten = socks5://127.0.0.1:0?allow=lan\n", 2, "listen"),
]


@S.case
def bad_config_files():
    bad = []
    for name, text, line, key in BAD:
        p = conf(f"bad-{name}.conf", text)
        for args in (["-t", "-c", p], ["-c", p, "-l", "socks5://127.0.0.1:0"]):
            r = run(args)
            want = f"{p}:{line}: {key}:"
            if r.returncode == 0 or want not in r.err:
                bad.append(f"{name} {' '.join(args[:1])}: rc={r.returncode}, stderr "
                           f"{r.err.strip()[:200]!r} lacks {want!r}")
    check(not bad, "bad configs not rejected as FILE:LINE: key::\n  " + "\n  ".join(bad))


@S.case
def missing_config_file():
    p = os.path.join(setup()["tmp"], "does-not-exist.conf")
    r = run(["-t", "-c", p])
    check(r.returncode != 0, "-t with a missing config file exited 0")
    check(p in r.err, f"error does not name the file: {r.err.strip()!r}")


@S.case
def bad_command_line():
    for args in (["--no-such-option"], ["-l", "gopher://127.0.0.1:0", "-t"],
                 ["--mptcp", "maybe", "-t"], ["--log-level", "chatty", "-t"]):
        r = run(args)
        check(r.returncode != 0, f"mpconv {' '.join(args)} exited 0")
        check(r.err.strip() != "", f"mpconv {' '.join(args)}: no message on stderr")


@S.case
def version_and_help():
    r = run(["-V"])
    check_eq(r.returncode, 0, "-V exit status")
    check(re.search(r"\d+\.\d+\.\d+", r.out + r.err), f"-V output: {r.out!r}")
    r = run(["-h"])
    check_eq(r.returncode, 0, "-h exit status")
    check("-l" in r.out + r.err and "--mptcp" in r.out + r.err, f"-h output: {r.out!r}")
    check("-o, --set SECTION.KEY=VALUE" in r.out, f"-h output lacks -o: {r.out!r}")


@S.case
def mptcp_on_starts_on_normal_host():
    if not mptcp_available():
        raise Skip("MPTCP not available on this host")
    o = Origin("echo")
    try:
        d = Daemon(["-l", "socks5://127.0.0.1:0", "--mptcp", "on"])
        mark, omark = d.mark(), o.count()
        socks5_echo_ok(d.listener("socks5"), o, n=1000)
        check_eq(o.wait_conns(omark)[0].proto, 262, "origin SO_PROTOCOL")
        check_session(d.wait_session(since=mark, target_port=o.port)[0], via="socks5",
                      mptcp="yes", up=1000, down=1000)
        check(d.alive(), "daemon died")
    finally:
        o.close()


@S.case
def config_file_listeners_and_log_format():
    p = conf("run.conf", "[mpconv]\nlisten = socks5://127.0.0.1:0\nlisten = http://127.0.0.1:0\n"
             "log_level = info\n")
    o = Origin("echo")
    try:
        d = Daemon([], config=open(p).read())
        check_eq(sorted(l.kind for l in d.listeners), ["http", "socks5"], "listeners from file")
        for l in d.listeners:
            check(l.port != 0, f"port 0 reported instead of the bound port: {l}")
        socks5_echo_ok(d.listener("socks5"), o)
        d.wait_session(target_port=o.port)
        for line in d.log():
            check(LOG_RE.match(line), f"log line not 'YYYY-mm-ddTHH:MM:SS.mmmZ LEVEL msg': {line!r}")
    finally:
        o.close()


@S.case
def users_file_auth():
    users = conf("users.txt", "gina:g1na-pw\nhank:h4nk-pw\n")
    o = Origin("echo")
    try:
        d = Daemon(["-l", "socks5://127.0.0.1:0"],
                   config=f"[auth]\nusers_file = {users}\n")
        lst = d.listener("socks5")
        socks5_echo_ok(lst, o, "gina", "g1na-pw")
        socks5_echo_ok(lst, o, "hank", "h4nk-pw")
        s = connect(lst.addr)
        try:
            s.sendall(b"\x05\x01\x02")
            check_eq(recv_exact(s, 2), b"\x05\x02", "method reply")
            s.sendall(b"\x01\x04gina\x07h4nk-pw")
            check_eq(recv_to_eof(s), b"\x01\x01", "wrong password from users file")
        finally:
            s.close()
    finally:
        o.close()


@S.case
def sigterm_exits_cleanly():
    d = Daemon(["-l", "socks5://127.0.0.1:0"])
    rc = d.stop()
    check(rc == 0, f"exit status after SIGTERM: {rc}")


if __name__ == "__main__":
    S.main()
