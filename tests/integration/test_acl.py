"""Access control ([acl], ?allow=) with the real binary.

Destinations: the built-in deny set (loopback, unspecified, the host's own
addresses) refuses 127.0.0.1, ::1, localhost, ::ffff:127.0.0.1, 0.0.0.0 with
SOCKS5 reply 0x02 and HTTP 403 (CONNECT and forwarding), reason=denied, a log
line naming the address, and no connection at the origin; [acl] allow wins over
deny. In a netns mpc-acl-* (veth wan0 with 192.0.2.1/24 and 2001:db8:ac1::1/64,
/etc/netns/NAME/hosts giving localhost both 127.0.0.1 and ::1): the host's own
addresses are denied, allowed again by [acl] allow, an address added while the
daemon runs is denied once its cache refreshes; localhost with only ::1
allowed connects over ::1 (the origin sees IPv6), and a refusal there outranks
the denied IPv4 address. Clients: ?allow= and [acl] clients with clients bound
to 127.0.0.2 / 127.0.0.1 (0x02 even with a wrong password, 403 not 407,
forward:// closed at once, reason=client-denied, no dial). [acl] tcp: the
origin sees SO_PROTOCOL 6, mptcp=off. [acl] require_mptcp: a TCP-only origin
gives 0x01 / 502, reason=mptcp-required; an MPTCP one works. With a parent
proxy only IP literals are checked. Every daemon keeps serving.
"""

import os
import select
import shutil
import socket
import subprocess
import threading

from mpconvtest import (IPPROTO_MPTCP, SO_PROTOCOL, Daemon, Lazy, Origin, Reader, Skip, Suite,
                        basic_auth, check, check_alive, check_eq, check_session,
                        check_unique_session_ids, http_read_response, mptcp_available, netns_create,
                        netns_socket, netns_usable, payload, recv_exact, recv_to_eof,
                        socks5_reply, socks5_request, start_daemon, wait_until)

S = Suite("acl")
ctx = {}
USER, PASS = "carol", "c4rol-pw"
DENIED_LOOPBACK = ("127.0.0.1", "127.1.2.3", "::1", "localhost", "::ffff:127.0.0.1", "0.0.0.0",
                   "::")
NS_V4, NS_V6 = "192.0.2.1", "2001:db8:ac1::1"  # on wan0 in the netns: the host's "own" addresses
NS_DENIED_RANGE, NS_IN_DENIED_RANGE = "192.0.2.64/26", "192.0.2.77"
NS_NEW_ADDRESS = "198.51.100.9"
LOOPBACK_ONLY = "::1"


@Lazy
def setup():
    ctx["echo"] = Origin("echo")
    ctx["http"] = Origin("http")
    ctx["tcp_echo"] = Origin("echo", tcp_only=True)
    ctx["tcp_http"] = Origin("http", tcp_only=True)
    listeners = ["-l", "socks5://127.0.0.1:0", "-l", "http://127.0.0.1:0"]
    ctx["listeners"] = listeners
    ctx["d0"] = Daemon(listeners, acl_allow=None, case_scoped=False)  # mpconv's own default
    return ctx


@S.cleanup
def _cleanup():
    for k in ("d0",):
        if k in ctx:
            check_unique_session_ids(ctx[k])
            ctx[k].stop()
    for k in ("echo", "http", "tcp_echo", "tcp_http"):
        if k in ctx:
            ctx[k].close()
    remove_hosts_file()


# ---------------------------------------------------------------- clients

def client(addr, source=None, ns=None, timeout=10):
    """A TCP connection to addr, from source (an address to bind) or from
    inside netns ns."""
    host, port = addr
    fam = socket.AF_INET6 if ":" in host else socket.AF_INET
    s = netns_socket(ns, fam) if ns else socket.socket(fam, socket.SOCK_STREAM)
    try:
        s.settimeout(timeout)
        if source:
            s.bind((source, 0))
        s.connect((host, port))
        return s
    except BaseException:
        s.close()
        raise


def socks5_try(lst, host, port, ns=None, source=None, user=None, password=None):
    """One-write SOCKS5 handshake; returns (socket, method, auth, reply)."""
    s = client(lst.addr, source, ns)
    try:
        method, auth, rep = socks5_request(s, host, port, user, password)
        return s, method, auth, rep
    except BaseException:
        s.close()
        raise


def expect_socks5_refusal(d, lst, host, port, code, reason, ns=None, source=None, user=None,
                          password=None):
    """The request gets reply `code`, then the connection closes; the session
    ends with `reason`. Returns the session."""
    mark = d.mark()
    s, method, auth, rep = socks5_try(lst, host, port, ns, source, user, password)
    try:
        cport = s.getsockname()[1]
        check_eq(method, b"\x05\x02" if user else b"\x05\x00", f"{host}: method reply")
        if user:
            check_eq(auth, b"\x01\x00", f"{host}: auth reply")
        check(rep is not None, f"{host}: no CONNECT reply")
        check_eq(rep[:3], b"\x05" + bytes([code]) + b"\x00", f"{host}: SOCKS5 reply VER REP RSV")
        check_eq(recv_to_eof(s), b"", f"{host}: bytes after the refusal")
    finally:
        s.close()
    sess = d.wait_session(since=mark, client_port=cport)[0]
    check_eq(sess["reason"], reason, f"{host}: reason in {sess['_line']}")
    return sess


def socks5_echo(d, lst, host, port, ns=None, source=None, user=None, password=None, n=3000):
    """CONNECT succeeds and n bytes come back from an echo origin. Returns the session."""
    mark = d.mark()
    s, method, auth, rep = socks5_try(lst, host, port, ns, source, user, password)
    try:
        cport = s.getsockname()[1]
        check(rep is not None, f"{host}: no CONNECT reply (method {method!r}, auth {auth!r})")
        check_eq(rep[:3], b"\x05\x00\x00", f"{host}: SOCKS5 CONNECT reply")
        data = bytes(payload(n))
        s.sendall(data)
        check_eq(recv_exact(s, n), data, f"{host}: echo")
        s.shutdown(socket.SHUT_WR)
        check_eq(recv_to_eof(s), b"", f"{host}: echo after half-close")
    finally:
        s.close()
    sess = d.wait_session(since=mark, client_port=cport)[0]
    check_session(sess, up=n, down=n)
    check_eq(sess["reason"], "eof", f"reason in {sess['_line']}")
    return sess


def http_exchange(d, lst, request, ns=None, source=None):
    """Sends one request head; returns (response, session)."""
    mark = d.mark()
    s = client(lst.addr, source, ns)
    try:
        cport = s.getsockname()[1]
        s.sendall(request.encode())
        method = request.split(" ", 1)[0]
        resp = http_read_response(Reader(s), method)
    finally:
        s.close()
    return resp, d.wait_session(since=mark, client_port=cport)[0]


def connect_req(target, auth=None):
    extra = f"Proxy-Authorization: {auth}\r\n" if auth else ""
    return f"CONNECT {target} HTTP/1.1\r\nHost: {target}\r\n{extra}\r\n"


def get_req(url, host, auth=None):
    extra = f"Proxy-Authorization: {auth}\r\n" if auth else ""
    return f"GET {url} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n{extra}\r\n"


def expect_http_refusal(d, lst, request, status, reason, ns=None, source=None):
    resp, sess = http_exchange(d, lst, request, ns, source)
    first = request.split("\r\n", 1)[0]
    check_eq(resp.status, status, f"{first}: status")
    check_eq(sess["reason"], reason, f"{first}: reason in {sess['_line']}")
    return resp, sess


def http_get_ok(d, lst, origin_port, host="127.0.0.1", n=1000, source=None, auth=None):
    hp = f"[{host}]:{origin_port}" if ":" in host else f"{host}:{origin_port}"
    resp, sess = http_exchange(d, lst, get_req(f"http://{hp}/bytes/{n}", hp, auth),
                               source=source)
    check_eq(resp.status, 200, f"GET via {hp}: status")
    check(resp.body == bytes(payload(n)), f"GET via {hp}: body mismatch")
    return sess


def check_denied_session(sess, what):
    line = sess["_line"]
    check_eq(sess["mptcp"], "-", f"{what}: mptcp= of a session that never connected: {line}")
    check_eq((sess["up"], sess["down"]), ("0", "0"), f"{what}: bytes of a refused session: {line}")


def hostport(host, port):
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


# ---------------------------------------------------------------- default deny

def d0_still_serves():
    """The default daemon answers new requests: it has nothing it may dial on
    loopback, so a correct refusal is its service."""
    c = setup()
    d = c["d0"]
    check_alive(d)
    expect_socks5_refusal(d, d.listener("socks5"), "127.0.0.1", c["echo"].port, 0x02, "denied")
    expect_http_refusal(d, d.listener("http"), connect_req(f"127.0.0.1:{c['echo'].port}"), 403,
                        "denied")
    check_alive(d)


@S.case
def default_denies_loopback_socks5():
    c = setup()
    d, echo = c["d0"], c["echo"]
    before = echo.count()
    for host in DENIED_LOOPBACK:
        mark = d.mark()
        sess = expect_socks5_refusal(d, d.listener("socks5"), host, echo.port, 0x02, "denied")
        check_denied_session(sess, host)
        check_eq(sess["target"], hostport(host, echo.port), f"{host}: target=")
        shown = {"localhost": "127.0.0.1", "::ffff:127.0.0.1": "::ffff:127.0.0.1"}.get(host, host)
        line = d.wait_line(lambda l: "denied by the destination ACL" in l
                           and hostport(shown, echo.port) in l, since=mark,
                           what=f"the denial log line for {host}")
        check(" INFO " in line, f"denial not logged at info: {line}")
        if host == "localhost":
            check("(localhost)" in line, f"denial line does not name the host: {line}")
    check_eq(echo.count() - before, 0, "connections that reached the origin")
    d0_still_serves()


@S.case
def default_denies_loopback_http():
    c = setup()
    d, http = c["d0"], c["http"]
    lst = d.listener("http")
    before = http.count()
    p = http.port
    for target in (f"127.0.0.1:{p}", f"[::1]:{p}", f"localhost:{p}", f"[::ffff:127.0.0.1]:{p}",
                   f"0.0.0.0:{p}"):
        resp, sess = expect_http_refusal(d, lst, connect_req(target), 403, "denied")
        check(b"not allowed" in resp.body, f"CONNECT {target}: 403 body {resp.body!r}")
        check_denied_session(sess, target)
        resp, sess = expect_http_refusal(d, lst, get_req(f"http://{target}/bytes/10", target), 403,
                                         "denied")
        check_eq(resp.reason, "Forbidden", f"GET {target}: reason phrase")
        check_denied_session(sess, target)
    check_eq(http.count() - before, 0, "connections that reached the origin")
    d0_still_serves()


@S.case
def allow_wins_over_deny():
    c = setup()
    echo, http = c["echo"], c["http"]
    d = Daemon(c["listeners"] + ["-o", "acl.deny=127.0.0.0/8"], acl_allow=("127.0.0.1",))
    s5, h = d.listener("socks5"), d.listener("http")
    for _ in range(2):  # and still serving after the refusals
        sess = socks5_echo(d, s5, "127.0.0.1", echo.port)
        check_session(sess, via="socks5", mptcp="yes")
        socks5_echo(d, s5, "localhost", echo.port)  # one of its addresses is allowed
        http_get_ok(d, h, http.port)
        for host in ("::1", "127.0.0.2", "::ffff:127.0.0.2"):
            expect_socks5_refusal(d, s5, host, echo.port, 0x02, "denied")
        expect_http_refusal(d, h, connect_req(f"[::1]:{http.port}"), 403, "denied")
    check_alive(d)


# ---------------------------------------------------------------- in a netns

class EchoServer:
    """Echo listeners on several addresses, one port, optionally inside a
    netns (MPTCP when available); records (family, SO_PROTOCOL) per accepted
    connection."""

    def __init__(self, hosts, ns=None):
        proto = IPPROTO_MPTCP if mptcp_available() else 0
        self.conns, self.lock, self.stop_ev = [], threading.Lock(), threading.Event()
        for _ in range(50):
            socks, port = [], 0
            try:
                for h in hosts:
                    fam = socket.AF_INET6 if ":" in h else socket.AF_INET
                    s = netns_socket(ns, fam, proto) if ns else socket.socket(fam, socket.SOCK_STREAM, proto)
                    socks.append(s)
                    if fam == socket.AF_INET6:
                        s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
                    s.bind((h, port))
                    s.listen(16)
                    port = s.getsockname()[1]
            except OSError:
                for s in socks:
                    s.close()
                continue
            self.socks, self.port = socks, port
            break
        else:
            raise RuntimeError(f"could not bind one port on all of {hosts}")
        self.thread = threading.Thread(target=self._accept_loop, daemon=True)
        self.thread.start()

    def families(self, mark=0):
        with self.lock:
            return [f for f, _ in self.conns[mark:]]

    def count(self):
        with self.lock:
            return len(self.conns)

    def _accept_loop(self):
        while not self.stop_ev.is_set():
            try:
                ready, _, _ = select.select(self.socks, [], [], 0.2)
            except (OSError, ValueError):
                return
            for ls in ready:
                try:
                    c, _ = ls.accept()
                except OSError:
                    continue
                with self.lock:
                    self.conns.append((ls.family, c.getsockopt(socket.SOL_SOCKET, SO_PROTOCOL)))
                threading.Thread(target=self._echo, args=(c,), daemon=True).start()

    @staticmethod
    def _echo(c):
        c.settimeout(30)
        try:
            while True:
                b = c.recv(65536)
                if not b:
                    break
                c.sendall(b)
        except OSError:
            pass
        finally:
            c.close()

    def close(self):
        self.stop_ev.set()
        self.thread.join(2)
        for s in self.socks:
            s.close()


def hosts_dir(ns):
    return os.path.join("/etc/netns", ns)


def remove_hosts_file():
    """Removes /etc/netns/NAME (and /etc/netns when this test made it and it is empty)."""
    ns = ctx.get("ns")
    if ns and os.path.isdir(hosts_dir(ns)):
        shutil.rmtree(hosts_dir(ns), ignore_errors=True)
    if ctx.pop("made_etc_netns", False):
        try:
            os.rmdir("/etc/netns")
        except OSError:
            pass


def ip(ns, *args):
    r = subprocess.run(["ip", "-n", ns] + list(args), capture_output=True, timeout=10)
    check(r.returncode == 0, f"ip -n {ns} {' '.join(args)}: {r.stderr.decode(errors='replace')}")


@Lazy
def ns_setup():
    """mpc-acl-*: lo, a veth pair wan0/wan0p (both ends inside) with the
    host's "own" addresses on wan0, and an
    /etc/netns hosts file (ip netns exec mounts it over /etc/hosts) that gives
    localhost both 127.0.0.1 and ::1, whatever this host's /etc/hosts says."""
    why = netns_usable()
    if why:
        raise Skip(why)
    setup()
    ns = netns_create("acl")
    ctx["ns"] = ns
    ip(ns, "link", "add", "wan0", "type", "veth", "peer", "name", "wan0p")
    for dev in ("wan0", "wan0p"):
        ip(ns, "link", "set", dev, "up")
    ip(ns, "addr", "add", f"{NS_V4}/24", "dev", "wan0")
    ip(ns, "addr", "add", f"{NS_V6}/64", "dev", "wan0", "nodad")
    if not os.path.isdir("/etc/netns"):
        os.mkdir("/etc/netns")
        ctx["made_etc_netns"] = True
    os.mkdir(hosts_dir(ns))
    with open(os.path.join(hosts_dir(ns), "hosts"), "w") as f:
        f.write("127.0.0.1 localhost\n::1 localhost\n")
    ctx["ns_echo"] = EchoServer(["127.0.0.1", "::1", NS_V4, NS_V6], ns=ns)
    ctx["ns_v4_only"] = EchoServer(["127.0.0.1"], ns=ns)
    listeners = ["-l", "socks5://127.0.0.1:0", "-l", "http://127.0.0.1:0"]
    # only ::1 allowed (own addresses and loopback IPv4 denied), plus a deny list
    ctx["nsd"] = Daemon(listeners + ["-o", f"acl.deny={NS_DENIED_RANGE}"], netns=ns,
                        acl_allow=(LOOPBACK_ONLY,), case_scoped=False)
    return ctx


@S.cleanup
def _ns_cleanup():
    if "nsd" in ctx:
        check_unique_session_ids(ctx["nsd"])
        ctx["nsd"].stop()
    for k in ("ns_echo", "ns_v4_only"):
        if k in ctx:
            ctx[k].close()
    remove_hosts_file()


def nsd_still_serves():
    c = ns_setup()
    d = c["nsd"]
    check_alive(d)
    socks5_echo(d, d.listener("socks5"), "::1", c["ns_echo"].port, ns=c["ns"])
    check_alive(d)


@S.case
def hostname_with_denied_and_allowed_addresses():
    c = ns_setup()
    ns, d, echo = c["ns"], c["nsd"], c["ns_echo"]
    for _ in range(2):
        mark, emark = d.mark(), echo.count()
        sess = socks5_echo(d, d.listener("socks5"), "localhost", echo.port, ns=ns)
        check_session(sess, via="socks5", mptcp="yes" if mptcp_available() else None)
        check_eq(sess["target"], f"localhost:{echo.port}", "target=")
        check_eq(echo.families(emark), [socket.AF_INET6], "families the origin saw")
        d.wait_line(lambda l: f"127.0.0.1:{echo.port} (localhost) denied by the destination ACL" in l,
                    since=mark, what="the denial of localhost's IPv4 address")

        emark = echo.count()
        resp, sess = http_exchange(d, d.listener("http"), connect_req(f"localhost:{echo.port}"), ns=ns)
        check_eq(resp.status, 200, "CONNECT localhost: status")
        wait_until(lambda: echo.count() > emark, 10, "the CONNECT at the origin")
        check_eq(echo.families(emark), [socket.AF_INET6], "families the origin saw (CONNECT)")

    # nothing listens on [::1]:P: the refusal is the answer, not "denied"
    v4only = c["ns_v4_only"]
    sess = expect_socks5_refusal(d, d.listener("socks5"), "localhost", v4only.port, 0x05, "refused",
                                 ns=ns)
    check_eq(v4only.count(), 0, "connections to the denied IPv4 address")
    nsd_still_serves()


@S.case
def own_addresses_are_denied():
    c = ns_setup()
    ns, d, echo = c["ns"], c["nsd"], c["ns_echo"]
    s5, h = d.listener("socks5"), d.listener("http")
    before = echo.count()
    for host in (NS_V4, NS_V6, f"::ffff:{NS_V4}"):
        sess = expect_socks5_refusal(d, s5, host, echo.port, 0x02, "denied", ns=ns)
        check_denied_session(sess, host)
    expect_http_refusal(d, h, connect_req(f"{NS_V4}:{echo.port}"), 403, "denied", ns=ns)
    expect_http_refusal(d, h, get_req(f"http://[{NS_V6}]:{echo.port}/", f"[{NS_V6}]:{echo.port}"),
                        403, "denied", ns=ns)
    # [acl] deny: an address on wan0's subnet that is not this host's
    expect_socks5_refusal(d, s5, NS_IN_DENIED_RANGE, echo.port, 0x02, "denied", ns=ns)
    check_eq(echo.count() - before, 0, "connections that reached the origin")

    # allowed explicitly, the same addresses connect
    da = Daemon(["-l", "socks5://127.0.0.1:0"], netns=ns, acl_allow=(NS_V4, NS_V6))
    for host in (NS_V4, NS_V6):
        socks5_echo(da, da.listener("socks5"), host, echo.port, ns=ns)
    da.stop()
    nsd_still_serves()


@S.case
def new_own_address_is_denied_after_refresh():
    c = ns_setup()
    ns, d = c["ns"], c["nsd"]
    port = c["ns_echo"].port  # it listens on other addresses: before the refresh, "refused"
    ip(ns, "addr", "add", f"{NS_NEW_ADDRESS}/32", "dev", "wan0")
    seen = []

    def denied():
        mark = d.mark()
        s, _, _, rep = socks5_try(d.listener("socks5"), NS_NEW_ADDRESS, port, ns=ns)
        s.close()
        check(rep is not None, "no CONNECT reply")
        seen.append(rep[1])
        d.wait_session(since=mark, target_port=port)
        return rep[1] == 0x02

    wait_until(denied, 15, f"{NS_NEW_ADDRESS} denied once the daemon re-reads its addresses",
               interval=0.25)
    check(set(seen) <= {0x02, 0x05}, f"replies while waiting: {seen}")
    nsd_still_serves()


# ---------------------------------------------------------------- clients

@S.case
def client_allow_list_on_listeners():
    c = setup()
    echo, http = c["echo"], c["http"]
    d = start_daemon(["-l", "socks5://127.0.0.1:0?allow=127.0.0.2",
                      "-l", "http://127.0.0.1:0?allow=127.0.0.2",
                      "-l", f"socks5://{USER}:{PASS}@127.0.0.1:0?allow=127.0.0.2",
                      "-l", f"http://{USER}:{PASS}@127.0.0.1:0?allow=127.0.0.2",
                      "-l", f"forward://127.0.0.1:0/127.0.0.1:{echo.port}?allow=127.0.0.2"])
    s5, h, s5a, ha, fwd = d.listeners
    wrong = basic_auth(USER, "wrong")
    for _ in range(2):  # every refusal is followed by served requests
        before = echo.count() + http.count()
        for sess in (expect_socks5_refusal(d, s5, "127.0.0.1", echo.port, 0x02, "client-denied",
                                           source="127.0.0.1"),
                     # a wrong password is never checked, so it cannot be guessed from here
                     expect_socks5_refusal(d, s5a, "127.0.0.1", echo.port, 0x02, "client-denied",
                                           source="127.0.0.1", user=USER, password="wrong"),
                     expect_http_refusal(d, h, connect_req(f"127.0.0.1:{echo.port}"), 403,
                                         "client-denied", source="127.0.0.1")[1],
                     expect_http_refusal(d, h, get_req(f"http://127.0.0.1:{http.port}/bytes/5",
                                                       f"127.0.0.1:{http.port}"), 403,
                                         "client-denied", source="127.0.0.1")[1],
                     expect_http_refusal(d, ha, connect_req(f"127.0.0.1:{echo.port}", wrong), 403,
                                         "client-denied", source="127.0.0.1")[1]):
            check(sess["client"].startswith("127.0.0.1:"), f"client= {sess['_line']}")
            check_denied_session(sess, "denied client")
        # forward: no protocol to answer in, closed at once
        mark = d.mark()
        s = client(fwd.addr, source="127.0.0.1")
        try:
            cport = s.getsockname()[1]
            check_eq(recv_to_eof(s), b"", "bytes a denied forward client got")
        finally:
            s.close()
        sess = d.wait_session(since=mark, client_port=cport)[0]
        check_eq(sess["reason"], "client-denied", f"forward: {sess['_line']}")
        check_eq(echo.count() + http.count() - before, 0, "dials made for denied clients")

        socks5_echo(d, s5, "127.0.0.1", echo.port, source="127.0.0.2")
        socks5_echo(d, s5a, "127.0.0.1", echo.port, source="127.0.0.2", user=USER, password=PASS)
        http_get_ok(d, h, http.port, source="127.0.0.2")
        http_get_ok(d, ha, http.port, source="127.0.0.2", auth=basic_auth(USER, PASS))
        resp, _ = http_exchange(d, ha, connect_req(f"127.0.0.1:{echo.port}", wrong),
                                source="127.0.0.2")
        check_eq(resp.status, 407, "an allowed client with a wrong password")
        s = client(fwd.addr, source="127.0.0.2")
        try:
            s.sendall(b"ping")
            check_eq(recv_exact(s, 4), b"ping", "forward echo for an allowed client")
        finally:
            s.close()
    check_alive(d)


@S.case
def acl_clients_and_listener_override():
    c = setup()
    echo = c["echo"]
    d = Daemon(c["listeners"] + ["-l", "socks5://127.0.0.1:0?allow=127.0.0.1"],
               config="[acl]\nclients = 127.0.0.2\nclients = 10.0.0.0/8, ::1\n")
    s5, h, own = d.listeners
    for _ in range(2):
        expect_socks5_refusal(d, s5, "127.0.0.1", echo.port, 0x02, "client-denied",
                              source="127.0.0.1")
        expect_http_refusal(d, h, connect_req(f"127.0.0.1:{echo.port}"), 403, "client-denied",
                            source="127.0.0.1")
        expect_socks5_refusal(d, own, "127.0.0.1", echo.port, 0x02, "client-denied",
                              source="127.0.0.2")
        socks5_echo(d, s5, "127.0.0.1", echo.port, source="127.0.0.2")
        socks5_echo(d, own, "127.0.0.1", echo.port, source="127.0.0.1")
        resp, _ = http_exchange(d, h, connect_req(f"127.0.0.1:{echo.port}"), source="127.0.0.2")
        check_eq(resp.status, 200, "CONNECT from an allowed client")
    check_alive(d)


# ---------------------------------------------------------------- tcp / require_mptcp

@S.case
def tcp_list_dials_plain_tcp():
    c = setup()
    if not mptcp_available():
        raise Skip("MPTCP not available on this host")
    echo, http = c["echo"], c["http"]
    d = Daemon(c["listeners"] + ["-o", "acl.tcp=127.0.0.0/8"])
    mark = echo.count()
    check_session(socks5_echo(d, d.listener("socks5"), "127.0.0.1", echo.port), mptcp="off")
    check_eq(echo.wait_conns(mark)[0].proto, 6, "SO_PROTOCOL the origin saw (tcp list)")
    mark = echo.count()
    check_session(socks5_echo(d, d.listener("socks5"), "::1", echo.port), mptcp="yes")
    check_eq(echo.wait_conns(mark)[0].proto, 262, "SO_PROTOCOL the origin saw (not listed)")
    mark = http.count()
    check_session(http_get_ok(d, d.listener("http"), http.port), mptcp="off")
    check_eq(http.wait_conns(mark)[0].proto, 6, "SO_PROTOCOL the origin saw (HTTP forwarding)")
    check_alive(d)


@S.case
def require_mptcp_refuses_tcp_fallback():
    c = setup()
    if not mptcp_available():
        raise Skip("MPTCP not available on this host")
    d = Daemon(c["listeners"] + ["-o", "acl.require_mptcp=127.0.0.1"])
    s5, h = d.listener("socks5"), d.listener("http")
    for _ in range(2):
        mark = d.mark()
        sess = expect_socks5_refusal(d, s5, "127.0.0.1", c["tcp_echo"].port, 0x01, "mptcp-required")
        check_eq(sess["mptcp"], "-", f"mptcp= after a refused fallback: {sess['_line']}")
        d.wait_line(lambda l: f"127.0.0.1:{c['tcp_echo'].port} answered without MPTCP" in l,
                    since=mark, what="the require_mptcp log line")
        resp, _ = expect_http_refusal(d, h, connect_req(f"127.0.0.1:{c['tcp_echo'].port}"), 502,
                                      "mptcp-required")
        check(b"Multipath TCP" in resp.body, f"502 body: {resp.body!r}")
        expect_http_refusal(d, h, get_req(f"http://127.0.0.1:{c['tcp_http'].port}/bytes/5",
                                          f"127.0.0.1:{c['tcp_http'].port}"), 502, "mptcp-required")
        check_session(socks5_echo(d, s5, "127.0.0.1", c["echo"].port), mptcp="yes")
        check_session(socks5_echo(d, s5, "::1", c["tcp_echo"].port), mptcp="fallback")  # not listed
    check_alive(d)


# ---------------------------------------------------------------- parent proxy

@S.case
def parent_upstream_checks_ip_literals_only():
    c = setup()
    echo = c["echo"]
    conc = Daemon(["-l", "socks5://127.0.0.1:0?mptcp=1"])  # its own ACL allows loopback
    parent = f"socks5://{conc.listener('socks5').hostport}"
    # the router allows nothing on loopback, yet reaches its loopback parent
    r = Daemon(c["listeners"] + ["-u", parent], acl_allow=None)
    for _ in range(2):
        cmark, before = conc.mark(), echo.count()
        for host in ("127.0.0.1", "::1", "::ffff:127.0.0.1"):
            expect_socks5_refusal(r, r.listener("socks5"), host, echo.port, 0x02, "denied")
        expect_http_refusal(r, r.listener("http"), connect_req(f"[::1]:{echo.port}"), 403, "denied")
        check_eq(echo.count() - before, 0, "connections that reached the origin")
        check_eq(conc.sessions(since=cmark), [], "concentrator sessions for denied literals")
        sess = socks5_echo(r, r.listener("socks5"), "localhost", echo.port)  # names go to the parent
        check_session(sess, mptcp="yes")
        cs = conc.wait_session(since=cmark, target_port=echo.port)[0]
        check_eq(cs["target"], f"localhost:{echo.port}", "concentrator target=")
    check_alive(r)
    check_alive(conc)


if __name__ == "__main__":
    S.main()
