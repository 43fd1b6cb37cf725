"""mpconv's deployment roles on the two-path testbed (testbed.py): transparent
router (REDIRECT and TPROXY, with the README's nftables rules), router +
concentrator over socks5+tls, static port forward, MPTCP-accepting listeners.

    lan 10.10.0.2 --plain TCP--> rtr (mpconv) ==MPTCP over wan1+wan2, tbf RATE each==> srv

Needs root, `ip netns`, tc, nft, openssl and MPTCP (skip otherwise; under CI=true
a skip fails). Every transfer checks sha256 and prints its figures.

The transparent cases load the rulesets of README.md "Router + concentrator",
section 3, read from README.md at run time, changing only the interface name
("br-lan" -> "lan0") and the port (to the one mpconv bound, read from its
"listening:" line). Both rulesets skip 10.0.0.0/8, so the transparent cases
talk to an origin on PUBLIC_IP (203.0.113.80, a second address on srv's lo)
instead of 10.99.0.1; the router's own 10.10.0.1 is the bypass check.

Cases:
  transparent_redirect  redirect://0.0.0.0:0 + the README's `table inet mpconv`:
                        a lan client with no proxy settings downloads and uploads
                        (curl http://203.0.113.80:P/...): sha256, origin saw
                        MPTCP with 2 subflows, session via=redirect target=...
                        mptcp=yes subflows=2; a server on the router's 10.10.0.1
                        (bypass range) is reached directly, no session line; a
                        direct connection to the redirect port is refused
                        (reason=loop-to-own-listener)
  transparent_tproxy    tproxy://0.0.0.0:0 + the README's `table inet mpconv_tproxy`
                        and its `ip rule` / `ip route` lines: the same transfers,
                        via=tproxy; bypass; a direct connection to the tproxy port
                        is refused (loop-to-own-listener), not dialled
  chain                 concentrator in srv: socks5+tls://alice:s3cret@10.99.0.1:0
                        ?mptcp=1 (cert with SAN IP:10.99.0.1), direct upstream to a
                        TCP-only origin; router: socks5://10.10.0.1:0 -u
                        socks5+tls://...?ca=CERT. Single-link baseline (router
                        endpoints removed), then download + upload: sha256, rate
                        >= 1.7x single link, concentrator session client_mptcp=yes
                        client_subflows=2 mptcp=fallback, router mptcp=yes subflows=2
  chain_wrong_password  router with a wrong parent password: curl fails,
                        reason=parent-auth-failed
  chain_wrong_ca        router with ca= another self-signed cert: curl fails,
                        reason=parent-tls-failed + WARN "TLS to parent ... failed:
                        handshake failed: certificate: ..."
  forward               forward://10.10.0.1:0/10.99.0.1:P to an MPTCP echo origin:
                        a raw lan client sends and receives N bytes at once (sha256
                        both ways), origin saw MPTCP with 2 subflows
  mptcp_listener        socks5://10.10.0.1:0?mptcp=1: a plain TCP client (curl) is
                        served (no client_mptcp= in the session line); an MPTCP
                        client (IPPROTO_MPTCP in lan) gets client_mptcp=yes

Environment: MPCONV_BIN; TESTBED_RATE_MBIT (default 20) rate of each WAN link.
"""

import os
import re
import shlex
import shutil
import subprocess
import time

from mpconvtest import (REPO, MiB, Lazy, Skip, Suite, TestFailure, check, check_eq,
                        check_session, mpconv_bin, payload_sha, sha256_file, wait_until,
                        write_payload_file)
from testbed import LAN_IP, PUBLIC_IP, RTR_LAN_IP, SERVICE_IP, Testbed, path_split

S = Suite("roles")
ctx = {}

RATE_MBIT = float(os.environ.get("TESTBED_RATE_MBIT", "20"))
MIN_RATIO = 1.7
_SCALE = RATE_MBIT / 20.0
XFER_N = int(16 * MiB * _SCALE)   # transparent / forward transfers, ~3.5 s on two links
BASE_N = int(8 * MiB * _SCALE)    # chain single-link baseline, ~3.5 s
AGG_N = int(24 * MiB * _SCALE)    # chain aggregation, ~5 s on two links
USER, PASS = "alice", "s3cret"
LAN_DEV = "lan0"                  # the router's LAN interface (README: br-lan)


def mbit(nbytes, secs):
    return nbytes * 8 / secs / 1e6


def make_cert(dirpath, cn="conc.mpconv.test"):
    """Self-signed P-256 cert, SAN DNS:cn + IP:10.99.0.1 (what the router dials)."""
    os.makedirs(dirpath, exist_ok=True)
    cert, key = os.path.join(dirpath, "cert.pem"), os.path.join(dirpath, "key.pem")
    r = subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
         "-nodes", "-days", "2", "-subj", f"/CN={cn}",
         "-addext", f"subjectAltName=DNS:{cn},IP:{SERVICE_IP}", "-keyout", key, "-out", cert],
        capture_output=True, timeout=60, stdin=subprocess.DEVNULL)
    if r.returncode != 0:
        raise TestFailure("openssl req failed: " + r.stderr.decode(errors="replace"))
    return cert, key


@Lazy
def setup():
    mpconv_bin()
    if not shutil.which("nft"):
        raise Skip("no nft")
    if not shutil.which("openssl"):
        raise Skip("no openssl")
    tb = Testbed(rate_mbit=RATE_MBIT)
    ctx["tb"] = tb
    tb.start()  # raises Skip without root / netns / MPTCP / tc
    tmp = ctx["tmp"] = tb.workdir
    tb.add_public_address(PUBLIC_IP)
    ctx["pub"] = tb.origin("http", bind=PUBLIC_IP)          # transparent targets (MPTCP)
    print(f"     testbed: lan={tb.lan} rtr={tb.rtr} srv={tb.srv}, 2 x {RATE_MBIT:g} Mbit/s; "
          f"public origin {PUBLIC_IP}:{ctx['pub'].port}", flush=True)
    return ctx


@S.cleanup
def _cleanup():
    if "tb" in ctx:
        ctx["tb"].close()  # also removes its workdir, ctx["tmp"]


# --------------------------------------------------------------------------
# README rulesets
# --------------------------------------------------------------------------

def readme():
    with open(os.path.join(REPO, "README.md")) as f:
        return f.read()


def readme_block(first_line_prefix):
    """The README code block whose first non-empty line starts with the prefix."""
    for b in re.findall(r"^```[a-z]*\n(.*?)^```", readme(), re.S | re.M):
        if b.lstrip().startswith(first_line_prefix):
            return b
    raise TestFailure(f"README.md: no code block starting with {first_line_prefix!r}")


def adapt_ruleset(rules, listen_scheme, port):
    """The README ruleset with only the LAN interface name and the port changed.
    Also checks the ruleset's port is the one of the README's `listen =` line."""
    ports = set(re.findall(r"\bto :(\d+)\b", rules))
    check(len(ports) == 1, f"README ruleset: want one 'to :PORT' port, found {ports}")
    doc_port = ports.pop()
    m = re.search(rf"\blisten = {listen_scheme}://[^\s:`]+:(\d+)\b", readme())
    check(m, f"README.md: no 'listen = {listen_scheme}://...' line")
    check_eq(m.group(1), doc_port,
             f"README: port of 'listen = {listen_scheme}://' vs the nft rule's 'to :PORT'")
    check('iifname "br-lan"' in rules, "README ruleset: no iifname \"br-lan\"")
    out = rules.replace('iifname "br-lan"', f'iifname "{LAN_DEV}"')
    return re.sub(rf"\bto :{doc_port}\b", f"to :{port}", out), doc_port


def readme_tproxy_ip_commands():
    """The `ip rule` / `ip route` lines after the README's tproxy ruleset."""
    text = readme()
    i = text.find("table inet mpconv_tproxy")
    check(i >= 0, "README.md: no tproxy ruleset")
    m = re.search(r"^```sh\n(.*?)^```", text[i:], re.S | re.M)
    check(m, "README.md: no sh block after the tproxy ruleset")
    cmds = [l.strip() for l in m.group(1).splitlines() if l.strip().startswith("ip ")]
    check(len(cmds) >= 2, f"README tproxy ip commands: {cmds}")
    return cmds


# --------------------------------------------------------------------------
# Transfers
# --------------------------------------------------------------------------

def upload_file(n):
    p = os.path.join(ctx["tmp"], f"up-{n}.bin")
    if not os.path.exists(p):
        write_payload_file(p, n)
    return p


def curl_transfer(url, n, upload=False, proxy_args=(), what="transfer"):
    """curl in lan (no proxy settings unless proxy_args); checks size and sha256
    (the origin's answer for uploads). Returns (Mbit/s, seconds)."""
    tb = ctx["tb"]
    if upload:
        args = list(proxy_args) + ["-H", "Expect:", "-T", upload_file(n),
                                   "-w", "\n%{size_upload} %{time_total}\n", url + "/sink"]
    else:
        out = os.path.join(ctx["tmp"], "down.bin")
        if os.path.exists(out):
            os.unlink(out)
        args = list(proxy_args) + ["-o", out, "-w", "%{size_download} %{time_total}\n",
                                   url + f"/bytes/{n}"]
    r = tb.curl(args, timeout=90)
    check(r.returncode == 0, f"{what}: curl rc={r.returncode}: "
          f"{r.stderr.decode(errors='replace').strip()}")
    lines = r.stdout.decode(errors="replace").strip().splitlines()
    size, secs = lines[-1].split()
    size, secs = int(size), float(secs)
    check_eq(size, n, f"{what}: bytes curl transferred")
    if upload:
        check_eq(lines[0].strip(), payload_sha(n), f"{what}: sha256 reported by the origin")
    else:
        check_eq(os.path.getsize(out), n, f"{what}: downloaded size")
        check_eq(sha256_file(out), payload_sha(n), f"{what}: sha256 of the download")
    return mbit(n, secs), secs


def origin_end(o, omark, what):
    ends = o.wait_end(since=omark, timeout=15)
    check_eq(len(ends), 1, f"{what}: connections at the origin")
    return ends[0]


def check_mptcp_two(e, what, proto=262):
    check_eq(e["proto"], proto, f"{what}: origin SO_PROTOCOL (262 = MPTCP)")
    check(e["sub_max"] == 2, f"{what}: origin saw max {e['sub_max']} subflow(s) while "
          f"active, want 2 (paths {path_split(e)})")


def no_session(d, since, target_port, wait=1.0):
    """No session line for target_port appears within `wait` s after the mark."""
    deadline = time.monotonic() + wait
    while time.monotonic() < deadline:
        got = [s for s in d.sessions(since) if s.get("target", "").endswith(f":{target_port}")]
        check(not got, f"unexpected session line(s): {[s['_line'] for s in got]}")
        time.sleep(0.05)


def transparent_transfers(d, via):
    """Download + upload to the public origin with no proxy settings, through the
    transparent rule; checks origin and session line."""
    c = ctx
    o = c["pub"]
    url = f"http://{PUBLIC_IP}:{o.port}"
    for upload in (False, True):
        what = f"{via} {'upload' if upload else 'download'} {XFER_N // MiB} MiB"
        mark, omark = d.mark(), o.mark()
        rate, secs = curl_transfer(url, XFER_N, upload=upload, what=what)
        e = origin_end(o, omark, what)
        check_eq(e["peer"].split(":")[0] in ("10.1.1.1", "10.2.2.1"), True,
                 f"{what}: origin peer {e['peer']} is a router WAN address")
        if upload:
            check_eq(e["sha"], payload_sha(XFER_N), f"{what}: sha256 computed by the origin")
        sess = d.wait_session(since=mark, target_port=o.port, timeout=15)
        check_eq(len(sess), 1, f"{what}: session end lines")
        s = sess[0]
        print(f"     {what}: {rate:.1f} Mbit/s ({secs:.2f} s); origin proto={e['proto']} "
              f"subflows max={e['sub_max']} paths {path_split(e)}; mpconv: {s['via']} "
              f"target={s['target']} mptcp={s['mptcp']} subflows={s['subflows']}", flush=True)
        check_mptcp_two(e, what)
        check_session(s, via=via, mptcp="yes",
                      **({"min_up": XFER_N} if upload else {"min_down": XFER_N}))
        check_eq(s["target"], f"{PUBLIC_IP}:{o.port}", f"{what}: target= (original destination)")
        check_eq(s["subflows"], "2", f"{what}: subflows= in {s['_line']}")
        check(s["client"].startswith(LAN_IP + ":"), f"{what}: client= {s['client']}")
        check("client_mptcp" not in s, f"{what}: lan client is plain TCP: {s['_line']}")


def bypass_check(d, via):
    """A server on the router's own 10.10.0.1 (in every bypass set) is reached
    directly from lan: it sees the lan address, mpconv logs nothing."""
    tb = ctx["tb"]
    if "rtr_origin" not in ctx:
        ctx["rtr_origin"] = tb.origin("http", bind=RTR_LAN_IP, ns=tb.rtr)
    o = ctx["rtr_origin"]
    mark, omark = d.mark(), o.mark()
    rate, _ = curl_transfer(f"http://{RTR_LAN_IP}:{o.port}", 64 * 1024,
                            what=f"{via}: bypass to {RTR_LAN_IP}")
    e = origin_end(o, omark, f"{via} bypass")
    check(e["peer"].startswith(LAN_IP + ":"),
          f"{via} bypass: server on {RTR_LAN_IP} saw peer {e['peer']}, want the lan client")
    no_session(d, mark, o.port)
    print(f"     {via}: {RTR_LAN_IP}:{o.port} (bypass range) reached directly from "
          f"{e['peer']}, no session line", flush=True)


def loop_check(d, via, port):
    """A lan client connecting straight to the transparent listener's port on the
    router (no rule redirects it: 10.10.0.1 is in the bypass set) is refused
    (RST/close, no data) with reason=loop-to-own-listener, and mpconv does not
    dial its own listener (no other session appears)."""
    tb = ctx["tb"]
    mark = d.mark()
    r = tb.client(tb.lan, (RTR_LAN_IP, port), send=0, timeout=20)
    check(r.get("local_port"), f"{via}: direct connection to {RTR_LAN_IP}:{port} failed: {r}")
    me = f"{LAN_IP}:{r['local_port']}"

    def mine():
        return [x for x in d.sessions(mark) if x.get("client") == me]
    s = wait_until(mine, 10, f"session end line of client {me}", interval=0.05)[0]
    time.sleep(0.5)  # bounded: let any self-dialled sessions show up too
    others = [x for x in d.sessions(mark) if x.get("client") != me]
    print(f"     {via}: direct connection {me} -> {RTR_LAN_IP}:{port}: client got "
          f"{r['recv']} bytes, error={r['error']}; mpconv: reason={s['reason']} "
          f"target={s['target']}; other sessions meanwhile: {len(others)}", flush=True)
    check_eq(s["reason"], "loop-to-own-listener", f"{via}: reason= in {s['_line']}")
    check_eq(r["recv"], 0, f"{via}: bytes the refused client received")
    check(not others, f"{via}: mpconv dialled its own listener: {len(others)} more "
          f"session(s), e.g. {others[0]['_line'] if others else ''}")
    check(d.alive(), f"daemon died after the loop attempt (rc={d.proc.returncode})")


# --------------------------------------------------------------------------
# Cases
# --------------------------------------------------------------------------

@S.case
def transparent_redirect():
    c = setup()
    tb = c["tb"]
    d = tb.daemon(["-l", "redirect://0.0.0.0:0", "--mptcp", "on"])
    port = d.listeners[0].port
    check_eq(d.listeners[0].kind, "redirect", f"listening line: {d.listeners[0].line}")
    rules, doc_port = adapt_ruleset(readme_block("table inet mpconv {"), "redirect", port)
    print(f"     README ruleset `table inet mpconv` loaded in rtr with iifname \"{LAN_DEV}\", "
          f"port {doc_port} -> {port}", flush=True)
    tb.nft(tb.rtr, rules)
    try:
        transparent_transfers(d, "redirect")
        bypass_check(d, "redirect")
        loop_check(d, "redirect", port)
    finally:
        tb.nft_delete_table(tb.rtr, "inet", "mpconv")
        d.stop()


@S.case
def transparent_tproxy():
    c = setup()
    tb = c["tb"]
    d = tb.daemon(["-l", "tproxy://0.0.0.0:0", "--mptcp", "on"])
    port = d.listeners[0].port
    check_eq(d.listeners[0].kind, "tproxy", f"listening line: {d.listeners[0].line}")
    rules, doc_port = adapt_ruleset(readme_block("table inet mpconv_tproxy {"), "tproxy", port)
    cmds = readme_tproxy_ip_commands()
    print(f"     README ruleset `table inet mpconv_tproxy` loaded in rtr with iifname "
          f"\"{LAN_DEV}\", port {doc_port} -> {port}; then: {'; '.join(cmds)}", flush=True)
    done = []
    try:
        tb.nft(tb.rtr, rules)
        for cmd in cmds:
            tb.run(tb.rtr, shlex.split(cmd))
            done.append(cmd)
        transparent_transfers(d, "tproxy")
        bypass_check(d, "tproxy")
        loop_check(d, "tproxy", port)
    finally:
        for cmd in reversed(done):
            tb.run(tb.rtr, shlex.split(cmd.replace(" add ", " del ", 1)), check=False)
        tb.nft_delete_table(tb.rtr, "inet", "mpconv_tproxy")
        d.stop()


def chain_setup():
    c = setup()
    if "conc" in c:
        return c
    tb = c["tb"]
    c["cert"], c["key"] = make_cert(os.path.join(c["tmp"], "conc"))
    c["cert2"], _ = make_cert(os.path.join(c["tmp"], "other"))  # unrelated self-signed
    c["tcp_origin"] = tb.origin("http", bind=SERVICE_IP, tcp_only=True)
    c["conc"] = tb.daemon(
        ["-l", f"socks5+tls://{USER}:{PASS}@{SERVICE_IP}:0?mptcp=1&cert={c['cert']}"
               f"&key={c['key']}", "--mptcp", "on"], ns=tb.srv)
    li = c["conc"].listeners[0]
    check_eq(li.kind, "socks5+tls", f"concentrator listening line: {li.line}")
    check({"mptcp", "auth required"} <= li.flags, f"concentrator listening flags: {li.line}")
    c["conc_port"] = li.port
    return c


def parent_url(password=PASS, ca=None):
    c = ctx
    return (f"socks5+tls://{USER}:{password}@{SERVICE_IP}:{c['conc_port']}"
            f"?ca={ca or c['cert']}")


def chain_transfer(n, upload, what):
    c = ctx
    o, r, conc = c["tcp_origin"], c["router"], c["conc"]
    mark, cmark, omark = r.mark(), conc.mark(), o.mark()
    proxy = ["--socks5", r.listeners[0].hostport]
    rate, secs = curl_transfer(f"http://{SERVICE_IP}:{o.port}", n, upload=upload,
                               proxy_args=proxy, what=what)
    e = origin_end(o, omark, what)
    if upload:
        check_eq(e["sha"], payload_sha(n), f"{what}: sha256 computed by the origin")
    rs = r.wait_session(since=mark, target_port=o.port, timeout=15)
    cs = conc.wait_session(since=cmark, target_port=o.port, timeout=15)
    check_eq(len(rs), 1, f"{what}: router session end lines")
    check_eq(len(cs), 1, f"{what}: concentrator session end lines")
    rs, cs = rs[0], cs[0]
    print(f"     {what}: {rate:.1f} Mbit/s ({secs:.2f} s); origin proto={e['proto']}; router: "
          f"mptcp={rs['mptcp']} subflows={rs['subflows']}; concentrator: "
          f"client_mptcp={cs.get('client_mptcp')} client_subflows={cs.get('client_subflows')} "
          f"mptcp={cs['mptcp']}", flush=True)
    check_eq(e["proto"], 6, f"{what}: TCP-only origin SO_PROTOCOL")
    return {"rate": rate, "router": rs, "conc": cs}


@S.case
def chain():
    c = chain_setup()
    tb = c["tb"]
    c["router"] = tb.daemon(["-l", f"socks5://{RTR_LAN_IP}:0", "-u", parent_url(),
                             "--mptcp", "on"])
    try:
        tb.endpoints_clear()
        try:
            base = {}
            for upload in (False, True):
                k = "up" if upload else "down"
                t = chain_transfer(BASE_N, upload, f"chain single link, {k}load "
                                   f"{BASE_N // MiB} MiB")
                check_eq(t["router"]["subflows"], "1", "baseline: router subflows "
                         "without endpoints")
                check(0.5 * RATE_MBIT <= t["rate"] <= 1.1 * RATE_MBIT,
                      f"baseline {k}: {t['rate']:.1f} Mbit/s not near the tbf rate "
                      f"{RATE_MBIT:g} Mbit/s")
                base[k] = t["rate"]
        finally:
            tb.endpoints_add()
        for upload in (False, True):
            k = "up" if upload else "down"
            what = f"chain two links, {k}load {AGG_N // MiB} MiB"
            t = chain_transfer(AGG_N, upload, what)
            ratio = t["rate"] / base[k]
            if ratio < MIN_RATIO:
                print(f"     {k}: {ratio:.2f}x < {MIN_RATIO}x, measuring once more", flush=True)
                t2 = chain_transfer(AGG_N, upload, what + " (again)")
                if t2["rate"] > t["rate"]:
                    t, ratio = t2, t2["rate"] / base[k]
            print(f"     chain {k}load: {t['rate']:.1f} / {base[k]:.1f} Mbit/s = {ratio:.2f}x "
                  f"(need >= {MIN_RATIO}x)", flush=True)
            rs, cs = t["router"], t["conc"]
            check_session(rs, via="socks5", mptcp="yes",
                          **({"min_up": AGG_N} if upload else {"min_down": AGG_N}))
            check_eq(rs["subflows"], "2", f"router subflows= in {rs['_line']}")
            check_session(cs, via="socks5", mptcp="fallback",
                          **({"min_up": AGG_N} if upload else {"min_down": AGG_N}))
            check_eq(cs.get("client_mptcp"), "yes", f"concentrator client_mptcp= in {cs['_line']}")
            check_eq(cs.get("client_subflows"), "2",
                     f"concentrator client_subflows= in {cs['_line']}")
            check(ratio >= MIN_RATIO, f"chain {k}load aggregation {ratio:.2f}x < {MIN_RATIO}x")
    finally:
        c["router"].stop()


def failing_router(password, ca, reason, warn):
    c = chain_setup()
    tb, o = c["tb"], c["tcp_origin"]
    r = tb.daemon(["-l", f"socks5://{RTR_LAN_IP}:0", "-u", parent_url(password, ca),
                   "--mptcp", "on"])
    try:
        mark = r.mark()
        res = tb.curl(["--socks5", r.listeners[0].hostport,
                       f"http://{SERVICE_IP}:{o.port}/bytes/1000"], timeout=30)
        check(res.returncode != 0, f"curl succeeded through a router with a bad parent "
              f"({reason}): {res.stdout[:200]!r}")
        s = r.wait_session(since=mark, timeout=15)[0]
        warns = [l for l in r._lines_since(mark) if " WARN " in l and "TLS to parent" in l]
        print(f"     curl rc={res.returncode} ({res.stderr.decode(errors='replace').strip()}); "
              f"router: reason={s['reason']}" + (f"; {warns[0].split(' WARN ', 1)[1]}"
                                                 if warns else ""), flush=True)
        check_eq(s["reason"], reason, f"reason= in {s['_line']}")
        if warn:
            pat = re.compile(r" WARN TLS to parent \S+ failed: handshake failed: certificate: \S")
            check(warns and all(pat.search(l) for l in warns),
                  f"WARN 'TLS to parent ... failed: handshake failed: certificate: ...' line; "
                  f"got {warns or r.log()[-6:]}")
        check(r.alive(), "router died")
    finally:
        r.stop()


@S.case
def chain_wrong_password():
    failing_router("wrong-password", None, "parent-auth-failed", warn=False)


@S.case
def chain_wrong_ca():
    c = chain_setup()
    failing_router(PASS, c["cert2"], "parent-tls-failed", warn=True)


@S.case
def forward():
    c = setup()
    tb = c["tb"]
    o = tb.origin("echo", bind=SERVICE_IP)
    d = tb.daemon(["-l", f"forward://{RTR_LAN_IP}:0/{SERVICE_IP}:{o.port}", "--mptcp", "on"])
    try:
        li = d.listeners[0]
        check_eq(li.kind, "forward", f"listening line: {li.line}")
        mark, omark = d.mark(), o.mark()
        r = tb.client(tb.lan, li.addr, send=XFER_N, timeout=90)
        check(r["error"] is None, f"forward client error: {r['error']}")
        check_eq(r["sent"], XFER_N, "bytes the lan client sent")
        check_eq(r["recv"], XFER_N, "bytes the lan client received back")
        check_eq(r["recv_sha"], payload_sha(XFER_N), "sha256 of the bytes echoed back (down)")
        e = origin_end(o, omark, "forward")
        check_eq(e["sha"], payload_sha(XFER_N), "sha256 of the bytes the origin received (up)")
        s = d.wait_session(since=mark, target_port=o.port, timeout=15)[0]
        rate = mbit(XFER_N, r["secs"])
        print(f"     forward {li.addr[0]}:{li.addr[1]} -> {SERVICE_IP}:{o.port}: "
              f"{XFER_N // MiB} MiB each way at once in {r['secs']:.2f} s ({rate:.1f} Mbit/s "
              f"per direction); origin proto={e['proto']} subflows max={e['sub_max']} "
              f"paths {path_split(e)}; mpconv: mptcp={s['mptcp']} subflows={s['subflows']}",
              flush=True)
        check_mptcp_two(e, "forward")
        check_session(s, via="forward", mptcp="yes", up=XFER_N, down=XFER_N)
        check_eq(s["target"], f"{SERVICE_IP}:{o.port}", "forward target=")
        check_eq(s["subflows"], "2", f"forward subflows= in {s['_line']}")
    finally:
        d.stop()


@S.case
def mptcp_listener():
    c = setup()
    tb = c["tb"]
    if "mp_http" not in c:
        c["mp_http"] = tb.origin("http", bind=SERVICE_IP)
    if "mp_echo" not in c:
        c["mp_echo"] = tb.origin("echo", bind=SERVICE_IP)
    d = tb.daemon(["-l", f"socks5://{RTR_LAN_IP}:0?mptcp=1", "--mptcp", "on"])
    try:
        li = d.listeners[0]
        check("mptcp" in li.flags, f"listening line lacks (mptcp): {li.line}")
        # plain TCP client (curl)
        o = c["mp_http"]
        n = 2 * MiB
        mark = d.mark()
        rate, secs = curl_transfer(f"http://{SERVICE_IP}:{o.port}", n,
                                   proxy_args=["--socks5", li.hostport], what="plain TCP client")
        s = d.wait_session(since=mark, target_port=o.port, timeout=15)[0]
        print(f"     plain TCP curl via {li}: {rate:.1f} Mbit/s; session: "
              f"client_mptcp={s.get('client_mptcp', '(absent)')} mptcp={s['mptcp']} "
              f"subflows={s['subflows']}", flush=True)
        check_session(s, via="socks5", mptcp="yes", down=None, min_down=n)
        check("client_mptcp" not in s, f"plain TCP client logged as MPTCP: {s['_line']}")
        # MPTCP client
        e = c["mp_echo"]
        n = MiB
        mark = d.mark()
        r = tb.client(tb.lan, li.addr, send=n, mptcp=True, socks5=(SERVICE_IP, e.port),
                      timeout=60)
        check(r["error"] is None, f"MPTCP client error: {r['error']}")
        check_eq(r["proto"], 262, "lan client socket SO_PROTOCOL")
        check_eq(r["recv"], n, "bytes echoed back")
        check_eq(r["recv_sha"], payload_sha(n), "sha256 echoed back")
        s = d.wait_session(since=mark, target_port=e.port, timeout=15)[0]
        print(f"     MPTCP client via {li}: {n // MiB} MiB echoed in {r['secs']:.2f} s; "
              f"session: client_mptcp={s.get('client_mptcp')} "
              f"client_subflows={s.get('client_subflows')} mptcp={s['mptcp']}", flush=True)
        check_session(s, via="socks5", mptcp="yes", up=n, down=n)
        check_eq(s.get("client_mptcp"), "yes", f"client_mptcp= in {s['_line']}")
        # At least the initial subflow. The router's own subflow endpoints (one
        # per WAN) may add joins towards the lan client, routed back through
        # srv, so the exact count depends on timing.
        check(s.get("client_subflows", "0").isdigit() and int(s["client_subflows"]) >= 1,
              f"client_subflows= in {s['_line']}")
    finally:
        d.stop()


if __name__ == "__main__":
    S.main()
