"""SIGHUP reloads the configuration without dropping a connection.

Each case starts a daemon from a config file, opens sessions (an echo tunnel
kept open, a rate-limited 16 MiB download), rewrites the file and sends
SIGHUP, then checks: the open sessions finish intact (sha256, echo), removed
listeners refuse, new ones serve, changed users apply to new clients only; a
broken file or an unusable address is rejected and the old configuration
keeps serving. Runs with one and with two workers."""

import os
import shutil
import signal
import socket
import ssl
import tempfile
import threading

from mpconvtest import (MiB, Daemon, Lazy, Origin, Suite, TestFailure, check, check_eq,
                        closed_port, connect, curl, echo_roundtrip, make_cert, payload,
                        payload_sha, recv_exact, sha256_file, socks5_addr, socks5_connect,
                        socks5_echo_ok, socks5_reply, tls_connect, wait_until, write_config)

S = Suite("reload")
ctx = {}
BIG = 16 * MiB


@Lazy
def setup():
    ctx["tmp"] = tempfile.mkdtemp(prefix="mpc-it-reload-")
    ctx["echo"] = Origin("echo")
    ctx["http"] = Origin("http")
    return ctx


@S.cleanup
def _cleanup():
    for k in ("echo", "http"):
        if k in ctx:
            ctx[k].close()
    if "tmp" in ctx:
        shutil.rmtree(ctx["tmp"], ignore_errors=True)


def users_file(name, lines):
    p = write_config(ctx["tmp"], "".join(f"{l}\n" for l in lines), name)
    os.chmod(p, 0o600)
    return p


def rewrite(d, text):
    with open(d.config_path, "w") as f:
        f.write(text)


def reload(d, expect_ok=True):
    """SIGHUP and wait for the verdict; returns the log lines since."""
    mark = d.mark()
    os.kill(d.pid, signal.SIGHUP)
    if expect_ok:
        d.wait_line(lambda l: "reloaded: configuration" in l, since=mark, what="reloaded")
    else:
        d.wait_line(lambda l: "reload rejected" in l, since=mark, what="reload rejected")
    return d._lines_since(mark)


def announced(lines, scheme):
    """Ports of 'listening: SCHEME://...' lines."""
    out = []
    for l in lines:
        if f"listening: {scheme}://" in l:
            out.append(int(l.split("listening: ", 1)[1].split()[0].rsplit(":", 1)[1]))
    return out


def refused(port):
    s = socket.socket()
    s.settimeout(5)
    try:
        s.connect(("127.0.0.1", port))
    except ConnectionRefusedError:
        return True
    finally:
        s.close()
    return False


def socks5_auth_result(port, user, password):
    """The RFC 1929 status byte the daemon answers for user/password."""
    s = connect(("127.0.0.1", port))
    try:
        s.sendall(b"\x05\x01\x02")
        check_eq(recv_exact(s, 2), b"\x05\x02", "method reply")
        u, p = user.encode(), password.encode()
        s.sendall(b"\x01" + bytes([len(u)]) + u + bytes([len(p)]) + p)
        return recv_exact(s, 2)[1]
    finally:
        s.close()


class Download(threading.Thread):
    """curl through SOCKS5 at a limited rate, so it spans the reload."""

    def __init__(self, port, user=None, rate="8M"):
        super().__init__(daemon=True)
        self.out = os.path.join(ctx["tmp"], f"dl-{port}-{id(self)}.bin")
        proxy = f"socks5h://{user + '@' if user else ''}127.0.0.1:{port}"
        self.args = ["--proxy", proxy, "--limit-rate", rate, "-o", self.out,
                     f"http://127.0.0.1:{ctx['http'].port}/bytes/{BIG}"]
        self.rc = None

    def run(self):
        self.rc = curl(self.args, timeout=60).returncode

    def check(self):
        self.join(70)
        check_eq(self.rc, 0, "curl exit status of the download across the reload")
        check_eq(sha256_file(self.out), payload_sha(BIG), "sha256 of the download")
        os.unlink(self.out)

    def wait_started(self):
        wait_until(lambda: os.path.exists(self.out) and os.path.getsize(self.out) > MiB, 20,
                   "download under way")


def listening_sockets(pid):
    """How many of pid's descriptors are listening TCP/MPTCP sockets."""
    inodes = set()
    for fd in os.listdir(f"/proc/{pid}/fd"):
        try:
            target = os.readlink(f"/proc/{pid}/fd/{fd}")
        except OSError:
            continue
        if target.startswith("socket:["):
            inodes.add(target[8:-1])
    n = 0
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with open(table) as f:
            for row in f.readlines()[1:]:
                cols = row.split()
                if cols[3] == "0A" and cols[9] in inodes:
                    n += 1
    return n


def open_tunnel(port, user=None, password=None):
    s = socks5_connect(("127.0.0.1", port), "127.0.0.1", ctx["echo"].port, user, password)
    echo_roundtrip(s, bytes(payload(1000)))
    return s


def close_tunnel(s):
    echo_roundtrip(s, bytes(payload(5000)))  # still relaying after the reload
    s.shutdown(socket.SHUT_WR)
    s.settimeout(10)
    check_eq(s.recv(10), b"", "EOF after half-close")
    s.close()


def base_config(workers, users, extra=""):
    return (f"[mpconv]\nworkers = {workers}\nlisten = socks5://127.0.0.1:0\n"
            f"listen = http://127.0.0.1:0\n{extra}[auth]\nusers_file = {users}\n")


def listeners_and_users(workers):
    c = setup()
    alice = users_file("users-alice", ["alice:wonderland"])
    bob = users_file("users-bob", ["bob:builder"])
    d = Daemon([], config=base_config(workers, alice))
    socks, http = d.listener("socks5").port, d.listener("http").port
    tunnel = open_tunnel(socks, "alice", "wonderland")
    dl = Download(socks, "alice:wonderland")
    dl.start()
    dl.wait_started()

    # Remove the HTTP listener, add a mixed one, switch the users file.
    rewrite(d, f"[mpconv]\nworkers = {workers}\nlisten = socks5://127.0.0.1:0\n"
               f"listen = mixed://127.0.0.1:0\n[auth]\nusers_file = {bob}\n")
    lines = reload(d)
    check(any(f"closing http://127.0.0.1:0" in l for l in lines), "closing line for http")
    mixed = announced(lines, "mixed")
    check_eq(len(mixed), 1, "one new mixed listener announced")
    check_eq(announced(lines, "socks5"), [], "the socks5 listener is kept, not re-opened")

    check(refused(http), "the removed HTTP listener refuses connections")
    check_eq(socks5_auth_result(socks, "alice", "wonderland"), 1, "alice after the reload")
    check_eq(socks5_auth_result(socks, "bob", "builder"), 0, "bob after the reload")
    socks5_echo_ok(d.listener("socks5"), c["echo"], "bob", "builder", daemon=d)
    check_eq(socks5_auth_result(mixed[0], "bob", "builder"), 0, "bob on the new listener")

    close_tunnel(tunnel)
    dl.check()
    sess = [s for s in d.sessions() if s.get("reason") != "eof" and s.get("up") not in ("0",)]
    check(not [s for s in sess if s["reason"] in ("shutdown", "client-reset",
                                                  "upstream-reset")],
          f"no session cut by the reload: {sess}")
    d.stop(check=True)


@S.case
def listeners_and_users_one_worker():
    listeners_and_users(1)


@S.case
def listeners_and_users_two_workers():
    listeners_and_users(2)


@S.case
def acl_change_applies_to_new_requests():
    c = setup()
    allowed = "[mpconv]\nlisten = socks5://127.0.0.1:0\n[acl]\nallow = 127.0.0.0/8\n"
    d = Daemon([], config=allowed, acl_allow=None)
    port = d.listener("socks5").port
    tunnel = open_tunnel(port)
    rewrite(d, "[mpconv]\nlisten = socks5://127.0.0.1:0\n")  # the safe default again
    reload(d)
    s = connect(("127.0.0.1", port))
    try:
        s.sendall(b"\x05\x01\x00\x05\x01\x00" + socks5_addr("127.0.0.1", c["echo"].port))
        check_eq(recv_exact(s, 2), b"\x05\x00", "method reply")
        check_eq(socks5_reply(s)[:2], b"\x05\x02", "loopback denied after the reload")
    finally:
        s.close()
    close_tunnel(tunnel)  # the tunnel opened under the old ACL is left alone
    rewrite(d, allowed)
    reload(d)
    socks5_echo_ok(d.listener("socks5"), c["echo"], daemon=d)
    d.stop(check=True)


@S.case
def broken_config_keeps_the_running_one():
    c = setup()
    d = Daemon([], config="[mpconv]\nlisten = socks5://127.0.0.1:0\n")
    tunnel = open_tunnel(d.listener("socks5").port)
    rewrite(d, "[mpconv]\nlisten = socks5://127.0.0.1:0\nbogus_key = 1\n")
    lines = reload(d, expect_ok=False)
    why = [l for l in lines if "reload rejected" in l][0]
    check(f"{d.config_path}:3: bogus_key" in why, f"file, line and key named: {why}")
    socks5_echo_ok(d.listener("socks5"), c["echo"], daemon=d)
    close_tunnel(tunnel)
    # A fixed file is taken on the next SIGHUP.
    rewrite(d, "[mpconv]\nlisten = socks5://127.0.0.1:0\nlisten = http://127.0.0.1:0\n")
    check_eq(len(announced(reload(d), "http")), 1, "http listener after the fix")
    d.stop(check=True)


@S.case
def unusable_address_rejects_the_whole_reload():
    c = setup()
    d = Daemon([], config="[mpconv]\nlisten = socks5://127.0.0.1:0\n")
    busy = socket.socket()
    busy.bind(("127.0.0.1", 0))
    busy.listen(1)
    try:
        port = busy.getsockname()[1]
        rewrite(d, "[mpconv]\nlisten = http://127.0.0.1:0\n"
                   f"listen = mixed://127.0.0.1:{port}\n")
        lines = reload(d, expect_ok=False)
        check(any(f"cannot listen on mixed://127.0.0.1:{port}" in l for l in lines),
              f"bind error named: {lines}")
        check_eq(announced(lines, "http"), [], "nothing of the rejected file applied")
        socks5_echo_ok(d.listener("socks5"), c["echo"], daemon=d)
    finally:
        busy.close()
    d.stop(check=True)


@S.case
def scheme_change_on_the_same_port_keeps_the_socket():
    c = setup()
    hold, port = closed_port()
    hold.close()  # a free port for a fixed-port listener
    d = Daemon([], config=f"[mpconv]\nlisten = socks5://127.0.0.1:{port}\n")
    tunnel = open_tunnel(port)
    rewrite(d, f"[mpconv]\nlisten = mixed://127.0.0.1:{port}\n")
    lines = reload(d)
    check_eq(announced(lines, "mixed"), [], "no new socket for the same address")
    close_tunnel(tunnel)
    s = connect(("127.0.0.1", port))
    s.sendall(f"CONNECT 127.0.0.1:{c['echo'].port} HTTP/1.1\r\n\r\n".encode())
    head = s.recv(100)
    check(head.startswith(b"HTTP/1.1 200"), f"HTTP CONNECT on the former SOCKS5 port: {head!r}")
    echo_roundtrip(s, b"x" * 100)
    s.close()
    d.stop(check=True)


@S.case
def tls_certificate_is_replaced():
    c = setup()
    cdir_a = tempfile.mkdtemp(dir=c["tmp"])
    cdir_b = tempfile.mkdtemp(dir=c["tmp"])
    cert_a, key_a = make_cert(cdir_a)
    cert_b, key_b = make_cert(cdir_b)
    live_cert = os.path.join(c["tmp"], "live-cert.pem")
    live_key = os.path.join(c["tmp"], "live-key.pem")
    shutil.copy(cert_a, live_cert)
    shutil.copy(key_a, live_key)
    d = Daemon([], config=f"[mpconv]\nlisten = socks5+tls://127.0.0.1:0?cert={live_cert}"
                          f"&key={live_key}\n", n_listeners=0)
    port = int(d.wait_line(lambda l: "listening: socks5+tls://" in l).rsplit(":", 1)[1].split()[0])
    old = tls_connect(("127.0.0.1", port), cert_a)
    shutil.copy(cert_b, live_cert)
    shutil.copy(key_b, live_key)
    reload(d)
    try:
        tls_connect(("127.0.0.1", port), cert_a).close()
        raise TestFailure("a new connection still got the old certificate")
    except ssl.SSLCertVerificationError:
        pass
    tls_connect(("127.0.0.1", port), cert_b).close()
    # The connection made before the reload still works on its old key.
    old.sendall(b"\x05\x01\x00")
    check_eq(recv_exact(old, 2), b"\x05\x00", "SOCKS5 over the pre-reload TLS session")
    old.sendall(b"\x05\x01\x00" + socks5_addr("127.0.0.1", c["echo"].port))
    check_eq(socks5_reply(old)[:2], b"\x05\x00", "CONNECT over the pre-reload TLS session")
    echo_roundtrip(old, b"y" * 2000)
    old.close()
    d.stop(check=True)


@S.case
def many_reloads_under_traffic_leak_nothing():
    c = setup()
    cfg_a = "[mpconv]\nworkers = 2\nlisten = socks5://127.0.0.1:0\n"
    cfg_b = cfg_a + "listen = http://127.0.0.1:0\nlisten = mixed://127.0.0.1:0\n"
    d = Daemon([], config=cfg_a)
    socks = d.listener("socks5")
    socks5_echo_ok(socks, c["echo"])
    check_eq(listening_sockets(d.pid), 2, "listening sockets: one per worker")
    stop = threading.Event()
    errors = []

    def traffic():
        n = 0
        while not stop.is_set() and n < 2000:
            try:
                socks5_echo_ok(socks, c["echo"], n=2000)
            except Exception as e:  # noqa: BLE001 - reported below
                errors.append(repr(e))
            n += 1

    t = threading.Thread(target=traffic, daemon=True)
    t.start()
    for i in range(20):
        rewrite(d, cfg_b if i % 2 == 0 else cfg_a)
        reload(d)
        socks5_echo_ok(socks, c["echo"], n=2000)
    stop.set()
    t.join(60)
    check_eq(errors, [], "echo sessions during 20 reloads")
    check_eq(listening_sockets(d.pid), 2, "listening sockets after adding and removing "
             "two listeners 10 times")
    d.stop(check=True)


if __name__ == "__main__":
    S.main()
