"""The PAC file: GET /proxy.pac on an HTTP listener names this host's proxies.

A browser configured with http://HOST:PORT/proxy.pac must get the listeners
it can reach at the address it used: SOCKS5 (without auth, without TLS)
first, then the HTTP proxies; listeners on other addresses are left out; the
file is served without proxy authentication; [http] pac = off turns it off;
and the proxies it names really work (curl through each one)."""

import re

from mpconvtest import (Daemon, Lazy, Origin, Reader, Suite, check, check_eq, connect,
                        curl_ok, http_read_response, wait_until)

S = Suite("pac")
ctx = {}


@Lazy
def setup():
    ctx["http"] = Origin("http")
    return ctx


@S.cleanup
def _cleanup():
    if "http" in ctx:
        ctx["http"].close()


def fetch(addr, method="GET", path="/proxy.pac", host="127.0.0.1"):
    s = connect(addr)
    try:
        s.sendall(f"{method} {path} HTTP/1.1\r\nHost: {host}\r\n\r\n".encode())
        resp = http_read_response(Reader(s), method=method)
        rest = s.recv(100)  # the daemon closes after the answer
        check_eq(rest, b"", "nothing after the PAC answer, then EOF")
        return resp
    finally:
        s.close()


def proxies_of(body):
    m = re.search(r'\n  return "([^"]*)";\n}\n$', body)
    check(m, f"PAC file ends with the proxy list: {body!r}")
    return m.group(1).split("; ")


def port_of(d, scheme):
    line = d.wait_line(lambda l: f"listening: {scheme}://" in l)
    return int(line.rsplit(":", 1)[1].split()[0])


@S.case
def lists_reachable_listeners_socks_first():
    c = setup()
    d = Daemon(["-l", "http://alice:pw@127.0.0.1:0", "-l", "socks5://0.0.0.0:0",
                "-l", "mixed://127.0.0.1:0", "-l", "socks5://bob:pw@127.0.0.1:0",
                "-l", "socks5://127.0.0.2:0"], n_listeners=5)
    http = d.listener("http")
    socks_any, mixed = d.listeners[1].port, d.listener("mixed").port
    resp = fetch(http.addr)
    check_eq(resp.status, 200, "status (no Proxy-Authorization needed for the PAC file)")
    check_eq(resp.header("content-type"), "application/x-ns-proxy-autoconfig",
             "Content-Type")
    body = resp.body.decode()
    check_eq(int(resp.header("content-length")), len(resp.body), "Content-Length")
    check_eq(proxies_of(body),
             [f"SOCKS5 127.0.0.1:{socks_any}", f"SOCKS5 127.0.0.1:{mixed}",
              f"PROXY 127.0.0.1:{http.port}", f"PROXY 127.0.0.1:{mixed}"],
             "proxies: wildcard and same-address listeners, SOCKS5 without auth first; "
             "not 127.0.0.2's")
    # Every proxy named works for a real client.
    url = f"http://127.0.0.1:{c['http'].port}/bytes/1000"
    curl_ok(["--socks5", f"127.0.0.1:{socks_any}", "-o", "/dev/null", url])
    curl_ok(["--socks5", f"127.0.0.1:{mixed}", "-o", "/dev/null", url])
    curl_ok(["-x", f"http://127.0.0.1:{mixed}", "-o", "/dev/null", url])
    curl_ok(["-x", f"http://alice:pw@127.0.0.1:{http.port}", "-o", "/dev/null", url])
    wait_until(lambda: any(s["reason"] == "pac" for s in d.sessions()), 10,
               "a session end line with reason=pac")
    d.stop(check=True)


@S.case
def wpad_head_and_query():
    setup()
    d = Daemon(["-l", "http://127.0.0.1:0"])
    addr = d.listener("http").addr
    check_eq(fetch(addr, path="/wpad.dat").status, 200, "/wpad.dat")
    check_eq(fetch(addr, path="/proxy.pac?x=1").status, 200, "/proxy.pac?x=1")
    head = fetch(addr, method="HEAD")
    check_eq(head.status, 200, "HEAD status")
    check_eq(head.body, b"", "HEAD has no body")
    check(int(head.header("content-length")) > 100, "HEAD gives the GET length")
    check_eq(fetch(addr, path="/other").status, 400, "another origin-form path")
    d.stop(check=True)


@S.case
def ipv6_address_in_brackets():
    setup()
    d = Daemon(["-l", "http://[::1]:0", "-l", "socks5://[::]:0"], n_listeners=2)
    http = d.listener("http")
    body = fetch(http.addr, host="[::1]").body.decode()
    check_eq(proxies_of(body), [f"SOCKS5 [::1]:{d.listeners[1].port}", f"PROXY [::1]:{http.port}"],
             "IPv6 proxies")
    d.stop(check=True)


@S.case
def off_switch():
    setup()
    d = Daemon([], config="[mpconv]\nlisten = http://127.0.0.1:0\n[http]\npac = off\n")
    check_eq(fetch(d.listener("http").addr).status, 400, "pac = off: a proxy, not a server")
    d.stop(check=True)


if __name__ == "__main__":
    S.main()
