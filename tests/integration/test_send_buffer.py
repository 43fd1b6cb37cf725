"""[mpconv] mptcp_send_buffer: every MPTCP socket mpconv writes to gets a fixed
send buffer (SO_SNDBUFFORCE, which the kernel doubles), plain TCP sockets keep
the kernel's autotuning, and "kernel" turns it off. Read from the kernel with
`ss -m` (skmem tb = the socket's sk_sndbuf) while the connection is open.

Cases:
  default_is_16_mib          no setting: the upstream MPTCP socket has tb 32 MiB
  upstream_socket            1 MiB: the upstream MPTCP socket has tb 2 MiB
  accepted_mptcp_client      socks5://...?mptcp=1 and an MPTCP client: the
                             accepted socket (a concentrator's download leg)
                             has tb 2 MiB too
  plain_tcp_upstream_untouched  [acl] tcp destination: the TCP upstream socket
                             does not get the buffer
  kernel_word                mptcp_send_buffer = kernel: the upstream MPTCP
                             socket does not get it either

As root the buffers must be set; without CAP_NET_ADMIN the kernel refuses
SO_SNDBUFFORCE and the daemon must say so once and keep serving.
Needs MPTCP and `ss` (iproute2); skips otherwise (a failure under CI=true).
"""

import os
import re
import shutil
import socket
import subprocess

from mpconvtest import (IPPROTO_MPTCP, Daemon, Lazy, Origin, Skip, Suite, check, check_eq,
                        echo_roundtrip, mptcp_available, payload, recv_exact, release_ctx,
                        socks5_addr, socks5_connect, socks5_reply)

S = Suite("send_buffer")
ctx = {}
MIB = 1 << 20
PRIVILEGED = os.geteuid() == 0
REFUSAL = "mptcp_send_buffer: the kernel refused"


@Lazy
def setup():
    if not mptcp_available():
        raise Skip("the kernel cannot create MPTCP sockets")
    if not shutil.which("ss"):
        raise Skip("ss (iproute2) is not installed")
    ctx["echo"] = Origin("echo")
    ctx["tcp_echo"] = Origin("echo", tcp_only=True)
    return ctx


@S.cleanup
def _cleanup():
    release_ctx(ctx, closables=("echo", "tcp_echo"))


def send_buffer(kind, local_port, remote_port=None):
    """skmem tb of the one `kind` ("mptcp" or "tcp") socket with that local
    port (and remote port), as the kernel reports it."""
    flt = f"sport = :{local_port}"
    if remote_port is not None:
        flt += f" and dport = :{remote_port}"
    flag = "-M" if kind == "mptcp" else "-t"
    out = subprocess.run(["ss", flag, "-mnOH", flt], capture_output=True, text=True,
                         timeout=10, check=True).stdout
    sizes = re.findall(r"\btb(\d+)", out)
    check_eq(len(sizes), 1, f"{kind} sockets matching '{flt}' in ss output {out!r}")
    return int(sizes[0])


def upstream_buffer(daemon, origin, kind="mptcp"):
    """Opens a SOCKS5 session to the echo origin and returns the send buffer of
    mpconv's upstream socket (found by the port the origin saw)."""
    mark = origin.count()
    s = socks5_connect(daemon.listener("socks5").addr, "127.0.0.1", origin.port)
    try:
        echo_roundtrip(s, bytes(payload(4096)))
        peer = origin.wait_conns(mark)[0].peer
        return send_buffer(kind, peer[1], origin.port)
    finally:
        s.close()


def check_buffer_set(daemon, got, value):
    """Root: tb is twice the setting. Otherwise the refusal is logged once."""
    if PRIVILEGED:
        check_eq(got, 2 * value, "send buffer (tb) of the socket")
    else:
        check(got != 2 * value, f"tb {got} set although SO_SNDBUFFORCE needs CAP_NET_ADMIN")
        check_eq(sum(REFUSAL in line for line in daemon.log()), 1, "refusal warnings")


@S.case
def default_is_16_mib():
    c = setup()
    d = Daemon(["-l", "socks5://127.0.0.1:0"])
    check_buffer_set(d, upstream_buffer(d, c["echo"]), 16 * MIB)


@S.case
def upstream_socket():
    c = setup()
    d = Daemon(["-l", "socks5://127.0.0.1:0", "-o", f"mpconv.mptcp_send_buffer={MIB}"])
    check_buffer_set(d, upstream_buffer(d, c["echo"]), MIB)
    check_buffer_set(d, upstream_buffer(d, c["echo"]), MIB)  # the warning stays single


@S.case
def accepted_mptcp_client():
    c = setup()
    d = Daemon(["-l", "socks5://127.0.0.1:0?mptcp=1", "-o", f"mpconv.mptcp_send_buffer={MIB}"])
    listener = d.listener("socks5")
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM, IPPROTO_MPTCP)
    s.settimeout(10)
    try:
        s.connect(listener.addr)
        s.sendall(b"\x05\x01\x00")
        check_eq(recv_exact(s, 2), b"\x05\x00", "method reply")
        s.sendall(b"\x05\x01\x00" + socks5_addr("127.0.0.1", c["echo"].port))
        check_eq(socks5_reply(s)[1], 0, "SOCKS5 reply code")
        echo_roundtrip(s, bytes(payload(4096)))
        got = send_buffer("mptcp", listener.port, s.getsockname()[1])
    finally:
        s.close()
    check_buffer_set(d, got, MIB)


@S.case
def plain_tcp_upstream_untouched():
    c = setup()
    d = Daemon(["-l", "socks5://127.0.0.1:0", "-o", f"mpconv.mptcp_send_buffer={MIB}",
                "-o", "acl.tcp=127.0.0.0/8"])
    got = upstream_buffer(d, c["tcp_echo"], kind="tcp")
    check(got != 2 * MIB, f"plain TCP upstream socket got the MPTCP send buffer (tb {got})")
    check_eq(sum(REFUSAL in line for line in d.log()), 0, "refusal warnings")


@S.case
def kernel_word():
    c = setup()
    d = Daemon(["-l", "socks5://127.0.0.1:0", "-o", "mpconv.mptcp_send_buffer=kernel"])
    got = upstream_buffer(d, c["echo"])
    check(got != 32 * MIB, f"mptcp_send_buffer=kernel still set the default buffer (tb {got})")
    check_eq(sum(REFUSAL in line for line in d.log()), 0, "refusal warnings")


if __name__ == "__main__":
    S.main()
