#!/bin/sh
# The container scripts without a Docker engine:
# - packaging/docker/entrypoint.sh under dash and busybox ash with a stub
#   mpconv that prints its argv: the options each environment gives;
# - packaging/docker/healthcheck.sh against a loopback HTTP server on a
#   kernel-chosen port (and a closed port);
# - the Dockerfile's COPY sources exist and are not excluded by
#   .dockerignore, the scripts it starts are executable;
# - packaging/docker/compose.yaml parses, with the sidecar wiring.
# shellcheck disable=SC3043 # `local`: dash and busybox ash, which run this, have it
set -u
TESTS_DIR=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$TESTS_DIR/../.." && pwd)
ENTRYPOINT="$ROOT/packaging/docker/entrypoint.sh"
HEALTHCHECK="$ROOT/packaging/docker/healthcheck.sh"

# shellcheck source=tests/packaging/tap.sh
. "$ROOT/tests/packaging/tap.sh"

TMP=$(mktemp -d /tmp/mpconv-docker.XXXXXX)
server_pid=""
cleanup() {
	[ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null
	rm -rf "$TMP"
}
trap cleanup EXIT INT TERM

# The stub: `-t -c FILE` prints listen lines from STUB_LISTEN (as mpconv -t
# would), anything else prints argv one per line.
cat >"$TMP/mpconv" <<'EOF'
#!/bin/sh
if [ "$1" = -t ]; then
	for url in $STUB_LISTEN; do echo "listen = $url"; done
	exit 0
fi
for arg in "$@"; do printf '%s\n' "$arg"; done
EOF
chmod +x "$TMP/mpconv"
echo "[mpconv]" >"$TMP/mpconv.conf"
# The entrypoint runs here: a file that an unquoted URL would glob to.
mkdir -p "$TMP/glob/http:"
: >"$TMP/glob/http:/0.0.0.0:8080Xallow=globbed"
export MPCONV_BIN="$TMP/mpconv" MPCONV_DEFAULT_CONFIG="$TMP/absent.conf"

shells="dash"
if command -v busybox >/dev/null; then
	shells="$shells busybox"
elif [ "${CI:-}" = true ]; then
	not_ok "busybox is not installed (scripts/install-deps.sh test installs it)"
fi

# run_entrypoint SHELL [VAR=VALUE...] [-- ARGS...]: the entrypoint with only
# those MPCONV_* variables (besides the stub's) set.
run_entrypoint() {
	local sh="$1"
	shift
	(
		cd "$TMP/glob" || exit 1
		unset MPCONV_CONFIG MPCONV_LISTEN MPCONV_UPSTREAM MPCONV_MPTCP MPCONV_LOG_LEVEL \
			MPCONV_WORKERS MPCONV_METRICS MPCONV_USERS_FILE
		while [ $# -gt 0 ] && [ "$1" != -- ]; do
			export "${1?}"
			shift
		done
		[ "${1:-}" = -- ] && shift
		if [ "$sh" = busybox ]; then
			exec busybox sh "$ENTRYPOINT" "$@"
		else
			exec "$sh" "$ENTRYPOINT" "$@"
		fi
	)
}

# expect SHELL NAME EXPECTED_ARGV [VAR=VALUE...] [-- ARGS...]
expect() {
	local sh="$1" name="$2" want="$3" got
	shift 3
	got=$(run_entrypoint "$sh" "$@" 2>"$TMP/stderr")
	if [ "$got" = "$want" ]; then
		ok "entrypoint ($sh): $name"
	else
		not_ok "entrypoint ($sh): $name: got [$(echo "$got" | tr '\n' ' ')] want [$(echo "$want" | tr '\n' ' ')]"
	fi
}

NL='
'
for sh in $shells; do
	expect "$sh" "no file, no variables: listeners on all addresses" \
		"-l${NL}socks5://0.0.0.0:1080${NL}-l${NL}http://0.0.0.0:8080"
	expect "$sh" "mounted file only: -c FILE, its own listeners" \
		"-c${NL}$TMP/mpconv.conf" MPCONV_DEFAULT_CONFIG="$TMP/mpconv.conf"
	expect "$sh" "every variable, then the caller's arguments" \
		"-c${NL}$TMP/mpconv.conf${NL}-l${NL}socks5://127.0.0.1:1080${NL}-l${NL}mixed://[::]:1081?mptcp=1${NL}-u${NL}socks5+tls://vpn.example.net:443${NL}--mptcp${NL}on${NL}--log-level${NL}debug${NL}-o${NL}mpconv.workers=auto${NL}--metrics${NL}127.0.0.1:9100${NL}-o${NL}auth.users_file=/run/secrets/users${NL}-t" \
		MPCONV_CONFIG="$TMP/mpconv.conf" MPCONV_LISTEN="socks5://127.0.0.1:1080  mixed://[::]:1081?mptcp=1" \
		MPCONV_UPSTREAM=socks5+tls://vpn.example.net:443 MPCONV_MPTCP=on MPCONV_LOG_LEVEL=debug \
		MPCONV_WORKERS=auto MPCONV_METRICS=127.0.0.1:9100 MPCONV_USERS_FILE=/run/secrets/users -- -t
	expect "$sh" "a listener URL with a glob character stays as it is" \
		"-l${NL}http://0.0.0.0:8080?allow=*" MPCONV_LISTEN="http://0.0.0.0:8080?allow=*"
	expect "$sh" "another command runs instead of mpconv" "hello" -- echo hello

	expect "$sh" "a password in MPCONV_UPSTREAM still works" \
		"-c${NL}$TMP/mpconv.conf${NL}-u${NL}https://r1:secret@vpn.example.net:443" \
		MPCONV_DEFAULT_CONFIG="$TMP/mpconv.conf" MPCONV_UPSTREAM=https://r1:secret@vpn.example.net:443
	if grep -q "MPCONV_UPSTREAM: a password in the environment" "$TMP/stderr"; then
		ok "entrypoint ($sh): ... with a warning"
	else
		not_ok "entrypoint ($sh): no warning for a password in MPCONV_UPSTREAM"
	fi
	expect "$sh" "no warning for a user without a password" \
		"-l${NL}socks5://0.0.0.0:1080${NL}-u${NL}socks5://r1@vpn.example.net:1080" \
		MPCONV_LISTEN=socks5://0.0.0.0:1080 MPCONV_UPSTREAM=socks5://r1@vpn.example.net:1080
	if [ -s "$TMP/stderr" ]; then not_ok "entrypoint ($sh): unexpected warning: $(cat "$TMP/stderr")"; fi

	if out=$(run_entrypoint "$sh" MPCONV_CONFIG="$TMP/missing.conf" 2>&1); then
		not_ok "entrypoint ($sh): a missing MPCONV_CONFIG was accepted: $out"
	elif [ $? -eq 2 ] && echo "$out" | grep -q "MPCONV_CONFIG=$TMP/missing.conf: no such file"; then
		ok "entrypoint ($sh): a missing MPCONV_CONFIG fails with exit 2"
	else
		not_ok "entrypoint ($sh): missing MPCONV_CONFIG: $out"
	fi
done

# ---- health check ----
if command -v python3 >/dev/null && command -v bash >/dev/null; then
	# A loopback HTTP server on a port the kernel picks: 200 on /status while
	# $TMP/healthy exists, 503 otherwise; it stops by itself after 120 s.
	mkfifo "$TMP/port"
	python3 - "$TMP/port" "$TMP/healthy" <<'EOF' &
import http.server, os, sys, threading
class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        healthy = self.path == "/status" and os.path.exists(sys.argv[2])
        self.send_response(200 if healthy else 503)
        self.end_headers()
        self.wfile.write(b"{}\n")
    def log_message(self, *args):
        pass
server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
threading.Timer(120, server.shutdown).start()
with open(sys.argv[1], "w") as f:  # a FIFO: the test reads the port from it
    f.write("%d\n" % server.server_address[1])
server.serve_forever()
EOF
	server_pid=$!
	port=$(timeout 30 head -n 1 "$TMP/port")
	# A port nobody listens on: bound and released by the kernel.
	closed=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')

	# health NAME WANT_STATUS VAR=VALUE...
	health() {
		local name="$1" want="$2" got
		shift 2
		env -i PATH="$PATH" MPCONV_BIN="$MPCONV_BIN" MPCONV_CONFIG="$TMP/absent.conf" "$@" bash "$HEALTHCHECK" >/dev/null 2>&1
		got=$?
		if [ "$got" = "$want" ]; then ok "healthcheck: $name"; else not_ok "healthcheck: $name: exit $got, want $want"; fi
	}
	if [ -z "$port" ]; then
		not_ok "healthcheck: the loopback test server did not start"
	else
		health "MPCONV_HEALTHCHECK port open" 0 MPCONV_HEALTHCHECK="127.0.0.1:$port"
		health "MPCONV_HEALTHCHECK port closed" 1 MPCONV_HEALTHCHECK="127.0.0.1:$closed"
		health "first MPCONV_LISTEN URL, wildcard checked on loopback" 0 \
			MPCONV_LISTEN="socks5://0.0.0.0:$port http://0.0.0.0:$closed"
		health "first MPCONV_LISTEN URL closed" 1 MPCONV_LISTEN="socks5://0.0.0.0:$closed http://0.0.0.0:$port"
		health "listener from the config file (mpconv -t), user and query stripped" 0 \
			MPCONV_CONFIG="$TMP/mpconv.conf" STUB_LISTEN="socks5+tls://bob@127.0.0.1:$port?mptcp=1 http://127.0.0.1:$closed"
		health "metrics /status answering 503" 1 MPCONV_METRICS="127.0.0.1:$port"
		: >"$TMP/healthy"
		health "metrics /status answering 200" 0 MPCONV_METRICS="127.0.0.1:$port"
		health "metrics port closed" 1 MPCONV_METRICS="127.0.0.1:$closed"
	fi
elif [ "${CI:-}" = true ]; then
	not_ok "healthcheck: needs python3 and bash"
fi

# ---- Dockerfile, .dockerignore, compose.yaml (static) ----
if python3 - "$ROOT" <<'EOF'; then ok "Dockerfile: COPY sources exist, are not ignored, scripts executable; compose.yaml wiring"; else not_ok "Dockerfile/compose.yaml checks"; fi
import fnmatch, os, sys, yaml
root = sys.argv[1]
ignore = [l.strip().rstrip("/") for l in open(os.path.join(root, ".dockerignore"))
          if l.strip() and not l.startswith("#")]
def ignored(path):
    parts = path.split("/")
    prefixes = ["/".join(parts[:i]) for i in range(1, len(parts) + 1)]
    return any(fnmatch.fnmatch(p, pat) for p in prefixes for pat in ignore)
errors = []
started = []
for line in open(os.path.join(root, "Dockerfile")):
    words = line.split()
    if words[:1] == ["COPY"] and not any(w.startswith("--from") for w in words):
        for src in words[1:-1]:
            if src == ".":
                continue
            if not os.path.exists(os.path.join(root, src)):
                errors.append(f"COPY {src}: missing")
            elif ignored(src):
                errors.append(f"COPY {src}: excluded by .dockerignore")
            if words[-1].startswith("/usr/local/bin/") and not os.access(os.path.join(root, src), os.X_OK):
                errors.append(f"{src}: not executable")
for needed in ["CMakeLists.txt", "src", "include", "etc/mpconv.conf", "man/mpconv.8", "man/mpconv.conf.5", "LICENSE"]:
    if ignored(needed) or not os.path.exists(os.path.join(root, needed)):
        errors.append(f"the build stage needs {needed}")
compose = yaml.safe_load(open(os.path.join(root, "packaging/docker/compose.yaml")))
mp, app = compose["services"]["mpconv"], compose["services"]["app"]
if mp.get("sysctls", {}).get("net.mptcp.enabled") != "1":
    errors.append("compose: mpconv without sysctls net.mptcp.enabled")
if app.get("depends_on", {}).get("mpconv", {}).get("condition") != "service_healthy":
    errors.append("compose: app does not wait for a healthy mpconv")
if not app["environment"].get("ALL_PROXY", "").startswith("socks5h://mpconv:"):
    errors.append("compose: app without ALL_PROXY to the sidecar")
for e in errors:
    print("#", e)
sys.exit(1 if errors else 0)
EOF

finish
