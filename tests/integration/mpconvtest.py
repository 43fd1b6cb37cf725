"""Shared helpers for the mpconv integration tests (python3 stdlib only).

Pieces:
  Suite         case runner: one line per case, closing "N passed, M failed",
                exit 0/1/77 (77 = skipped; under CI=true a skip is a failure).
  Daemon        starts the real binary, reads its stderr log, waits for the
                "listening:" lines and "session end" lines (always with a deadline).
  Origin        MPTCP origin servers (127.0.0.1 and [::1], same port) in threads:
                source / sink / echo / http / https; records per accepted
                connection SO_PROTOCOL (262 = MPTCP) and the MPTCP_INFO subflow count.
                tcp_only=True gives a plain-TCP origin (fallback case).
  OriginProcess the same origin as a child process (used inside a netns).
  socks5_* / http_* raw-socket client helpers, curl(), payload()/payload_sha().

Run "python3 mpconvtest.py origin --mode http" to start an origin by hand; it
prints "ready PORT" and then one "conn ..." line per accepted connection.
"""

import argparse
import atexit
import base64
import calendar
import ctypes
import hashlib
import os
import random
import re
import resource
import select
import shlex
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import threading
import time
import traceback

IPPROTO_MPTCP = getattr(socket, "IPPROTO_MPTCP", 262)
SOL_MPTCP = 284
MPTCP_INFO = 1
SO_PROTOCOL = getattr(socket, "SO_PROTOCOL", 38)

MiB = 1 << 20
BIG = 64 * MiB  # size of the large transfers

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
IN_CI = os.environ.get("CI") == "true"


# --------------------------------------------------------------------------
# Test runner
# --------------------------------------------------------------------------

class Skip(Exception):
    """Raised by a case (or setup) that cannot run here."""


class TestFailure(AssertionError):
    pass


def check(cond, msg):
    if not cond:
        raise TestFailure(msg)


def check_eq(got, want, what):
    if got != want:
        g, w = repr(got), repr(want)
        if len(g) > 300:
            g = g[:300] + "..."
        if len(w) > 300:
            w = w[:300] + "..."
        raise TestFailure(f"{what}: got {g}, want {w}")


class Suite:
    """Collects cases (functions) and runs them in order.

    Output: one line per case ("ok", "FAIL" or "skip"), then exactly
    "N passed, M failed". Exit 0 if all ran and passed, 1 on any failure,
    77 if nothing passed and something was skipped (outside CI)."""

    def __init__(self, name):
        self.name = name
        self.cases = []
        self.setup_fns = []
        self.cleanup_fns = []

    def case(self, fn):
        self.cases.append(fn)
        return fn

    def cleanup(self, fn):
        self.cleanup_fns.append(fn)
        return fn

    def run(self, only=None):
        passed = failed = skipped = 0
        for fn in self.cases:
            name = fn.__name__
            if only and name not in only:
                continue
            t0 = time.monotonic()
            n_problems = len(Daemon.exit_problems)
            try:
                fn()
            except Skip as e:
                if IN_CI:
                    failed += 1
                    print(f"FAIL {name}: skipped under CI=true: {e}", flush=True)
                else:
                    skipped += 1
                    print(f"skip {name}: {e}", flush=True)
                continue
            except Exception as e:  # noqa: BLE001 - any error fails the case
                failed += 1
                print(f"FAIL {name}: {type(e).__name__}: {e}", flush=True)
                tb = traceback.format_exc().rstrip().splitlines()
                for line in tb[-8:]:
                    print(f"     | {line}", flush=True)
                for d in list(Daemon.running):
                    d.dump_log(prefix="     | daemon: ", last=25)
                continue
            finally:
                for d in list(Daemon.running):
                    if getattr(d, "_case_scoped", False):
                        d.stop()
            problems = Daemon.exit_problems[n_problems:]
            if problems:  # a checked (e.g. valgrind-wrapped) daemon exited badly
                failed += 1
                print(f"FAIL {name}: {'; '.join(problems)}", flush=True)
                continue
            passed += 1
            print(f"ok   {name} ({time.monotonic() - t0:.2f}s)", flush=True)
        n_problems = len(Daemon.exit_problems)
        for fn in self.cleanup_fns:
            try:
                fn()
            except Exception as e:  # noqa: BLE001
                print(f"cleanup error: {e}", flush=True)
        Daemon.stop_all()
        for p in Daemon.exit_problems[n_problems:]:  # shared daemons stopped at the end
            failed += 1
            print(f"FAIL daemon_exit: {p}", flush=True)
        print(f"{passed} passed, {failed} failed", flush=True)
        if failed:
            return 1
        if skipped and not passed:
            return 77
        return 0

    def main(self):
        only = set(sys.argv[1:]) or None
        mpconv_bin()  # no binary: skip (exit 77), or fail under CI=true
        try:
            rc = self.run(only)
        finally:
            Daemon.stop_all()
        sys.exit(rc)


class Lazy:
    """Runs fn once on first call; later calls return its value or re-raise
    its error (so a broken shared setup fails every case the same way)."""

    def __init__(self, fn):
        self.fn = fn
        self.done = False
        self.value = None
        self.err = None

    def __call__(self):
        if not self.done:
            self.done = True
            try:
                self.value = self.fn()
            except Skip as e:
                self.err = e
            except Exception as e:  # noqa: BLE001
                self.err = TestFailure(f"shared setup failed: {type(e).__name__}: {e}")
        if self.err:
            raise self.err
        return self.value


def skip_or_fail_script(reason):
    """Whole-script skip before any case ran (exit 77, or 1 under CI)."""
    if IN_CI:
        print(f"FAIL setup: skipped under CI=true: {reason}")
        print("0 passed, 1 failed")
        sys.exit(1)
    print(f"skip: {reason}")
    print("0 passed, 0 failed")
    sys.exit(77)


# --------------------------------------------------------------------------
# Deadlines
# --------------------------------------------------------------------------

def wait_until(pred, timeout, what, interval=0.01):
    """Polls pred() until truthy (returned) or the deadline (TestFailure)."""
    deadline = time.monotonic() + timeout
    n = 0
    while True:
        v = pred()
        if v:
            return v
        n += 1
        if time.monotonic() >= deadline or n > 1_000_000:
            raise TestFailure(f"timed out after {timeout}s waiting for {what}")
        time.sleep(interval)


# --------------------------------------------------------------------------
# Deterministic payload
# --------------------------------------------------------------------------

_BLOCK_LEN = 1048573  # prime, so repeats never line up with power-of-two chunks
_payload_lock = threading.Lock()
_payload_buf = b""
_sha_cache = {}


def payload(n):
    """The first n bytes of the deterministic byte stream (memoryview)."""
    global _payload_buf
    with _payload_lock:
        if len(_payload_buf) < n:
            block = random.Random(0x6D70636F).randbytes(_BLOCK_LEN)
            reps = n // _BLOCK_LEN + 1
            _payload_buf = block * reps
        return memoryview(_payload_buf)[:n]


def payload_sha(n):
    with _payload_lock:
        if n in _sha_cache:
            return _sha_cache[n]
    h = hashlib.sha256(payload(n)).hexdigest()
    with _payload_lock:
        _sha_cache[n] = h
    return h


def sha256_file(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while True:
            b = f.read(4 * MiB)
            if not b:
                break
            h.update(b)
    return h.hexdigest()


def write_payload_file(path, n):
    with open(path, "wb") as f:
        f.write(payload(n))
    return path


# --------------------------------------------------------------------------
# Socket inspection
# --------------------------------------------------------------------------

def sock_protocol(s):
    try:
        return s.getsockopt(socket.SOL_SOCKET, SO_PROTOCOL)
    except OSError:
        return None


def mptcp_subflows(s):
    """Subflow count from MPTCP_INFO, or None (TCP, fallback, old kernel)."""
    try:
        b = s.getsockopt(SOL_MPTCP, MPTCP_INFO, 96)
    except OSError:
        return None
    if len(b) >= 81 and b[80]:
        return b[80]  # mptcpi_subflows_total (6.8+)
    if len(b) >= 1:
        return b[0] + 1  # extra subflows + the initial one
    return None


def mptcp_available():
    try:
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM, IPPROTO_MPTCP)
    except OSError:
        return False
    s.close()
    return True


def closed_port(family=socket.AF_INET):
    """A bound, non-listening socket: connecting to its port is refused.
    Keep the returned socket open for as long as the port must stay closed."""
    s = socket.socket(family, socket.SOCK_STREAM)
    s.bind(("127.0.0.1" if family == socket.AF_INET else "::1", 0))
    return s, s.getsockname()[1]


class UnresponsivePort:
    """A loopback port whose SYNs are silently dropped: a listener with a full
    accept queue (backlog 0 plus one never-accepted connection). Connecting to
    it times out instead of being refused. Use as a context manager."""

    def __init__(self):
        self.ls = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.ls.bind(("127.0.0.1", 0))
        self.ls.listen(0)
        self.port = self.ls.getsockname()[1]
        self.fillers = []
        for _ in range(4):  # bounded: the queue is full after one or two
            c = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            c.settimeout(0.3)
            try:
                c.connect(("127.0.0.1", self.port))
            except OSError:
                c.close()
                return
            self.fillers.append(c)
        raise RuntimeError("could not fill the accept queue")

    def close(self):
        for c in self.fillers:
            c.close()
        self.ls.close()

    def __enter__(self):
        return self

    def __exit__(self, *a):
        self.close()


# --------------------------------------------------------------------------
# Buffered socket reader
# --------------------------------------------------------------------------

class Reader:
    def __init__(self, sock):
        self.sock = sock
        self.buf = bytearray()

    def _fill(self):
        b = self.sock.recv(1 << 18)
        if not b:
            return False
        self.buf += b
        return True

    def read_until(self, sep, limit=1 << 20):
        while True:
            i = self.buf.find(sep)
            if i >= 0:
                out = bytes(self.buf[: i + len(sep)])
                del self.buf[: i + len(sep)]
                return out
            if len(self.buf) > limit:
                raise ValueError("line too long")
            if not self._fill():
                raise EOFError(f"EOF before {sep!r} ({len(self.buf)} bytes buffered)")

    def read_exact(self, n):
        while len(self.buf) < n:
            if not self._fill():
                raise EOFError(f"EOF after {len(self.buf)} of {n} bytes")
        out = bytes(self.buf[:n])
        del self.buf[:n]
        return out

    def read_into_hash(self, n, h):
        """Reads exactly n bytes into hash object h without keeping them."""
        take = min(n, len(self.buf))
        if take:
            h.update(self.buf[:take])
            del self.buf[:take]
        left = n - take
        while left:
            b = self.sock.recv(min(left, 1 << 20))
            if not b:
                raise EOFError(f"EOF with {left} of {n} bytes left")
            h.update(b)
            left -= len(b)

    def read_to_eof(self, limit=1 << 30):
        out = bytearray(self.buf)
        self.buf = bytearray()
        while True:
            b = self.sock.recv(1 << 18)
            if not b:
                return bytes(out)
            out += b
            if len(out) > limit:
                raise ValueError("too much data")


# --------------------------------------------------------------------------
# Origin servers
# --------------------------------------------------------------------------

class ConnRecord:
    def __init__(self, family, peer, proto, subflows):
        self.family = family
        self.peer = peer
        self.proto = proto  # 262 MPTCP, 6 TCP
        self.subflows = subflows
        self.requests = []  # http: (method, target) per request
        self.received = 0
        self.closed = False

    def __repr__(self):
        return (f"<conn fam={self.family} peer={self.peer} proto={self.proto} "
                f"subflows={self.subflows} reqs={len(self.requests)} closed={self.closed}>")


def _read_http_head(rd, limit=64 * 1024):
    head = rd.read_until(b"\r\n\r\n", limit)
    lines = head[:-4].split(b"\r\n")
    parts = lines[0].decode("latin-1").split(" ")
    if len(parts) != 3:
        raise ValueError(f"bad request line {lines[0]!r}")
    headers = []
    for ln in lines[1:]:
        k, _, v = ln.decode("latin-1").partition(":")
        headers.append((k.strip(), v.strip()))
    return parts[0], parts[1], parts[2], headers, head


def _hget(headers, name):
    name = name.lower()
    for k, v in headers:
        if k.lower() == name:
            return v
    return None


def _read_chunked(rd, h):
    total = 0
    while True:
        line = rd.read_until(b"\r\n", 4096)
        size = int(line.split(b";")[0].strip(), 16)
        if size == 0:
            # trailers
            while rd.read_until(b"\r\n", 65536) != b"\r\n":
                pass
            return total
        rd.read_into_hash(size, h)
        total += size
        check_eq(rd.read_exact(2), b"\r\n", "chunk terminator")


def _send_payload(sock, n, chunk=4 * MiB):
    mv = payload(n)
    for off in range(0, n, chunk):
        sock.sendall(mv[off: off + chunk])


class Origin:
    """Threaded origin server on 127.0.0.1:P and [::1]:P (same port P).

    mode: "source" (send `size` bytes, close), "sink" (read to EOF, send the
    sha256 hex + "\\n", close), "echo", "http", "https" (needs certfile/keyfile).
    tcp_only: plain TCP listeners instead of MPTCP.
    """

    def __init__(self, mode, size=0, tcp_only=False, certfile=None, keyfile=None,
                 v6=True, allow_tcp_fallback=False):
        self.mode = mode
        self.size = size
        self.conns = []
        self.lock = threading.Lock()
        self.stop_ev = threading.Event()
        self.errors = []
        proto = 0 if tcp_only else IPPROTO_MPTCP
        if not tcp_only and allow_tcp_fallback and not mptcp_available():
            proto = 0
        self.listen_proto = proto or socket.IPPROTO_TCP
        self.ssl_ctx = None
        if mode == "https":
            self.ssl_ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            self.ssl_ctx.load_cert_chain(certfile, keyfile)
        self.socks = []
        for attempt in range(50):
            s4 = socket.socket(socket.AF_INET, socket.SOCK_STREAM, proto)
            s4.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            s4.bind(("127.0.0.1", 0))
            s4.listen(128)
            port = s4.getsockname()[1]
            if not v6:
                self.socks = [s4]
                break
            try:
                s6 = socket.socket(socket.AF_INET6, socket.SOCK_STREAM, proto)
                s6.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
                s6.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                s6.bind(("::1", port))
                s6.listen(128)
            except OSError:
                s4.close()
                try:
                    s6.close()
                except Exception:  # noqa: BLE001
                    pass
                continue
            self.socks = [s4, s6]
            break
        else:
            raise RuntimeError("could not bind the same port on 127.0.0.1 and ::1")
        self.port = port
        self.thread = threading.Thread(target=self._accept_loop, daemon=True)
        self.thread.start()
        self.on_conn = None  # callback(ConnRecord) for the child-process mode

    # -- bookkeeping
    def count(self):
        with self.lock:
            return len(self.conns)

    def conns_since(self, mark):
        with self.lock:
            return list(self.conns[mark:])

    def wait_conns(self, mark, n=1, timeout=10):
        wait_until(lambda: self.count() - mark >= n, timeout,
                   f"{n} connection(s) at origin :{self.port}")
        return self.conns_since(mark)

    def close(self):
        self.stop_ev.set()
        self.thread.join(2)
        for s in self.socks:
            s.close()

    def __enter__(self):
        return self

    def __exit__(self, *a):
        self.close()

    # -- server
    def _accept_loop(self):
        while not self.stop_ev.is_set():
            try:
                r, _, _ = select.select(self.socks, [], [], 0.2)
            except (OSError, ValueError):
                return
            for ls in r:
                try:
                    c, peer = ls.accept()
                except OSError:
                    continue
                rec = ConnRecord(ls.family, peer, sock_protocol(c), mptcp_subflows(c))
                with self.lock:
                    self.conns.append(rec)
                if self.on_conn:
                    self.on_conn(rec)
                threading.Thread(target=self._serve, args=(c, rec), daemon=True).start()

    def _serve(self, c, rec):
        try:
            c.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        except OSError:
            pass
        try:
            c.settimeout(120)
            if self.mode == "source":
                _send_payload(c, self.size)
            elif self.mode == "sink":
                h = hashlib.sha256()
                while True:
                    b = c.recv(1 << 20)
                    if not b:
                        break
                    rec.received += len(b)
                    h.update(b)
                c.sendall(h.hexdigest().encode() + b"\n")
            elif self.mode == "echo":
                while True:
                    b = c.recv(1 << 20)
                    if not b:
                        break
                    rec.received += len(b)
                    c.sendall(b)
                c.shutdown(socket.SHUT_WR)
            elif self.mode in ("http", "https"):
                if self.ssl_ctx:
                    c = self.ssl_ctx.wrap_socket(c, server_side=True)
                self._serve_http(c, rec)
        except (OSError, EOFError, ValueError, ssl.SSLError) as e:
            self.errors.append(repr(e))
        finally:
            rec.closed = True
            try:
                c.close()
            except OSError:
                pass

    def _serve_http(self, c, rec):
        rd = Reader(c)
        for _ in range(10000):
            try:
                method, target, version, headers, raw = _read_http_head(rd)
            except EOFError:
                return
            rec.requests.append((method, target))
            close = (_hget(headers, "connection") or "").lower() == "close" \
                or version == "HTTP/1.0"
            body_h = hashlib.sha256()
            body_len = 0
            if (_hget(headers, "expect") or "").lower() == "100-continue":
                c.sendall(b"HTTP/1.1 100 Continue\r\n\r\n")
            te = (_hget(headers, "transfer-encoding") or "").lower()
            cl = _hget(headers, "content-length")
            if "chunked" in te:
                body_len = _read_chunked(rd, body_h)
            elif cl is not None:
                body_len = int(cl)
                rd.read_into_hash(body_len, body_h)
            rec.received += body_len
            path = target
            m = re.match(r"^https?://[^/]+(/.*)?$", target)
            if m:
                path = m.group(1) or "/"
            extra = b"Connection: close\r\n" if close else b""
            m_bytes = re.match(r"^/bytes/(\d+)$", path)
            m_chunk = re.match(r"^/chunked/(\d+)$", path)
            if method in ("PUT", "POST"):
                body = (body_h.hexdigest() + "\n").encode()
                c.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n" + extra +
                          b"Content-Length: %d\r\n\r\n" % len(body) + body)
            elif method in ("GET", "HEAD") and m_bytes:
                n = int(m_bytes.group(1))
                c.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\n"
                          + extra + b"Content-Length: %d\r\n\r\n" % n)
                if method == "GET":
                    _send_payload(c, n)
            elif method == "GET" and m_chunk:
                n = int(m_chunk.group(1))
                c.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\n"
                          + extra + b"Transfer-Encoding: chunked\r\n\r\n")
                mv = payload(n)
                off, k = 0, 0
                while off < n:
                    step = min(n - off, 1 + (k * 7919) % 65536)
                    c.sendall(b"%x\r\n" % step + mv[off:off + step] + b"\r\n")
                    off += step
                    k += 1
                c.sendall(b"0\r\n\r\n")
            elif method == "GET" and path == "/headers":
                body = raw
                c.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n" + extra +
                          b"Content-Length: %d\r\n\r\n" % len(body) + body)
            else:
                body = b"not found\n"
                c.sendall(b"HTTP/1.1 404 Not Found\r\n" + extra +
                          b"Content-Length: %d\r\n\r\n" % len(body) + body)
            if close:
                return


def make_cert(tmpdir):
    """Self-signed cert for localhost / 127.0.0.1 / ::1. Returns (cert, key)."""
    cert = os.path.join(tmpdir, "cert.pem")
    key = os.path.join(tmpdir, "key.pem")
    r = subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
         "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", key, "-out", cert,
         "-days", "2", "-subj", "/CN=localhost",
         "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1,IP:::1"],
        capture_output=True, timeout=60)
    if r.returncode != 0:
        raise RuntimeError("openssl req failed: " + r.stderr.decode(errors="replace"))
    return cert, key


class OriginProcess:
    """An origin in a child process, optionally inside a netns.

    Reads "ready PORT" and "conn FAMILY PROTO SUBFLOWS" lines from its stdout."""

    def __init__(self, mode, size=0, netns=None, tcp_only=False, timeout=15):
        cmd = [sys.executable, os.path.join(HERE, "mpconvtest.py"), "origin",
               "--mode", mode, "--size", str(size)]
        if tcp_only:
            cmd.append("--tcp-only")
        if netns:
            cmd = ["ip", "netns", "exec", netns] + cmd
        self.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                     stdin=subprocess.DEVNULL)
        self.lines = []
        self.cv = threading.Condition()
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()
        with self.cv:
            ok = self.cv.wait_for(lambda: any(l.startswith("ready ") for l in self.lines)
                                  or self.proc.poll() is not None, timeout)
        ready = [l for l in self.lines if l.startswith("ready ")]
        if not ok or not ready:
            err = b""
            self.close()
            try:
                err = self.proc.stderr.read()
            except Exception:  # noqa: BLE001
                pass
            raise RuntimeError(f"origin process did not start: {err.decode(errors='replace')}")
        self.port = int(ready[0].split()[1])
        self.listen_proto = int(ready[0].split()[2])

    def _read(self):
        for raw in self.proc.stdout:
            with self.cv:
                self.lines.append(raw.decode(errors="replace").rstrip("\n"))
                self.cv.notify_all()

    def conns(self):
        with self.cv:
            out = []
            for l in self.lines:
                if l.startswith("conn "):
                    _, fam, proto, sub = l.split()
                    out.append((int(fam), int(proto), None if sub == "None" else int(sub)))
            return out

    def wait_conns(self, mark, n=1, timeout=10):
        wait_until(lambda: len(self.conns()) - mark >= n, timeout,
                   f"{n} connection(s) at origin process :{self.port}")
        return self.conns()[mark:]

    def close(self):
        end_process(self.proc)


def end_process(proc, timeout=5):
    """SIGTERM, then SIGKILL if it has not exited within timeout seconds."""
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)


def _origin_main(argv):
    ap = argparse.ArgumentParser(prog="mpconvtest.py origin")
    ap.add_argument("--mode", default="http")
    ap.add_argument("--size", type=int, default=0)
    ap.add_argument("--tcp-only", action="store_true")
    a = ap.parse_args(argv)
    # Inside a netns with net.mptcp.enabled=0 MPTCP listeners are impossible: use TCP.
    o = Origin(a.mode, size=a.size, tcp_only=a.tcp_only, allow_tcp_fallback=True, v6=False)
    out_lock = threading.Lock()

    def on_conn(rec):
        with out_lock:
            print(f"conn {int(rec.family)} {rec.proto} {rec.subflows}", flush=True)

    o.on_conn = on_conn
    print(f"ready {o.port} {o.listen_proto}", flush=True)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    stop.wait(3600)
    o.close()


# --------------------------------------------------------------------------
# The daemon
# --------------------------------------------------------------------------

LISTEN_RE = re.compile(r"listening: (socks5|http|mixed)://(\[[0-9a-fA-F:.]+\]|[^\s:]+):(\d+)")
LOG_RE = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z (ERROR|WARN|INFO|DEBUG) ")
KV_RE = re.compile(r"(\w+)=(\S+)")


def mpconv_bin():
    b = os.environ.get("MPCONV_BIN") or os.path.join(REPO, "build", "mpconv")
    if not (os.path.isfile(b) and os.access(b, os.X_OK)):
        skip_or_fail_script(f"mpconv binary not found: {b} (set MPCONV_BIN)")
    return b


def clean_env():
    env = dict(os.environ)
    for k in list(env):
        if k.lower() in ("http_proxy", "https_proxy", "all_proxy", "no_proxy", "ftp_proxy"):
            del env[k]
    return env


class LogMark:
    def __init__(self, index, ms):
        self.index, self.ms = index, ms


def log_time_ms(line):
    """Milliseconds since the epoch from a log line's timestamp, or None."""
    m = re.match(r"^(\d{4})-(\d\d)-(\d\d)T(\d\d):(\d\d):(\d\d)\.(\d{3})Z ", line)
    if not m:
        return None
    y, mo, d, h, mi, sec, ms = (int(x) for x in m.groups())
    return calendar.timegm((y, mo, d, h, mi, sec, 0, 0, 0)) * 1000 + ms


class Listener:
    def __init__(self, kind, host, port):
        self.kind, self.host, self.port = kind, host, port

    @property
    def addr(self):
        return (self.host.strip("[]"), self.port)

    @property
    def hostport(self):
        return f"{self.host}:{self.port}"

    def __repr__(self):
        return f"{self.kind}://{self.host}:{self.port}"


def daemon_wrapper():
    """MPCONV_WRAPPER split into argv words (e.g. a valgrind command line that
    prefixes every daemon), or [] when unset. Read at each Daemon start."""
    w = os.environ.get("MPCONV_WRAPPER", "").strip()
    return shlex.split(w) if w else []


def wrapper_error_exitcode(wrapper):
    """The wrapper's --error-exitcode=N (valgrind), or None."""
    for a in wrapper:
        m = re.fullmatch(r"--error-exitcode=(\d+)", a)
        if m:
            return int(m.group(1))
    return None


# mpconv refuses loopback destinations by default ([acl]); the origins of
# these tests live there, so every daemon allows them unless told otherwise.
LOOPBACK_ALLOW = ("127.0.0.0/8", "::1")


def acl_allow_args(cidrs=LOOPBACK_ALLOW):
    """["-o", "acl.allow=A,B"] for a daemon's command line ([] for none)."""
    return ["-o", "acl.allow=" + ",".join(cidrs)] if cidrs else []


class Daemon:
    """Runs mpconv; stderr is collected line by line.

    acl_allow: destinations allowed despite the built-in deny set, passed as
    "-o acl.allow=..." after args (it replaces the config file's [acl] allow);
    default LOOPBACK_ALLOW, None or () for mpconv's own default (test_acl.py).

    MPCONV_WRAPPER (env) prefixes the command, e.g. "valgrind --error-exitcode=99
    ...". A wrapped daemon (or one started with check_exit=True) must exit 0 when
    stop() sends SIGTERM; otherwise stop() prints the wrapper's "==PID==" lines,
    records the problem in Daemon.exit_problems (Suite fails the case, or the run
    for daemons stopped at the end) and stop(check=True) raises TestFailure.
    nofile=N starts the daemon under "prlimit --nofile=N:N" (soft = hard = N)."""

    running = []
    exit_problems = []

    def __init__(self, args, config=None, netns=None, case_scoped=True, wait=True,
                 n_listeners=None, timeout=15, nofile=None, check_exit=None,
                 acl_allow=LOOPBACK_ALLOW):
        self.tmp = tempfile.mkdtemp(prefix="mpc-it-")
        self.config_path = None
        self.wrapper = daemon_wrapper()
        self.check_exit = bool(self.wrapper) if check_exit is None else check_exit
        self.exit_problem = None
        if self.wrapper:
            timeout = max(timeout, 60)  # valgrind starts slowly
        cmd = self.wrapper + [mpconv_bin()]
        if config is not None:
            self.config_path = os.path.join(self.tmp, "mpconv.conf")
            with open(self.config_path, "w") as f:
                f.write(config)
            cmd += ["-c", self.config_path]
        cmd += list(args) + acl_allow_args(acl_allow)
        if nofile is not None:
            cmd = ["prlimit", f"--nofile={nofile}:{nofile}", "--"] + cmd
        if netns:
            cmd = ["ip", "netns", "exec", netns] + cmd
        self.cmd = cmd
        self.lines = []
        self.cv = threading.Condition()
        self._case_scoped = case_scoped
        self.proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, env=clean_env())
        Daemon.running.append(self)
        self.stdout_data = b""
        self._t_err = threading.Thread(target=self._read_err, daemon=True)
        self._t_err.start()
        self._t_out = threading.Thread(target=self._read_out, daemon=True)
        self._t_out.start()
        self.listeners = []
        if wait:
            if n_listeners is None:
                n_listeners = sum(1 for a in args if a == "-l")
                if n_listeners == 0 and config is not None:
                    n_listeners = len(re.findall(r"^\s*listen\s*=", config, re.M))
            self.listeners = self.wait_listening(n_listeners, timeout)

    def _read_err(self):
        for raw in self.proc.stderr:
            with self.cv:
                self.lines.append(raw.decode(errors="replace").rstrip("\n"))
                self.cv.notify_all()
        with self.cv:
            self.cv.notify_all()

    def _read_out(self):
        data = self.proc.stdout.read()
        self.stdout_data = data

    # -- log access
    def log(self):
        with self.cv:
            return list(self.lines)

    def mark(self):
        """A point in the log: later waits only see lines logged after it. Uses the
        log timestamps (the stderr reader may lag behind the daemon), so a line
        written just before mark() but read just after it is not counted."""
        with self.cv:
            return LogMark(len(self.lines), int(time.time() * 1000))

    def _lines_since(self, since):
        lines = self.log()
        if isinstance(since, LogMark):
            # Read after the mark AND not stamped before it: a line read late
            # (reader lag) but written before the mark is excluded by its stamp.
            out = []
            for l in lines[since.index:]:
                ms = log_time_ms(l)
                if ms is None or ms >= since.ms:
                    out.append(l)
            return out
        return lines[since:]

    def dump_log(self, prefix="", last=40):
        for l in self.log()[-last:]:
            print(prefix + l, flush=True)

    def wait_line(self, pred, timeout=10, since=0, what="log line"):
        deadline = time.monotonic() + timeout
        while True:
            for l in self._lines_since(since):
                if pred(l):
                    return l
            left = deadline - time.monotonic()
            if left <= 0:
                raise TestFailure(f"timed out after {timeout}s waiting for {what}")
            if self.proc.poll() is not None and not self._t_err.is_alive():
                raise TestFailure(f"daemon exited (rc={self.proc.returncode}) "
                                  f"while waiting for {what}")
            with self.cv:
                self.cv.wait(min(left, 0.2))

    def wait_listening(self, n, timeout=15):
        found = []

        def enough():
            found.clear()
            for l in self.log():
                m = LISTEN_RE.search(l)
                if m:
                    found.append(Listener(m.group(1), m.group(2), int(m.group(3))))
            return len(found) >= n

        deadline = time.monotonic() + timeout
        while not enough():
            if self.proc.poll() is not None:
                time.sleep(0.05)  # let the reader drain stderr
                raise TestFailure(f"daemon exited rc={self.proc.returncode} before listening; "
                                  f"stderr: {' | '.join(self.log()[-10:])}")
            if time.monotonic() > deadline:
                raise TestFailure(f"daemon did not log {n} 'listening:' line(s) in {timeout}s; "
                                  f"stderr: {' | '.join(self.log()[-10:])}")
            with self.cv:
                self.cv.wait(0.1)
        return list(found[:n])

    def listener(self, kind=None, v6=None):
        for l in self.listeners:
            if kind and l.kind != kind:
                continue
            if v6 is not None and (l.host.startswith("[")) != v6:
                continue
            return l
        raise TestFailure(f"no {kind} listener among {self.listeners}")

    def sessions(self, since=0):
        out = []
        for l in self._lines_since(since):
            if "session end" in l:
                out.append(parse_session(l))
        return out

    def wait_session(self, since=0, target_port=None, client_port=None, n=1, timeout=10):
        """Waits for n 'session end' lines (after log index `since`) matching the
        target port and/or client port; returns them as dicts."""
        def match():
            got = []
            for s in self.sessions(since):
                if target_port is not None and not s.get("target", "").endswith(f":{target_port}"):
                    continue
                if client_port is not None and not s.get("client", "").endswith(f":{client_port}"):
                    continue
                got.append(s)
            return got if len(got) >= n else None
        what = f"{n} 'session end' line(s) target_port={target_port} client_port={client_port}"
        return wait_until(match, timeout, what, interval=0.02)

    def alive(self):
        return self.proc.poll() is None

    # -- process figures (the daemon's pid: prlimit, valgrind and ip netns exec exec)
    @property
    def pid(self):
        return self.proc.pid

    def rss_kib(self):
        return proc_rss_kib(self.proc.pid)

    def cpu_seconds(self):
        return proc_cpu_seconds(self.proc.pid)

    def fd_count(self):
        return proc_fd_count(self.proc.pid)

    def wrapper_lines(self):
        """The wrapper's own stderr lines (valgrind: "==PID== ...")."""
        return [l for l in self.log() if re.match(r"^==\d+==", l)]

    def _judge_exit(self, sent_term, killed, timeout):
        """Records why a checked daemon's exit is bad (None if it is fine)."""
        if not self.check_exit or self.exit_problem is not None:
            return self.exit_problem
        rc = self.proc.returncode
        what = " ".join(self.wrapper[:1] + [os.path.basename(mpconv_bin())]) \
            if self.wrapper else "daemon"
        problem = None
        if killed:
            problem = f"{what} did not exit within {timeout}s of SIGTERM (killed)"
        elif rc is not None and rc < 0:
            problem = f"{what} died of signal {-rc}"
        elif sent_term and rc != 0:
            problem = f"{what} exited {rc} after SIGTERM"
        elif rc is not None and rc == wrapper_error_exitcode(self.wrapper):
            problem = f"{what} exited {rc} (its --error-exitcode)"
        if problem:
            wl = self.wrapper_lines()
            problem += f" [{' '.join(self.cmd[:3])} ...]"
            self.exit_problem = problem
            Daemon.exit_problems.append(problem)
            print(f"     | daemon exit: {problem}", flush=True)
            for l in (wl or self.log())[-60:]:
                print(f"     | daemon: {l}", flush=True)
        return problem

    def wait_exit(self, timeout):
        """Waits (bounded) for the process to exit by itself; returns its status
        (None on timeout; the process keeps running). Checked daemons that exit
        badly are recorded as in stop()."""
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            return None
        self._t_err.join(2)
        self._judge_exit(getattr(self, "_sent_term", False), False, timeout)
        return self.proc.returncode

    def terminate(self):
        """Sends SIGTERM (stop accepting, drain) without waiting."""
        if self.proc.poll() is None:
            self._sent_term = True
            self.proc.terminate()

    def stop(self, timeout=10, check=False):
        """SIGTERM, wait up to `timeout` (60 s at least when wrapped), SIGKILL
        after that. Returns the exit status. A checked daemon's bad exit is
        recorded; check=True also raises TestFailure for it."""
        if self in Daemon.running:
            Daemon.running.remove(self)
        if self.wrapper:
            timeout = max(timeout, 60)  # leak check at exit takes a while
        killed = False
        sent_term = getattr(self, "_sent_term", False)
        if self.proc.poll() is None:
            if not sent_term:  # after terminate(): wait, a second SIGTERM means "now"
                sent_term = True
                self.proc.terminate()
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                killed = True
                self.proc.kill()
                self.proc.wait(5)
        self._t_err.join(2)
        self._t_out.join(2)
        problem = self._judge_exit(sent_term, killed, timeout)
        shutil.rmtree(self.tmp, ignore_errors=True)
        if check and problem:
            raise TestFailure(problem)
        return self.proc.returncode

    @classmethod
    def stop_all(cls):
        for d in list(cls.running):
            d.stop()

    def __enter__(self):
        return self

    def __exit__(self, *a):
        self.stop()


atexit.register(Daemon.stop_all)


def parse_session(line):
    d = dict(KV_RE.findall(line.split("session end", 1)[1]))
    d["_line"] = line
    return d


SESSION_FIELDS = ("id", "client", "via", "target", "up", "down", "ms", "mptcp",
                  "subflows", "reason")


def check_session(s, via=None, mptcp=None, up=None, down=None, min_up=None, min_down=None):
    line = s["_line"]
    check(LOG_RE.match(line) and " INFO " in line, f"session end line not INFO/log format: {line}")
    for k in SESSION_FIELDS:
        check(k in s, f"session end line lacks {k}=: {line}")
    check(re.fullmatch(r"\d+", s["id"]), f"id not numeric: {line}")
    check(re.fullmatch(r"\d+", s["ms"]), f"ms not numeric: {line}")
    check(re.fullmatch(r"\d+|\?", s["subflows"]), f"subflows not n or ?: {line}")
    check(s["mptcp"] in ("yes", "fallback", "off"), f"bad mptcp= value: {line}")
    if via is not None:
        check_eq(s["via"], via, f"via= in {line}")
    if mptcp is not None:
        check_eq(s["mptcp"], mptcp, f"mptcp= in {line}")
    if s["mptcp"] == "yes" and s["subflows"] != "?":
        check(int(s["subflows"]) >= 1, f"mptcp=yes with subflows=0: {line}")
    if up is not None:
        check_eq(int(s["up"]), up, f"up= in {line}")
    if down is not None:
        check_eq(int(s["down"]), down, f"down= in {line}")
    if min_up is not None:
        check(int(s["up"]) >= min_up, f"up= < {min_up}: {line}")
    if min_down is not None:
        check(int(s["down"]) >= min_down, f"down= < {min_down}: {line}")


def release_ctx(ctx, daemons=(), closables=()):
    """A suite's clean-up: each daemon in ctx has its session ids checked and is
    stopped, each closable (origins, sockets) closed, ctx["tmp"] removed."""
    for k in daemons:
        if k in ctx:
            check_unique_session_ids(ctx[k])
            ctx[k].stop()
    for k in closables:
        if k in ctx:
            ctx[k].close()
    if "tmp" in ctx:
        shutil.rmtree(ctx["tmp"], ignore_errors=True)


def check_unique_session_ids(d):
    ids = [s["id"] for s in d.sessions()]
    check(len(ids) == len(set(ids)), f"duplicate session end ids: {ids}")


def check_alive(d):
    check(d.alive(), f"daemon died (rc={d.proc.returncode})")


def write_config(tmpdir, text, name="mpconv.conf"):
    p = os.path.join(tmpdir, name)
    with open(p, "w") as f:
        f.write(text)
    return p


# --------------------------------------------------------------------------
# Raw-socket clients
# --------------------------------------------------------------------------

def connect(addr, timeout=10):
    host, port = addr
    fam = socket.AF_INET6 if ":" in host else socket.AF_INET
    s = socket.socket(fam, socket.SOCK_STREAM)
    s.settimeout(timeout)
    s.connect((host, port))
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return s


def recv_exact(s, n):
    out = bytearray()
    while len(out) < n:
        b = s.recv(n - len(out))
        if not b:
            raise EOFError(f"EOF after {len(out)} of {n} bytes: {bytes(out)!r}")
        out += b
    return bytes(out)


def recv_to_eof(s, timeout=10, limit=1 << 20):
    """All bytes until the peer closes (ECONNRESET counts as close).
    Fails if the peer keeps the connection open past `timeout`."""
    s.settimeout(timeout)
    out = bytearray()
    deadline = time.monotonic() + timeout
    while True:
        if time.monotonic() > deadline:
            raise TestFailure(f"peer did not close within {timeout}s (got {bytes(out[:200])!r})")
        try:
            b = s.recv(65536)
        except ConnectionResetError:
            return bytes(out)
        except socket.timeout:
            raise TestFailure(f"peer did not close within {timeout}s (got {bytes(out[:200])!r})")
        if not b:
            return bytes(out)
        out += b
        if len(out) > limit:
            raise TestFailure("too much data before close")


def socks5_addr(host, port):
    """SOCKS5 DST.ADDR + DST.PORT for an IPv4/IPv6 literal or a name."""
    try:
        return b"\x01" + socket.inet_pton(socket.AF_INET, host) + port.to_bytes(2, "big")
    except OSError:
        pass
    try:
        return b"\x04" + socket.inet_pton(socket.AF_INET6, host) + port.to_bytes(2, "big")
    except OSError:
        pass
    h = host.encode()
    return b"\x03" + bytes([len(h)]) + h + port.to_bytes(2, "big")


def socks5_reply(s):
    """Reads one complete SOCKS5 reply; returns the raw bytes."""
    head = recv_exact(s, 4)
    if head[3] == 1:
        rest = recv_exact(s, 6)
    elif head[3] == 4:
        rest = recv_exact(s, 18)
    elif head[3] == 3:
        ln = recv_exact(s, 1)
        rest = ln + recv_exact(s, ln[0] + 2)
    else:
        raise TestFailure(f"SOCKS5 reply with bad ATYP: {head!r}")
    return head + rest


def socks5_connect(addr, host, port, user=None, password=None, timeout=10):
    """Full SOCKS5 handshake; returns the connected socket. Fails unless REP=0."""
    s = connect(addr, timeout)
    if user is None:
        s.sendall(b"\x05\x01\x00")
        check_eq(recv_exact(s, 2), b"\x05\x00", "SOCKS5 method reply")
    else:
        s.sendall(b"\x05\x01\x02")
        check_eq(recv_exact(s, 2), b"\x05\x02", "SOCKS5 method reply")
        u, p = user.encode(), password.encode()
        s.sendall(b"\x01" + bytes([len(u)]) + u + bytes([len(p)]) + p)
        check_eq(recv_exact(s, 2), b"\x01\x00", "SOCKS5 auth reply")
    s.sendall(b"\x05\x01\x00" + socks5_addr(host, port))
    rep = socks5_reply(s)
    check_eq(rep[:3], b"\x05\x00\x00", "SOCKS5 CONNECT reply")
    return s


def echo_roundtrip(s, data):
    s.sendall(data)
    got = recv_exact(s, len(data))
    check(got == data, f"echo mismatch ({len(got)} bytes)")


def socks5_echo_ok(listener, origin, user=None, password=None, n=4096, daemon=None):
    """A normal request: SOCKS5 CONNECT to an echo origin, round trip n bytes.
    With daemon given, also waits for (and checks) its session end line."""
    mark = daemon.mark() if daemon else None
    s = socks5_connect(listener.addr, "127.0.0.1", origin.port, user, password)
    try:
        cport = s.getsockname()[1]
        data = bytes(payload(n))
        echo_roundtrip(s, data)
        s.shutdown(socket.SHUT_WR)
        check_eq(recv_to_eof(s), b"", "echo after half-close")
    finally:
        s.close()
    if daemon:
        sess = daemon.wait_session(since=mark, client_port=cport)
        check_eq(len(sess), 1, "session end lines")
        check_session(sess[0], via="socks5", up=n, down=n)
    return cport


def basic_auth(user, password):
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


class HttpResponse:
    def __init__(self, status, reason, version, headers, body, head):
        self.status, self.reason, self.version = status, reason, version
        self.headers, self.body, self.head = headers, body, head

    def header(self, name):
        return _hget(self.headers, name)

    def __repr__(self):
        return f"<HTTP {self.status} {self.reason} body={len(self.body)}B>"


def http_read_response(rd, method="GET", body_hash=None):
    """Reads one HTTP/1.x response (Content-Length, chunked, or to EOF)."""
    head = rd.read_until(b"\r\n\r\n", 1 << 20)
    lines = head[:-4].split(b"\r\n")
    m = re.match(rb"^(HTTP/1\.[01]) (\d{3}) ?(.*)$", lines[0])
    if not m:
        raise TestFailure(f"bad status line {lines[0]!r}")
    headers = []
    for ln in lines[1:]:
        k, _, v = ln.decode("latin-1").partition(":")
        headers.append((k.strip(), v.strip()))
    status = int(m.group(2))
    if 100 <= status < 200:
        return http_read_response(rd, method, body_hash)
    h = body_hash or hashlib.sha256()
    body = b""
    te = (_hget(headers, "transfer-encoding") or "").lower()
    cl = _hget(headers, "content-length")
    if method == "HEAD" or status in (204, 304) or (method == "CONNECT" and status == 200):
        pass
    elif "chunked" in te:
        if body_hash is None:
            acc = bytearray()

            class _H:
                def update(self, b):
                    acc.extend(b)
            _read_chunked(rd, _H())
            body = bytes(acc)
        else:
            _read_chunked(rd, h)
    elif cl is not None:
        n = int(cl)
        if body_hash is None:
            body = rd.read_exact(n)
        else:
            rd.read_into_hash(n, h)
    else:
        body = rd.read_to_eof()
        if body_hash is not None:
            h.update(body)
            body = b""
    return HttpResponse(status, m.group(3).decode("latin-1"), m.group(1).decode(),
                        headers, body, head)


def http_connect(addr, target, auth=None, timeout=10):
    """Sends CONNECT; returns (socket, Reader, HttpResponse)."""
    s = connect(addr, timeout)
    req = f"CONNECT {target} HTTP/1.1\r\nHost: {target}\r\n"
    if auth:
        req += f"Proxy-Authorization: {auth}\r\n"
    req += "\r\n"
    s.sendall(req.encode())
    rd = Reader(s)
    resp = http_read_response(rd, "CONNECT")
    return s, rd, resp


def http_raw_exchange(addr, data, timeout=10):
    """Sends raw bytes, reads one response; returns (HttpResponse, socket)."""
    s = connect(addr, timeout)
    s.sendall(data)
    rd = Reader(s)
    return http_read_response(rd), s


def http_get_ok(listener, origin, auth=None, n=1000, daemon=None):
    """A normal request through an HTTP listener: GET absolute URI, check body.
    With daemon given, also waits for (and checks) its session end line."""
    mark = daemon.mark() if daemon else None
    s = connect(listener.addr)
    cport = s.getsockname()[1]
    try:
        req = (f"GET http://127.0.0.1:{origin.port}/bytes/{n} HTTP/1.1\r\n"
               f"Host: 127.0.0.1:{origin.port}\r\nConnection: close\r\n")
        if auth:
            req += f"Proxy-Authorization: {auth}\r\n"
        s.sendall((req + "\r\n").encode())
        resp = http_read_response(Reader(s))
        check_eq(resp.status, 200, "sanity GET status")
        check(resp.body == bytes(payload(n)), "sanity GET body mismatch")
    finally:
        s.close()
    if daemon:
        sess = daemon.wait_session(since=mark, client_port=cport)
        check_eq(len(sess), 1, "session end lines")
        check_session(sess[0], via="http")
    return cport


# --------------------------------------------------------------------------
# curl
# --------------------------------------------------------------------------

def curl(args, timeout=120, netns=None):
    """Runs curl; returns CompletedProcess (stdout/stderr bytes)."""
    cmd = ["curl", "-sS", "--noproxy", "", "--max-time", str(timeout - 5)] + list(args)
    if netns:
        cmd = ["ip", "netns", "exec", netns] + cmd
    return subprocess.run(cmd, capture_output=True, timeout=timeout, env=clean_env(),
                          stdin=subprocess.DEVNULL)


def curl_ok(args, **kw):
    r = curl(args, **kw)
    check(r.returncode == 0,
          f"curl {' '.join(args)} failed rc={r.returncode}: {r.stderr.decode(errors='replace')}")
    return r


# --------------------------------------------------------------------------
# Network namespaces
# --------------------------------------------------------------------------

_netns_created = []


def _netns_cleanup():
    while _netns_created:
        ns = _netns_created.pop()
        r = subprocess.run(["ip", "netns", "pids", ns], capture_output=True, timeout=10)
        for pid in r.stdout.split():
            try:
                os.kill(int(pid), signal.SIGKILL)
            except (OSError, ValueError):
                pass
        subprocess.run(["ip", "netns", "delete", ns], capture_output=True, timeout=10)


def _on_signal(signum, _frame):
    Daemon.stop_all()
    _netns_cleanup()
    sys.exit(128 + signum)


def netns_usable():
    """None if we can make namespaces, else the reason why not."""
    if os.geteuid() != 0:
        return "needs root"
    if not shutil.which("ip"):
        return "no ip(8)"
    return None


def netns_create(tag="it"):
    """Creates mpc-<tag>-<pid>-<rand> with lo up; removed at exit/SIGTERM."""
    name = f"mpc-{tag}-{os.getpid()}-{random.randrange(1 << 24):06x}"
    if not _netns_created:
        atexit.register(_netns_cleanup)
        signal.signal(signal.SIGTERM, _on_signal)
        signal.signal(signal.SIGINT, _on_signal)
        signal.signal(signal.SIGHUP, _on_signal)
    r = subprocess.run(["ip", "netns", "add", name], capture_output=True, timeout=10)
    if r.returncode != 0:
        raise Skip(f"ip netns add failed: {r.stderr.decode(errors='replace').strip()}")
    _netns_created.append(name)
    r = subprocess.run(["ip", "-n", name, "link", "set", "lo", "up"], capture_output=True,
                       timeout=10)
    check(r.returncode == 0, f"lo up in {name}: {r.stderr!r}")
    return name


def netns_delete(name):
    if name in _netns_created:
        _netns_created.remove(name)
    subprocess.run(["ip", "netns", "delete", name], capture_output=True, timeout=10)


def netns_exec(name, args, timeout=30):
    return subprocess.run(["ip", "netns", "exec", name] + list(args), capture_output=True,
                          timeout=timeout)


_CLONE_NEWNET = 0x40000000


def netns_socket(name, family=socket.AF_INET, proto=0):
    """A stream socket made inside netns `name`; use it from any thread (a
    socket stays in the namespace it was made in). setns() runs in a thread
    of its own that ends right after, so no other thread changes namespace."""
    libc = ctypes.CDLL(None, use_errno=True)
    out = {}

    def make():
        try:
            fd = os.open(f"/run/netns/{name}", os.O_RDONLY | os.O_CLOEXEC)
            try:
                if libc.setns(fd, _CLONE_NEWNET) != 0:
                    err = ctypes.get_errno()
                    raise OSError(err, f"setns({name}): {os.strerror(err)}")
            finally:
                os.close(fd)
            out["sock"] = socket.socket(family, socket.SOCK_STREAM, proto)
        except BaseException as e:  # noqa: BLE001 - handed to the caller
            out["err"] = e

    t = threading.Thread(target=make, daemon=True)
    t.start()
    t.join(10)
    if "err" in out:
        raise out["err"]
    check("sock" in out, f"no socket from netns {name} within 10 s")
    return out["sock"]



# --------------------------------------------------------------------------
# Any listener kind (TLS, forward), TLS clients, SOCKS5 on any socket
# --------------------------------------------------------------------------

# Daemon's own LISTEN_RE knows only socks5/http/mixed; this one reads every
# "listening:" line (socks5+tls, https, mixed+tls, forward, ...) and its flags.
LISTEN_ANY_RE = re.compile(r"listening: ([a-z0-9+]+)://(\[[0-9a-fA-F:.]+\]|[^\s:/\[]+):(\d+)"
                           r"((?: \([^)]*\))*)\s*$")


def wait_listeners_any(d, n, timeout=15):
    """Waits for n "listening:" lines of any scheme; returns Listener objects
    (kind = the scheme as logged, flags = set of the "(...)" words, e.g.
    {"mptcp", "auth required"}) in log order and stores them in d.listeners."""
    def found():
        out = []
        for l in d.log():
            m = LISTEN_ANY_RE.search(l)
            if m:
                li = Listener(m.group(1), m.group(2), int(m.group(3)))
                li.flags = set(re.findall(r"\(([^)]*)\)", m.group(4)))
                li.line = l
                out.append(li)
        return out
    deadline = time.monotonic() + timeout
    while len(found()) < n:
        if d.proc.poll() is not None:
            time.sleep(0.05)  # let the reader drain stderr
            raise TestFailure(f"daemon exited rc={d.proc.returncode} before listening; "
                              f"stderr: {' | '.join(d.log()[-10:])}")
        if time.monotonic() > deadline:
            raise TestFailure(f"daemon did not log {n} 'listening:' line(s) in {timeout}s; "
                              f"stderr: {' | '.join(d.log()[-10:])}")
        with d.cv:
            d.cv.wait(0.1)
    d.listeners = found()[:n]
    return d.listeners


def start_daemon(args, timeout=15, **kw):
    """Daemon(args) that understands every listener scheme (see wait_listeners_any)."""
    d = Daemon(args, wait=False, **kw)
    if d.wrapper:
        timeout = max(timeout, 60)  # valgrind starts slowly
    wait_listeners_any(d, sum(1 for a in args if a == "-l"), timeout)
    return d


METRICS_RE = re.compile(r"metrics endpoint: http://(\[[0-9a-fA-F:.]+\]|[^\s:/]+):(\d+)/metrics")


def metrics_address(d, timeout=15):
    """(host, port) of the daemon's metrics endpoint, from its
    "metrics endpoint: http://ADDR:PORT/metrics" line (--metrics HOST:0)."""
    line = d.wait_line(lambda l: METRICS_RE.search(l), timeout, what="'metrics endpoint:' line")
    m = METRICS_RE.search(line)
    return m.group(1).strip("[]"), int(m.group(2))


def tls_client_ctx(cafile):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.load_verify_locations(cafile)
    return ctx


def tls_connect(addr, cafile, server_hostname="localhost", timeout=10, mptcp=False):
    """TCP (or MPTCP) connection to addr wrapped in TLS, verified against cafile."""
    host, port = addr
    fam = socket.AF_INET6 if ":" in host else socket.AF_INET
    s = socket.socket(fam, socket.SOCK_STREAM, IPPROTO_MPTCP if mptcp else 0)
    s.settimeout(timeout)
    try:
        s.connect((host, port))
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return tls_client_ctx(cafile).wrap_socket(s, server_hostname=server_hostname)
    except BaseException:
        s.close()
        raise


def socks5_request(s, host, port, user=None, password=None, early=b""):
    """SOCKS5 greeting (+ RFC 1929 auth) + CONNECT on an already connected socket
    (plain or TLS), all in ONE write together with `early` payload bytes.
    Returns (method_reply, auth_reply or None, connect_reply); stops early (None
    for what was not received) when the server refuses a step."""
    if user is None:
        msg = b"\x05\x01\x00"
    else:
        u, p = user.encode(), password.encode()
        msg = b"\x05\x01\x02" + b"\x01" + bytes([len(u)]) + u + bytes([len(p)]) + p
    msg += b"\x05\x01\x00" + socks5_addr(host, port) + early
    s.sendall(msg)
    method = recv_exact(s, 2)
    auth = None
    if user is not None:
        if method != b"\x05\x02":
            return method, None, None
        auth = recv_exact(s, 2)
        if auth != b"\x01\x00":
            return method, auth, None
    elif method != b"\x05\x00":
        return method, None, None
    return method, auth, socks5_reply(s)


# --------------------------------------------------------------------------
# Process figures, fd limits, fault-injecting origins (test_faults.py)
# --------------------------------------------------------------------------

def proc_rss_kib(pid):
    """VmRSS of a process in KiB (from /proc/PID/status)."""
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise TestFailure(f"no VmRSS in /proc/{pid}/status")


def proc_cpu_seconds(pid):
    """utime + stime of a process in seconds (from /proc/PID/stat)."""
    with open(f"/proc/{pid}/stat") as f:
        rest = f.read().rsplit(")", 1)[1].split()
    return (int(rest[11]) + int(rest[12])) / os.sysconf("SC_CLK_TCK")


def proc_fd_count(pid):
    return len(os.listdir(f"/proc/{pid}/fd"))


def raise_nofile_limit():
    """Raises this process's RLIMIT_NOFILE soft limit to the hard limit; returns it."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
        except (ValueError, OSError):
            pass
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


def set_linger_reset(s):
    """SO_LINGER {1, 0}: the next close() sends RST instead of FIN."""
    s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")


def reset_close(s):
    """Closes s with an RST (discarding unsent and unread data)."""
    try:
        set_linger_reset(s)
    except OSError:
        pass
    s.close()


STREAM_BLOCK = MiB  # FaultOrigin "stream" bytes: payload(MiB) repeated


def stream_bytes(offset, n):
    """Bytes [offset, offset + n) of FaultOrigin's endless stream."""
    blk = payload(STREAM_BLOCK)
    out = bytearray()
    while len(out) < n:
        o = (offset + len(out)) % STREAM_BLOCK
        out += blk[o: o + (n - len(out))]
    return bytes(out)


class FaultConn:
    def __init__(self, peer):
        self.peer = peer
        self.sent = 0       # bytes handed to the kernel
        self.received = 0
        self.end = None     # "eof", "reset", "done", "reset-sent", "error: ..."
        self.done = threading.Event()

    def __repr__(self):
        return f"<fault conn sent={self.sent} received={self.received} end={self.end}>"


class FaultOrigin:
    """One-port origin on 127.0.0.1 (MPTCP, TCP if unavailable), a thread per
    connection, that never holds more than 1 MiB of payload in memory.

    mode "stream":      sends `size` bytes of stream_bytes(0, size) then closes;
                        with reset_after=N, sends N bytes then closes with RST;
                        with wait_line=True, only after reading one line ("go\\n")
                        from the client (so a tunnel is up before the reset).
    mode "http-stream": reads one request head, answers 200 with Content-Length:
                        size and streams like "stream" (reset_after too).
    mode "sink":        reads until EOF or reset; conn.end says which.
    Each connection's FaultConn (sent/received/end) is in .conns."""

    def __init__(self, mode, size=0, reset_after=None, chunk=256 * 1024, wait_line=False):
        self.mode, self.size, self.reset_after, self.chunk = mode, size, reset_after, chunk
        self.wait_line = wait_line
        self.conns = []
        self.lock = threading.Lock()
        self.stop_ev = threading.Event()
        proto = IPPROTO_MPTCP if mptcp_available() else 0
        self.ls = socket.socket(socket.AF_INET, socket.SOCK_STREAM, proto)
        self.ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.ls.bind(("127.0.0.1", 0))
        self.ls.listen(128)
        self.port = self.ls.getsockname()[1]
        self.thread = threading.Thread(target=self._accept_loop, daemon=True)
        self.thread.start()

    def count(self):
        with self.lock:
            return len(self.conns)

    def wait_conn(self, mark, timeout=15):
        wait_until(lambda: self.count() > mark, timeout, f"a connection at :{self.port}")
        with self.lock:
            return self.conns[mark]

    def close(self):
        self.stop_ev.set()
        self.thread.join(2)
        self.ls.close()

    def _accept_loop(self):
        while not self.stop_ev.is_set():
            try:
                r, _, _ = select.select([self.ls], [], [], 0.2)
            except (OSError, ValueError):
                return
            if not r:
                continue
            try:
                c, peer = self.ls.accept()
            except OSError:
                continue
            fc = FaultConn(peer)
            with self.lock:
                self.conns.append(fc)
            threading.Thread(target=self._serve, args=(c, fc), daemon=True).start()

    def _serve(self, c, fc):
        c.settimeout(120)
        try:
            if self.mode == "sink":
                while True:
                    b = c.recv(1 << 20)
                    if not b:
                        fc.end = "eof"
                        break
                    fc.received += len(b)
                return
            if self.mode == "http-stream":
                _read_http_head(Reader(c))
                c.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\n"
                          b"Content-Length: %d\r\n\r\n" % self.size)
            elif self.wait_line:
                Reader(c).read_until(b"\n", 4096)
            blk = payload(STREAM_BLOCK)
            limit = self.size if self.reset_after is None else min(self.size, self.reset_after)
            while fc.sent < limit and not self.stop_ev.is_set():
                o = fc.sent % STREAM_BLOCK
                n = min(self.chunk, limit - fc.sent, STREAM_BLOCK - o)
                fc.sent += c.send(blk[o: o + n])
            if self.reset_after is not None and fc.sent >= self.reset_after:
                set_linger_reset(c)
                fc.end = "reset-sent"
            else:
                fc.end = "done"
        except ConnectionResetError:
            fc.end = "reset"
        except (OSError, EOFError, ValueError) as e:
            fc.end = f"error: {e!r}"
        finally:
            try:
                c.close()
            except OSError:
                pass
            fc.done.set()


if __name__ == "__main__":
    if len(sys.argv) >= 2 and sys.argv[1] == "origin":
        _origin_main(sys.argv[2:])
    else:
        print(__doc__)
