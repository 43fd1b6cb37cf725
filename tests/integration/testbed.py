"""Two-path MPTCP testbed: three network namespaces, two shaped WAN links.

    lan (client)            rtr (router, runs mpconv)               srv (origin)
    10.10.0.2 --lan0--lan0-- 10.10.0.1
                             wan1 10.1.1.1 ====(tbf RATE)==== w1 10.1.1.2
                             wan2 10.2.2.1 ====(tbf RATE)==== w2 10.2.2.2
                                                             lo 10.99.0.1/32 (service)

Router: default routes via wan1 (metric 100) and wan2 (metric 200), source
policy routing for 10.2.2.1 (table 102), `ip mptcp limits set subflows 2
add_addr_accepted 2`, one `subflow` endpoint per WAN with `dev` (wan1 too,
doc 3.2 point 1), rp_filter 2. Server: limits `subflows 2 add_addr_accepted 0`,
routes back to 10.10.0.0/24. Each WAN link is shaped with tbf on both ends
(both directions), rate a parameter (default 20 mbit/s).

Namespaces are named mpc-{lan,rtr,srv}-<pid>-<rand> (mpconvtest.netns_create)
and deleted on exit: Testbed.close() (context manager / try-finally), atexit
and SIGTERM/SIGINT/SIGHUP (mpconvtest's handler kills what runs inside and
deletes them). Every wait has a deadline.

API (see Testbed):
    with Testbed(rate_mbit=20) as tb:
        tb.run(tb.rtr, ["ip", "route"])            # CompletedProcess, check=True
        tb.popen(tb.lan, [...])                    # subprocess.Popen in a netns
        d = tb.daemon(["-l", "socks5://10.10.0.1:0"])   # mpconv in rtr (harness Daemon)
        o = tb.origin("http")                      # PathOrigin in srv on 10.99.0.1
        tb.link_down(2); tb.link_up(2)             # WAN admin down / up (+ routes)
        tb.endpoints_clear(); tb.endpoints_add()   # single-path / two-path router
        tb.curl([...])                             # curl in lan
        c = tb.daemon([...], ns=tb.srv)            # mpconv elsewhere (a concentrator)
        o = tb.origin("echo", tcp_only=True)       # echo mode; plain-TCP listener
        tb.add_public_address()                    # 203.0.113.80/32 on srv's lo too
        tb.nft(tb.rtr, RULESET); tb.nft_delete_table(tb.rtr, "inet", "mpconv")
        r = tb.client(tb.lan, (host, port), send=N, mptcp=False, socks5=None)
                                                   # raw client: sends N, reads to EOF

tb.daemon() waits for the "listening:" lines of any scheme (redirect, tproxy,
forward, socks5+tls, ...); Listener.kind is the scheme, .flags the "(...)" words.

PathOrigin (child process `python3 testbed.py origin`, also usable by hand):
HTTP origin bound to ADDR (GET /bytes/N, PUT/POST -> sha256 of the body) or
raw `source`/`sink`/`echo` (echo: the sha256 of what it received is reported);
`--tcp-only` listens with plain TCP. For each connection it samples MPTCP_INFO and
MPTCP_FULL_INFO every 50 ms while the connection is open and reports at the end:
SO_PROTOCOL, subflows at accept, the maximum subflows_total seen while active,
subflows at close, and per-path bytes (per peer address of each subflow:
bytes acked by the peer + bytes received).

`python3 testbed.py client --connect HOST:PORT [--send N] [--mptcp]
[--socks5 IP:PORT]` is the raw client behind tb.client(); it prints one JSON line.

Run `python3 testbed.py up` (root) to build the topology and keep it until ^C.
"""

import argparse
import atexit
import ctypes
import hashlib
import json
import os
import re
import select
import signal
import socket
import shutil
import subprocess
import sys
import tempfile
import threading
import time

from mpconvtest import (IPPROTO_MPTCP, LOOPBACK_ALLOW, Daemon, Reader, Skip, TestFailure, _hget,
                        end_process, _read_chunked, _read_http_head, check, clean_env, mptcp_subflows,
                        netns_create, netns_delete, netns_usable, payload, sock_protocol,
                        wait_listeners_any, wait_until)

LAN_IP, RTR_LAN_IP = "10.10.0.2", "10.10.0.1"
WAN_IP = {1: "10.1.1.1", 2: "10.2.2.1"}      # router side
WAN_GW = {1: "10.1.1.2", 2: "10.2.2.2"}      # server side
WAN_DEV = {1: "wan1", 2: "wan2"}
SRV_DEV = {1: "w1", 2: "w2"}
WAN_METRIC = {1: 100, 2: 200}
WAN_TABLE = {1: 101, 2: 102}
SERVICE_IP = "10.99.0.1"
# A second service address outside every private/bypass range (TEST-NET-3), for
# transparent-proxy rules that skip 10.0.0.0/8 (add_public_address()).
PUBLIC_IP = "203.0.113.80"


def testbed_usable():
    """None if the testbed can be built here, else the reason why not."""
    why = netns_usable()
    if why:
        return why
    try:
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM, IPPROTO_MPTCP)
        s.close()
    except OSError as e:
        return f"no MPTCP in this kernel ({e})"
    for tool in ("tc", "curl"):
        if subprocess.run(["sh", "-c", f"command -v {tool}"], capture_output=True).returncode:
            return f"no {tool}"
    return None


class Testbed:
    """The two-path topology. Build with `with Testbed(...) as tb:` or
    tb = Testbed(...).start() ... tb.close() (close() is idempotent and also
    registered with atexit). tb.workdir is a scratch directory for the
    test's files, removed by close()."""

    def __init__(self, rate_mbit=20, burst="32kb", latency="50ms"):
        self.rate_mbit = rate_mbit
        self.burst = burst
        self.latency = latency
        self.lan = self.rtr = self.srv = None
        self.namespaces = []
        self.origins = []
        self.daemons = []
        self.workdir = None
        self._closed = False

    # -- lifecycle
    def __enter__(self):
        return self.start()

    def __exit__(self, *a):
        self.close()

    def start(self):
        why = testbed_usable()
        if why:
            raise Skip(why)
        atexit.register(self.close)
        self.workdir = tempfile.mkdtemp(prefix="mpc-it-")
        try:
            self._build()
        except BaseException:
            self.close()
            raise
        return self

    def close(self):
        if self._closed:
            return
        self._closed = True
        for o in self.origins:
            try:
                o.close()
            except Exception:  # noqa: BLE001
                pass
        for d in self.daemons:
            try:
                d.stop()
            except Exception:  # noqa: BLE001
                pass
        for ns in reversed(self.namespaces):
            netns_delete(ns)
        left = subprocess.run(["ip", "netns", "list"], capture_output=True,
                              timeout=10).stdout.decode()
        for ns in self.namespaces:
            if ns in left.split():
                print(f"warning: netns {ns} still present", flush=True)
        if self.workdir:
            shutil.rmtree(self.workdir, ignore_errors=True)

    # -- commands
    def run(self, ns, args, check=True, timeout=30):
        """Runs args inside netns ns; with check=True a non-zero exit fails."""
        r = subprocess.run(["ip", "netns", "exec", ns] + list(args), capture_output=True,
                           timeout=timeout, stdin=subprocess.DEVNULL)
        if check and r.returncode != 0:
            raise TestFailure(f"[{ns}] {' '.join(args)} -> rc={r.returncode}: "
                              f"{r.stderr.decode(errors='replace').strip()}")
        return r

    def ip(self, ns, *args, check=True):
        return self.run(ns, ["ip"] + list(args), check=check)

    def popen(self, ns, args, **kw):
        kw.setdefault("stdin", subprocess.DEVNULL)
        kw.setdefault("env", clean_env())
        return subprocess.Popen(["ip", "netns", "exec", ns] + list(args), **kw)

    def sysctl(self, ns, *kv):
        self.run(ns, ["sysctl", "-qw"] + list(kv))

    # -- topology
    def _build(self):
        self.lan = netns_create("lan")
        self.namespaces.append(self.lan)
        self.rtr = netns_create("rtr")
        self.namespaces.append(self.rtr)
        self.srv = netns_create("srv")
        self.namespaces.append(self.srv)
        for ns in self.namespaces:
            self.sysctl(ns, "net.ipv4.conf.all.rp_filter=2", "net.ipv4.conf.default.rp_filter=2")
            # Namespaces start with MPTCP on, but be explicit (and fail clearly if not).
            self.sysctl(ns, "net.mptcp.enabled=1")
        # veths are created directly inside the namespaces: no names in the root netns
        subprocess.run(["ip", "link", "add", "lan0", "netns", self.lan, "type", "veth",
                        "peer", "name", "lan0", "netns", self.rtr], check=True,
                       capture_output=True, timeout=10)
        for i in (1, 2):
            subprocess.run(["ip", "link", "add", WAN_DEV[i], "netns", self.rtr, "type", "veth",
                            "peer", "name", SRV_DEV[i], "netns", self.srv], check=True,
                           capture_output=True, timeout=10)
        self.ip(self.lan, "addr", "add", f"{LAN_IP}/24", "dev", "lan0")
        self.ip(self.lan, "link", "set", "lan0", "up")
        self.ip(self.lan, "route", "add", "default", "via", RTR_LAN_IP)
        self.ip(self.rtr, "addr", "add", f"{RTR_LAN_IP}/24", "dev", "lan0")
        self.ip(self.rtr, "link", "set", "lan0", "up")
        for i in (1, 2):
            self.ip(self.rtr, "addr", "add", f"{WAN_IP[i]}/24", "dev", WAN_DEV[i])
            self.ip(self.rtr, "link", "set", WAN_DEV[i], "up")
            self.ip(self.srv, "addr", "add", f"{WAN_GW[i]}/24", "dev", SRV_DEV[i])
            self.ip(self.srv, "link", "set", SRV_DEV[i], "up")
            self.ip(self.rtr, "rule", "add", "from", WAN_IP[i], "table", str(WAN_TABLE[i]))
            for ns, dev in ((self.rtr, WAN_DEV[i]), (self.srv, SRV_DEV[i])):
                self.run(ns, ["tc", "qdisc", "add", "dev", dev, "root", "tbf", "rate",
                              f"{self.rate_mbit}mbit", "burst", self.burst,
                              "latency", self.latency])
        self.ip(self.srv, "addr", "add", f"{SERVICE_IP}/32", "dev", "lo")
        self.ip(self.srv, "route", "add", "10.10.0.0/24", "via", WAN_IP[1], "dev", "w1")
        self.ip(self.srv, "mptcp", "limits", "set", "subflows", "2", "add_addr_accepted", "0")
        self.ip(self.rtr, "mptcp", "limits", "set", "subflows", "2", "add_addr_accepted", "2")
        for i in (1, 2):
            self._wait_link(i)
            self._add_routes(i)
        self.endpoints_add()
        for i in (1, 2):
            check(self.reachable(i), f"{SERVICE_IP} not reachable from {WAN_IP[i]}")

    _PROBE = ("import socket,sys\n"
              "s=socket.socket(); s.settimeout(1.0)\n"
              "s.setsockopt(socket.SOL_SOCKET, socket.SO_BINDTODEVICE, sys.argv[3].encode())\n"
              "s.bind((sys.argv[1], 0))\n"
              "try:\n s.connect((sys.argv[2], 9))\nexcept ConnectionRefusedError:\n sys.exit(0)\n"
              "except OSError:\n sys.exit(1)\n")

    def reachable(self, i):
        """True if the service address answers (a TCP RST to port 9 counts) to a
        socket bound to wanI's address and device, within ~1 s. No ping needed."""
        r = self.run(self.rtr, [sys.executable, "-c", self._PROBE, WAN_IP[i], SERVICE_IP,
                                WAN_DEV[i]], check=False, timeout=10)
        return r.returncode == 0

    def _wait_link(self, i):
        def up():
            for ns, dev in ((self.rtr, WAN_DEV[i]), (self.srv, SRV_DEV[i])):
                r = self.ip(ns, "-br", "link", "show", "dev", dev, check=False)
                if b" UP " not in r.stdout:
                    return False
            return True
        wait_until(up, 10, f"wan{i} carrier up", interval=0.02)

    def _add_routes(self, i):
        dev, gw = WAN_DEV[i], WAN_GW[i]
        self.ip(self.rtr, "route", "replace", "default", "via", gw, "dev", dev,
                "metric", str(WAN_METRIC[i]))
        self.ip(self.rtr, "route", "replace", "default", "via", gw, "dev", dev,
                "table", str(WAN_TABLE[i]))

    def routes(self):
        return self.ip(self.rtr, "route", "show", "default").stdout.decode()

    # -- failure injection
    def link_down(self, i):
        """Admin-down wanI on the router (routes via it vanish with it)."""
        self.ip(self.rtr, "link", "set", WAN_DEV[i], "down")

    def link_up(self, i):
        """wanI up again, then the static routes the kernel dropped (doc 3.2 p.4),
        and waits until the router routes to the service over it."""
        self.ip(self.rtr, "link", "set", WAN_DEV[i], "up")
        self._wait_link(i)
        wait_until(lambda: f"{WAN_IP[i]}/24" in self.ip(self.rtr, "-4", "-o", "addr", "show",
                                                         "dev", WAN_DEV[i]).stdout.decode(),
                   5, f"address on wan{i}")
        self._add_routes(i)
        for ns, dev in ((self.rtr, WAN_DEV[i]), (self.srv, SRV_DEV[i])):
            q = self.run(ns, ["tc", "qdisc", "show", "dev", dev]).stdout.decode()
            check("tbf" in q, f"tbf shaping lost on {dev} after up: {q.strip()}")
        wait_until(lambda: self.reachable(i), 10,
                   f"{SERVICE_IP} reachable from {WAN_IP[i]} after wan{i} up", interval=0.05)

    # -- MPTCP endpoints on the router
    def endpoints_clear(self):
        self.ip(self.rtr, "mptcp", "endpoint", "flush")

    def endpoints_add(self, wans=(1, 2)):
        for i in wans:
            self.ip(self.rtr, "mptcp", "endpoint", "add", WAN_IP[i], "dev", WAN_DEV[i],
                    "id", str(i), "subflow")

    def endpoints(self):
        return self.ip(self.rtr, "mptcp", "endpoint", "show").stdout.decode()

    def nstat_mptcp(self, ns):
        """MPTcpExt counters of a netns as {name: value} (absolute)."""
        r = self.run(ns, ["nstat", "-az", "-j"], check=False)
        try:
            d = json.loads(r.stdout.decode())
        except ValueError:
            return {}
        out = {}
        for table in d.values():
            for k, v in table.items():
                if k.startswith("MPTcpExt"):
                    out[k[len("MPTcpExt"):]] = v
        return out

    # -- extra addresses, firewall, policy routing (transparent proxying)
    def add_public_address(self, ip=PUBLIC_IP):
        """A second /32 service address on srv's lo (reached via the router's
        default routes like 10.99.0.1). Idempotent."""
        r = self.ip(self.srv, "-4", "-o", "addr", "show", "dev", "lo").stdout.decode()
        if f" {ip}/32 " not in r:
            self.ip(self.srv, "addr", "add", f"{ip}/32", "dev", "lo")
        return ip

    def nft(self, ns, ruleset):
        """Loads an nftables ruleset (text, as for `nft -f FILE`) into netns ns."""
        r = subprocess.run(["ip", "netns", "exec", ns, "nft", "-f", "-"], input=ruleset.encode(),
                           capture_output=True, timeout=30)
        if r.returncode != 0:
            raise TestFailure(f"[{ns}] nft -f failed rc={r.returncode}: "
                              f"{r.stderr.decode(errors='replace').strip()}")

    def nft_delete_table(self, ns, family, name):
        """Deletes one table; absent is fine."""
        self.run(ns, ["nft", "delete", "table", family, name], check=False)

    # -- processes
    def daemon(self, args, ns=None, **kw):
        """mpconv inside rtr (or ns), the harness Daemon with ip netns exec. Waits
        for its "listening:" lines of any scheme (socks5+tls, redirect, tproxy,
        forward, ...; Listener.kind is the scheme as logged, .flags the "(...)" words)."""
        kw.setdefault("case_scoped", False)
        # The service and public addresses are srv's own: a concentrator
        # there must be allowed to dial them.
        kw.setdefault("acl_allow", LOOPBACK_ALLOW + (SERVICE_IP, PUBLIC_IP))
        wait = kw.pop("wait", True)
        n = kw.pop("n_listeners", None)
        timeout = kw.pop("timeout", 15)
        d = Daemon(list(args), netns=ns or self.rtr, wait=False, **kw)
        self.daemons.append(d)
        if wait:
            if n is None:
                n = sum(1 for a in args if a == "-l")
                if n == 0 and kw.get("config") is not None:
                    n = len(re.findall(r"^\s*listen\s*=", kw["config"], re.M))
            wait_listeners_any(d, n, timeout)
        return d

    def origin(self, mode="http", size=0, bind=SERVICE_IP, ns=None, tcp_only=False):
        """PathOrigin in srv (or ns). mode http/source/sink/echo; tcp_only: a plain
        TCP listener (an MPTCP client falls back)."""
        o = PathOrigin(ns or self.srv, mode, size=size, bind=bind, tcp_only=tcp_only)
        self.origins.append(o)
        return o

    def client(self, ns, connect, send=0, mptcp=False, socks5=None, timeout=60):
        """One raw connection from ns (default use: lan) with `python3 testbed.py
        client`: connects to (host, port) (MPTCP if asked), optionally a SOCKS5
        no-auth CONNECT to socks5=(host, port), then sends `send` payload bytes
        (then SHUT_WR) while reading to EOF. Returns its JSON report (dict): proto,
        subflows, local, sent, sent_sha, recv, recv_sha, secs, error."""
        cmd = [sys.executable, os.path.abspath(__file__), "client", "--connect",
               f"{connect[0]}:{connect[1]}", "--send", str(send), "--timeout", str(timeout - 5)]
        if mptcp:
            cmd.append("--mptcp")
        if socks5:
            cmd += ["--socks5", f"{socks5[0]}:{socks5[1]}"]
        r = self.run(ns, cmd, check=False, timeout=timeout)
        out = r.stdout.decode(errors="replace").strip().splitlines()
        try:
            return json.loads(out[-1])
        except (IndexError, ValueError):
            raise TestFailure(f"client in {ns} rc={r.returncode}: "
                              f"{r.stderr.decode(errors='replace')[-500:]}") from None

    def curl(self, args, timeout=120):
        cmd = ["curl", "-sS", "--noproxy", "", "--max-time", str(timeout - 5)] + list(args)
        return self.run(self.lan, cmd, check=False, timeout=timeout)


# --------------------------------------------------------------------------
# Origin bound to the service address, with per-connection path accounting
# --------------------------------------------------------------------------

SOL_MPTCP = 284
MPTCP_FULL_INFO = 4
_TCPI_SIZE = 280
_SFINFO_SIZE = 264
_MAX_SF = 8

_libc = None


def _getsockopt_raw(fd, level, opt, buf):
    global _libc
    if _libc is None:
        _libc = ctypes.CDLL(None, use_errno=True)
    ln = ctypes.c_uint32(len(buf))
    rc = _libc.getsockopt(fd, level, opt, buf, ctypes.byref(ln))
    if rc != 0:
        return None
    return ln.value


def full_info_paths(sock):
    """{peer_ip: (bytes_acked, bytes_received)} per subflow from
    MPTCP_FULL_INFO (6.5+), or None when unavailable."""
    sf = ctypes.create_string_buffer(_SFINFO_SIZE * _MAX_SF)
    ti = ctypes.create_string_buffer(_TCPI_SIZE * _MAX_SF)
    hdr = ctypes.create_string_buffer(40 + 96)
    vals = (0, _TCPI_SIZE, 0, _SFINFO_SIZE, 0, _MAX_SF)
    for k, v in enumerate(vals):
        hdr[k * 4:k * 4 + 4] = v.to_bytes(4, sys.byteorder)
    hdr[24:32] = ctypes.addressof(sf).to_bytes(8, sys.byteorder)
    hdr[32:40] = ctypes.addressof(ti).to_bytes(8, sys.byteorder)
    if _getsockopt_raw(sock.fileno(), SOL_MPTCP, MPTCP_FULL_INFO, hdr) is None:
        return None
    n = min(int.from_bytes(hdr[16:20], sys.byteorder), _MAX_SF)
    out = {}
    for k in range(n):
        rem = sf.raw[k * _SFINFO_SIZE + 8 + 128: k * _SFINFO_SIZE + 8 + 256]
        fam = int.from_bytes(rem[0:2], sys.byteorder)
        if fam == socket.AF_INET:
            ip = socket.inet_ntop(socket.AF_INET, rem[4:8])
        elif fam == socket.AF_INET6:
            ip = socket.inet_ntop(socket.AF_INET6, rem[8:24])
        else:
            ip = "?"
        t = ti.raw[k * _TCPI_SIZE:(k + 1) * _TCPI_SIZE]
        acked = int.from_bytes(t[120:128], sys.byteorder)
        recvd = int.from_bytes(t[128:136], sys.byteorder)
        a0, r0 = out.get(ip, (0, 0))
        out[ip] = (a0 + acked, r0 + recvd)
    return out


class _ConnStats:
    def __init__(self, cid, peer, sock):
        self.cid = cid
        self.peer = peer
        self.proto = sock_protocol(sock)
        self.sub_accept = mptcp_subflows(sock)
        self.sub_max = self.sub_accept or 0
        self.sub_close = None
        self.paths = {}           # peer ip -> [acked, received] (max seen per path)
        self.sent = 0
        self.received = 0
        self.sha = None
        self.t0 = time.monotonic()
        self.ms = None
        self.lock = threading.Lock()

    def sample(self, sock):
        n = mptcp_subflows(sock)
        p = full_info_paths(sock)
        with self.lock:
            if n:
                self.sub_max = max(self.sub_max, n)
            # A path may lose its subflow (counters vanish with it): keep the
            # highest value seen per peer address.
            for ip, (a, r) in (p or {}).items():
                old = self.paths.get(ip, [0, 0])
                self.paths[ip] = [max(old[0], a), max(old[1], r)]
        return n

    def as_dict(self):
        with self.lock:
            return {"id": self.cid, "peer": self.peer, "proto": self.proto,
                    "sub_accept": self.sub_accept, "sub_max": self.sub_max,
                    "sub_close": self.sub_close, "paths": dict(self.paths),
                    "sent": self.sent, "received": self.received, "sha": self.sha,
                    "ms": self.ms}


def _origin_serve(argv):
    ap = argparse.ArgumentParser(prog="testbed.py origin")
    ap.add_argument("--bind", default=SERVICE_IP)
    ap.add_argument("--mode", default="http", choices=("http", "source", "sink", "echo"))
    ap.add_argument("--size", type=int, default=0)
    ap.add_argument("--interval", type=float, default=0.05)
    ap.add_argument("--tcp-only", action="store_true")
    a = ap.parse_args(argv)
    ls = socket.socket(socket.AF_INET, socket.SOCK_STREAM,
                       socket.IPPROTO_TCP if a.tcp_only else IPPROTO_MPTCP)
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind((a.bind, 0))
    ls.listen(64)
    out_lock = threading.Lock()

    def emit(kind, obj):
        with out_lock:
            sys.stdout.write(f"{kind} {json.dumps(obj)}\n")
            sys.stdout.flush()

    def sampler(c, st, done):
        last = st.sub_accept
        while not done.wait(a.interval):
            try:
                n = st.sample(c)
            except OSError:
                return
            if n and n != last:  # report changes of the subflow count only
                last = n
                emit("sample", {"id": st.cid, "subflows": n,
                                "t_ms": int((time.monotonic() - st.t0) * 1000)})

    def send_all(c, st, n):
        mv = payload(n)
        for off in range(0, n, 1 << 20):
            c.sendall(mv[off:off + (1 << 20)])
            st.sent += min(1 << 20, n - off)

    def serve(c, st):
        done = threading.Event()
        t = threading.Thread(target=sampler, args=(c, st, done), daemon=True)
        t.start()
        try:
            c.settimeout(300)
            if a.mode == "source":
                send_all(c, st, a.size)
            elif a.mode == "sink":
                h = hashlib.sha256()
                while True:
                    b = c.recv(1 << 20)
                    if not b:
                        break
                    st.received += len(b)
                    h.update(b)
                st.sha = h.hexdigest()
                c.sendall(st.sha.encode() + b"\n")
            elif a.mode == "echo":
                h = hashlib.sha256()
                while True:
                    b = c.recv(1 << 20)
                    if not b:
                        break
                    st.received += len(b)
                    h.update(b)
                    c.sendall(b)
                    st.sent += len(b)
                st.sha = h.hexdigest()
                c.shutdown(socket.SHUT_WR)
            else:
                serve_http(c, st)
        except (OSError, EOFError, ValueError) as e:
            emit("error", {"id": st.cid, "error": repr(e)})
        finally:
            done.set()
            t.join(2)
            try:
                st.sample(c)
                st.sub_close = mptcp_subflows(c)
            except OSError:
                pass
            st.ms = int((time.monotonic() - st.t0) * 1000)
            try:
                c.close()
            except OSError:
                pass
            emit("end", st.as_dict())

    def serve_http(c, st):
        rd = Reader(c)
        while True:
            try:
                method, target, version, headers, _raw = _read_http_head(rd)
            except EOFError:
                return
            close = (_hget(headers, "connection") or "").lower() == "close" \
                or version == "HTTP/1.0"
            if (_hget(headers, "expect") or "").lower() == "100-continue":
                c.sendall(b"HTTP/1.1 100 Continue\r\n\r\n")
            h = hashlib.sha256()
            te = (_hget(headers, "transfer-encoding") or "").lower()
            cl = _hget(headers, "content-length")
            if "chunked" in te:
                st.received += _read_chunked(rd, h)
            elif cl is not None:
                rd.read_into_hash(int(cl), h)
                st.received += int(cl)
            path = target
            if "://" in target:
                path = "/" + target.split("://", 1)[1].partition("/")[2]
            extra = b"Connection: close\r\n" if close else b""
            if method in ("PUT", "POST"):
                st.sha = h.hexdigest()
                body = (st.sha + "\n").encode()
                c.sendall(b"HTTP/1.1 200 OK\r\n" + extra +
                          b"Content-Length: %d\r\n\r\n" % len(body) + body)
            elif method == "GET" and path.startswith("/bytes/"):
                n = int(path[len("/bytes/"):])
                c.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\n" +
                          extra + b"Content-Length: %d\r\n\r\n" % n)
                send_all(c, st, n)
            else:
                c.sendall(b"HTTP/1.1 404 Not Found\r\n" + extra + b"Content-Length: 0\r\n\r\n")
            if close:
                return

    print(f"ready {ls.getsockname()[1]}", flush=True)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    cid = 0
    while not stop.is_set():
        try:
            r, _, _ = select.select([ls], [], [], 0.2)
        except (OSError, ValueError):
            break
        if not r:
            continue
        try:
            c, peer = ls.accept()
        except OSError:
            continue
        cid += 1
        st = _ConnStats(cid, f"{peer[0]}:{peer[1]}", c)
        emit("conn", {"id": cid, "peer": st.peer, "proto": st.proto,
                      "sub_accept": st.sub_accept})
        threading.Thread(target=serve, args=(c, st), daemon=True).start()
    ls.close()


class PathOrigin:
    """The origin above as a child process inside a netns. conns() / ends()
    return the parsed "conn" / "end" records; wait_end() waits for one."""

    def __init__(self, ns, mode="http", size=0, bind=SERVICE_IP, timeout=15, tcp_only=False):
        cmd = ["ip", "netns", "exec", ns, sys.executable, os.path.abspath(__file__), "origin",
               "--bind", bind, "--mode", mode, "--size", str(size)]
        if tcp_only:
            cmd.append("--tcp-only")
        self.bind = bind
        self.tcp_only = tcp_only
        self.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                     stdin=subprocess.DEVNULL)
        self.records = []
        self.cv = threading.Condition()
        threading.Thread(target=self._read, daemon=True).start()
        with self.cv:
            ok = self.cv.wait_for(lambda: self.port is not None or self.proc.poll() is not None,
                                  timeout)
        if not ok or self.port is None:
            self.close()
            err = self.proc.stderr.read().decode(errors="replace")
            raise TestFailure(f"origin in {ns} did not start: {err[-500:]}")

    port = None

    def _read(self):
        for raw in self.proc.stdout:
            line = raw.decode(errors="replace").rstrip("\n")
            with self.cv:
                if line.startswith("ready ") and self.port is None:
                    self.port = int(line.split()[1])
                else:
                    kind, _, js = line.partition(" ")
                    try:
                        self.records.append((kind, json.loads(js)))
                    except ValueError:
                        self.records.append(("junk", line))
                self.cv.notify_all()
        with self.cv:
            self.cv.notify_all()

    def mark(self):
        with self.cv:
            return len(self.records)

    def _of(self, kind, since=0):
        with self.cv:
            return [r for k, r in self.records[since:] if k == kind]

    def conns(self, since=0):
        return self._of("conn", since)

    def ends(self, since=0):
        return self._of("end", since)

    def errors(self, since=0):
        return self._of("error", since)

    def samples(self, cid, since=0):
        """[(t_ms since accept, subflows)] each time the count changed."""
        return [(r["t_ms"], r["subflows"]) for r in self._of("sample", since)
                if r["id"] == cid]

    def max_subflows(self, cid, since=0):
        """Most subflows reported so far for connection cid (at accept or sampled)."""
        n = [r.get("sub_accept") or 0 for r in self.conns(since) if r["id"] == cid]
        n += [k for _, k in self.samples(cid, since)]
        return max(n, default=0)

    def wait_end(self, since=0, n=1, timeout=30):
        deadline = time.monotonic() + timeout
        with self.cv:
            while True:
                got = [r for k, r in self.records[since:] if k == "end"]
                if len(got) >= n:
                    return got
                left = deadline - time.monotonic()
                if left <= 0 or (self.proc.poll() is not None):
                    raise TestFailure(f"origin: {n} connection end(s) not reported within "
                                      f"{timeout}s (got {len(got)}; errors "
                                      f"{[r for k, r in self.records[since:] if k == 'error']})")
                self.cv.wait(min(left, 0.2))

    def close(self):
        end_process(self.proc)


def path_split(end):
    """'10.1.1.1 12.3 MB / 10.2.2.1 11.9 MB' from an origin end record (bytes
    acked by the peer + received from it, per subflow peer address)."""
    parts = []
    for ip in sorted(end.get("paths") or {}):
        a, r = end["paths"][ip]
        parts.append(f"{ip} {(a + r) / 1e6:.1f} MB")
    return " / ".join(parts) or "n/a"


def _client_main(argv):
    """`testbed.py client`: one raw (MPTCP) connection, optional SOCKS5 CONNECT,
    sends N payload bytes while reading to EOF; prints one JSON line."""
    ap = argparse.ArgumentParser(prog="testbed.py client")
    ap.add_argument("--connect", required=True)
    ap.add_argument("--send", type=int, default=0)
    ap.add_argument("--mptcp", action="store_true")
    ap.add_argument("--socks5")
    ap.add_argument("--timeout", type=float, default=60)
    a = ap.parse_args(argv)
    host, _, port = a.connect.rpartition(":")
    rep = {"proto": None, "subflows": None, "local": None, "local_port": None, "sent": 0,
           "sent_sha": None, "recv": 0, "recv_sha": None, "secs": None, "error": None}
    t0 = time.monotonic()
    c = socket.socket(socket.AF_INET, socket.SOCK_STREAM,
                      IPPROTO_MPTCP if a.mptcp else socket.IPPROTO_TCP)
    c.settimeout(a.timeout)
    h_in = hashlib.sha256()
    # Bound first, so the port is known even when a reset beats connect().
    c.bind(("0.0.0.0", 0))
    rep["local_port"] = c.getsockname()[1]
    try:
        c.connect((host, int(port)))
        rep["local"] = "%s:%d" % c.getsockname()[:2]
        rep["proto"] = sock_protocol(c)
        if a.socks5:
            th, _, tp = a.socks5.rpartition(":")
            c.sendall(b"\x05\x01\x00\x05\x01\x00\x01" + socket.inet_aton(th)
                      + int(tp).to_bytes(2, "big"))
            rd = Reader(c)
            m = rd.read_exact(2)
            r = rd.read_exact(10)
            if m != b"\x05\x00" or r[:2] != b"\x05\x00":
                raise OSError(f"SOCKS5 refused: {m.hex()} {r.hex()}")
            h_in.update(bytes(rd.buf))
            rep["recv"] += len(rd.buf)
        err = []

        def sender():
            try:
                mv = payload(a.send)
                for off in range(0, a.send, 1 << 20):
                    c.sendall(mv[off:off + (1 << 20)])
                    rep["sent"] += min(1 << 20, a.send - off)
                c.shutdown(socket.SHUT_WR)
            except OSError as e:
                err.append(repr(e))

        t = threading.Thread(target=sender, daemon=True)
        t.start()
        while True:
            b = c.recv(1 << 20)
            if not b:
                break
            rep["recv"] += len(b)
            h_in.update(b)
            if rep["subflows"] is None or rep["recv"] % (1 << 22) < len(b):
                rep["subflows"] = max(rep["subflows"] or 0, mptcp_subflows(c) or 0)
        t.join(a.timeout)
        if err:
            rep["error"] = err[0]
        rep["sent_sha"] = hashlib.sha256(payload(a.send)).hexdigest()
    except (OSError, EOFError) as e:
        rep["error"] = repr(e)
    finally:
        rep["secs"] = time.monotonic() - t0
        rep["recv_sha"] = h_in.hexdigest()
        c.close()
    print(json.dumps(rep), flush=True)


def _up_main():
    tb = Testbed().start()
    print(f"namespaces: lan={tb.lan} rtr={tb.rtr} srv={tb.srv}; ^C to delete them", flush=True)
    try:
        threading.Event().wait(24 * 3600)
    except KeyboardInterrupt:
        pass
    finally:
        tb.close()


if __name__ == "__main__":
    if len(sys.argv) >= 2 and sys.argv[1] == "origin":
        _origin_serve(sys.argv[2:])
    elif len(sys.argv) >= 2 and sys.argv[1] == "client":
        _client_main(sys.argv[2:])
    elif len(sys.argv) >= 2 and sys.argv[1] == "up":
        _up_main()
    else:
        print(__doc__)
