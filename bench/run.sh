#!/usr/bin/env bash
# mpconv benchmark: one command, one table (see bench/README.md).
#
#   bench/run.sh [--quick] [--install-peers] [--runs N] [--only COL,COL] [--out FILE]
#
# Builds build/mpconv if it is missing, compiles the load generator and the
# MPTCP target into a private temp dir, raises the open-file limit, and runs
# bench/bench.py, which prints the markdown table on stdout (progress on stderr).
# --install-peers: apt-get install the peer proxies (microsocks, dante, tinyproxy,
# haproxy, mptcpd for mptcpize) and make sure none stays running or enabled.
# All traffic is on 127.0.0.0/8; every process started here is stopped on exit.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/.." && pwd)
quick=0 install_peers=0
pass=()
while [ $# -gt 0 ]; do
    case "$1" in
    --quick) quick=1; pass+=(--quick) ;;
    --install-peers) install_peers=1 ;;
    --runs|--only|--out) pass+=("$1" "$2"); shift ;;
    -h|--help) sed -n '2,12p' "$0"; exit 0 ;;
    *) echo "run.sh: unknown option $1" >&2; exit 2 ;;
    esac
    shift
done

log() { echo "[run.sh] $*" >&2; }

work=$(mktemp -d /tmp/mpconv-bench.XXXXXX)
runner_pid=
cleanup() {
    rc=$?
    trap - EXIT INT TERM
    if [ -n "$runner_pid" ] && kill -0 "$runner_pid" 2>/dev/null; then
        kill -TERM "$runner_pid" 2>/dev/null || true
        for _ in $(seq 50); do kill -0 "$runner_pid" 2>/dev/null || break; sleep 0.1; done
        kill -KILL "$runner_pid" 2>/dev/null || true
    fi
    # anything still running from our private work dir (tools, mpconv copy)
    for pid in $(pgrep -f "^$work/" 2>/dev/null || true); do kill -KILL "$pid" 2>/dev/null || true; done
    if [ "${KEEP_WORK:-0}" = 1 ] || [ "$rc" != 0 ]; then
        log "logs kept in $work"
    else
        rm -rf "$work"
    fi
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# --- peers ------------------------------------------------------------------
peer_pkgs="mptcpd microsocks dante-server tinyproxy haproxy"
peer_services="danted tinyproxy haproxy mptcp mptcpd"
stop_peer_services() {
    for s in $peer_services; do
        if command -v systemctl >/dev/null 2>&1; then
            systemctl disable --now "$s" >/dev/null 2>&1 || systemctl disable "$s" >/dev/null 2>&1 || true
        fi
        if [ -x "/etc/init.d/$s" ]; then
            "/etc/init.d/$s" stop >/dev/null 2>&1 || true
            update-rc.d "$s" disable >/dev/null 2>&1 || true
        fi
    done
}
if [ "$install_peers" = 1 ]; then
    log "installing peers: $peer_pkgs"
    # keep the packages' services from starting during the install
    made_policy=0
    if [ ! -e /usr/sbin/policy-rc.d ]; then
        printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d
        chmod 755 /usr/sbin/policy-rc.d
        made_policy=1
    fi
    set +e
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q $peer_pkgs > "$work/apt.log" 2>&1
    apt_rc=$?
    if [ $apt_rc != 0 ]; then
        log "apt-get install failed ($apt_rc), trying after apt-get update"
        apt-get update -q >> "$work/apt.log" 2>&1
        DEBIAN_FRONTEND=noninteractive apt-get install -y -q $peer_pkgs >> "$work/apt.log" 2>&1
        apt_rc=$?
    fi
    set -e
    [ "$made_policy" = 1 ] && rm -f /usr/sbin/policy-rc.d
    [ $apt_rc = 0 ] || log "apt-get install failed; missing peers will be skipped (see $work/apt.log)"
    stop_peer_services
fi

# --- mpconv -------------------------------------------------------------------
if [ ! -x "$repo/build/mpconv" ]; then
    for try in 1 2 3; do
        log "building mpconv (try $try)"
        if cmake -S "$repo" -B "$repo/build" > "$work/cmake.log" 2>&1 &&
           cmake --build "$repo/build" --target mpconv -j "$(nproc)" >> "$work/cmake.log" 2>&1; then
            break
        fi
        tail -20 "$work/cmake.log" >&2
        [ "$try" = 3 ] && { log "mpconv does not build"; exit 1; }
        sleep 20   # the tree may be transiently broken while others edit it
    done
fi
# a private copy: other people may rebuild build/ while we measure
cp "$repo/build/mpconv" "$work/mpconv"

# --- tools ----------------------------------------------------------------------
mkdir -p "$work/tools"
CC=${CC:-cc}
for t in loadgen mptarget; do
    $CC -O2 -g -std=gnu11 -Wall -Wextra -pthread -o "$work/tools/$t" "$here/$t.c" -lm
done

# --- limits: 2 fds per proxied connection in the proxy, 1 in loadgen and mptarget
ulimit -Hn 1048576 2>/dev/null || ulimit -Hn 262144 2>/dev/null || true
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
log "open-file limit: $(ulimit -n) (hard $(ulimit -Hn))"

python3 "$here/bench.py" --work "$work" --tools "$work/tools" --mpconv "$work/mpconv" "${pass[@]}" &
runner_pid=$!
wait "$runner_pid"
