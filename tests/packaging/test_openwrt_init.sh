#!/bin/sh
# /etc/init.d/mpconv (packaging/openwrt/mpconv/files/mpconv.init) in a fake
# root (IPKG_INSTROOT), run by busybox ash (dash when busybox is missing
# outside CI) with stubs for UCI (uci_stub.sh), procd (procd_stub.sh),
# logger, chown, fw4 and ip, and the real mpconv binary (MPCONV_BIN) for the
# `mpconv -t` check. Checks what procd is asked to run (no secret on the
# command line, the unprivileged jail, SIGHUP reload), the generated files and
# their modes, that a broken edit keeps the running configuration, and the
# transparent-mode firewall and routing calls. KEEP=1 keeps the fake root.
# shellcheck disable=SC3043 # `local`: dash and busybox ash, which run this, have it
set -u
TESTS_DIR=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$TESTS_DIR/../.." && pwd)
FILES_DIR="$ROOT/packaging/openwrt/mpconv/files"
MPCONV_BIN=${MPCONV_BIN:-$ROOT/build/mpconv}

# shellcheck source=tests/packaging/tap.sh
. "$ROOT/tests/packaging/tap.sh"

if [ ! -x "$MPCONV_BIN" ]; then
	echo "no mpconv binary at $MPCONV_BIN (set MPCONV_BIN)"
	exit 1
fi
if command -v busybox >/dev/null; then
	run_sh="busybox sh"
elif [ "${CI:-}" = true ]; then
	echo "busybox is not installed (scripts/install-deps.sh test installs it)"
	exit 1
else
	echo "# busybox not installed: running the init script under dash"
	run_sh=dash
fi

TMP=$(mktemp -d /tmp/mpconv-openwrt-init.XXXXXX)
trap '[ -n "${KEEP:-}" ] || rm -rf "$TMP"' EXIT INT TERM
FAKE="$TMP/root"
STUBS="$TMP/bin"
CALLS="$TMP/calls"
PROCD_LOG="$TMP/procd"
RUN="$FAKE/var/etc/mpconv"
export TESTS_DIR FILES_DIR PROCD_LOG CALLS

mkdir -p "$FAKE/lib/functions" "$FAKE/usr/share/mpconv" "$FAKE/usr/bin" "$FAKE/sbin" \
	"$FAKE/etc/config" "$FAKE/etc/ssl/certs" "$STUBS"
: >"$FAKE/lib/functions/network.sh" # network_get_ipaddr comes from uci_stub.sh
ln -s "$FILES_DIR/mpconv-uci.sh" "$FAKE/usr/share/mpconv/mpconv-uci.sh"
ln -s "$FILES_DIR/mpconv.nft" "$FAKE/usr/share/mpconv/mpconv.nft"
ln -s "$MPCONV_BIN" "$FAKE/usr/bin/mpconv"
: >"$FAKE/etc/hosts"
printf '#!/bin/sh\nexit 0\n' >"$FAKE/sbin/ujail"
chmod +x "$FAKE/sbin/ujail"
for tool in logger chown fw4 ip; do
	# shellcheck disable=SC2016 # $* and $CALLS belong to the stub
	printf '#!/bin/sh\necho "%s $*" >>"$CALLS"\n' "$tool" >"$STUBS/$tool"
	chmod +x "$STUBS/$tool"
done

# init CONFIG ACTION: runs ACTION (start, reload_service, stop_service) of
# the init script with /etc/config/mpconv = CONFIG; fresh logs each time.
init() {
	printf '%s\n' "$1" >"$FAKE/etc/config/mpconv"
	: >"$PROCD_LOG"
	: >"$CALLS"
	# shellcheck disable=SC2016 # expanded by the shell that runs the init script
	IPKG_INSTROOT="$FAKE" UCI_CONFIG_DIR="$FAKE/etc/config" PATH="$STUBS:$PATH" \
		STUB_USER=mpconv STUB_IPADDR_lan=192.168.1.1 \
		$run_sh -c '. "$TESTS_DIR/uci_stub.sh"; . "$TESTS_DIR/procd_stub.sh"; . "$FILES_DIR/mpconv.init"; '"$2" \
		>"$TMP/out" 2>&1
}

logged() {
	grep -qxF -- "$2" "$1"
}

SECRET='a-long-random-secret'
# plain [MAIN_OPTIONS [LISTENER_OPTIONS]]: a router sending to a concentrator,
# with a password in the upstream and a user list.
plain() {
	printf '%s\n' "config mpconv 'main'
	option upstream_type 'socks5+tls'
	option upstream_host 'concentrator.example'
	option upstream_port '1080'
	option upstream_user 'router1'
	option upstream_password '$SECRET'
	option ca '$TMP/ca.pem'
	list user 'alice:$SECRET-2'
	${1:-}

config listener 'lan_socks'
	option type 'socks5'
	option interface 'lan'
	option port '1080'
	${2:-}"
}
PLAIN=$(plain)
echo stand-in >"$TMP/ca.pem"

# ---- start: what procd is asked to run ----
init "$PLAIN" start
check "start: one instance, command is mpconv -c FILE and nothing else" \
	logged "$PROCD_LOG" "procd_set_param command $FAKE/usr/bin/mpconv -c $RUN/mpconv.conf"
check "start: no password in anything handed to procd" \
	sh -c "! grep -q -e '$SECRET' -e 'a-long' '$PROCD_LOG'"
check "start: procd watches the INI, users and CA files and reloads with SIGHUP" \
	sh -c "grep -qxF 'procd_set_param file $RUN/mpconv.conf $RUN/users $TMP/ca.pem' '$PROCD_LOG' &&
		grep -qxF 'procd_set_param reload_signal HUP' '$PROCD_LOG'"
check "start: respawn, nofile limit, stderr to syslog" \
	sh -c "grep -qxF 'procd_set_param respawn 3600 5 0' '$PROCD_LOG' &&
		grep -qxF 'procd_set_param limits nofile=65536 65536' '$PROCD_LOG' &&
		grep -qxF 'procd_set_param stderr 1' '$PROCD_LOG'"
check "start: runs as user mpconv in a jail with the capabilities file" \
	sh -c "grep -qxF 'procd_set_param user mpconv' '$PROCD_LOG' &&
		grep -qxF 'procd_set_param capabilities /etc/capabilities/mpconv.json' '$PROCD_LOG' &&
		grep -qxF 'procd_set_param no_new_privs 1' '$PROCD_LOG' &&
		grep -qxF 'procd_add_jail mpconv procfs' '$PROCD_LOG' &&
		grep -qxF 'procd_add_jail_mount $RUN' '$PROCD_LOG' &&
		grep -qxF 'procd_add_jail_mount $TMP/ca.pem' '$PROCD_LOG'"
check "start: reload triggers on the mpconv config and the lan interface" \
	sh -c "grep -qxF 'procd_add_reload_trigger mpconv' '$PROCD_LOG' &&
		grep -qxF 'procd_add_reload_interface_trigger lan' '$PROCD_LOG'"
check "start: INI and users file are mode 0600" \
	sh -c "[ \"\$(stat -c %a '$RUN/mpconv.conf')\" = 600 ] && [ \"\$(stat -c %a '$RUN/users')\" = 600 ]"
check "start: the secrets are in the 0600 files" \
	sh -c "grep -q 'router1:$SECRET@' '$RUN/mpconv.conf' && grep -qxF 'alice:$SECRET-2' '$RUN/users'"
check "start: INI and users file are given to user mpconv" \
	sh -c "grep -qxF 'chown mpconv:mpconv $RUN/next/mpconv.conf' '$CALLS' &&
		grep -qxF 'chown mpconv:mpconv $RUN/next/users' '$CALLS'"
check "start: no firewall reload without transparent mode" sh -c "! grep -q '^fw4' '$CALLS'"
check "start: the staging directory is gone" test ! -e "$RUN/next"

# ---- without procd-ujail: root, no jail ----
mv "$FAKE/sbin/ujail" "$TMP/ujail"
init "$PLAIN" start
check "start without ujail: no user, jail or capabilities" \
	sh -c "! grep -q -e 'procd_set_param user' -e procd_add_jail -e capabilities '$PROCD_LOG'"
mv "$TMP/ujail" "$FAKE/sbin/ujail"

# ---- a broken edit keeps the configuration in use ----
cp "$RUN/mpconv.conf" "$TMP/good.conf"
init "$(plain '' "option port '70000'")" reload_service
check "broken edit: the INI in use is unchanged" cmp -s "$TMP/good.conf" "$RUN/mpconv.conf"
check "broken edit: the error goes to syslog" \
	grep -qF "logger -t mpconv -p daemon.err mpconv: /etc/config/mpconv: lan_socks.port: expected 1..65535, got '70000'" "$CALLS"
check "broken edit: the instance stays registered as it was" \
	logged "$PROCD_LOG" "procd_set_param command $FAKE/usr/bin/mpconv -c $RUN/mpconv.conf"
# A file mpconv itself rejects (mptcp = maybe): caught by `mpconv -t`.
init "$(plain "option mptcp 'maybe'")" reload_service
check "rejected by mpconv -t: the INI in use is unchanged" cmp -s "$TMP/good.conf" "$RUN/mpconv.conf"
check "rejected by mpconv -t: its FILE:LINE: key message goes to syslog" \
	grep -qF "$RUN/next/mpconv.conf:" "$CALLS"

# ---- transparent mode: REDIRECT ----
REDIRECT="config mpconv 'main'
	option transparent '1'

config listener 'redir'
	option type 'redirect'
	option address '0.0.0.0'
	option port '12345'"
init "$REDIRECT" start
check "redirect: fw4 include written and fw4 reloaded" \
	sh -c "grep -q 'redirect to :12345' '$RUN/fw4.nft' && grep -qxF 'fw4 -q reload' '$CALLS'"
check "redirect: no policy routing" sh -c "! grep -q '^ip ' '$CALLS'"
init "$REDIRECT" reload_service
check "redirect, unchanged reload: fw4 not reloaded again" sh -c "! grep -q '^fw4' '$CALLS'"

# ---- transparent mode: TPROXY ----
TPROXY="config mpconv 'main'
	option transparent '1'
	option tproxy_mark '0x7'
	option tproxy_table '107'

config listener 'tp'
	option type 'tproxy'
	option address '0.0.0.0'
	option port '12346'
	option mptcp '1'"
init "$TPROXY" reload_service
check "tproxy: fw4 include switched to the tproxy chain and fw4 reloaded" \
	sh -c "grep -q 'tproxy ip to :12346 meta mark set 0x7' '$RUN/fw4.nft' &&
		! grep -q 'chain mpconv_redirect' '$RUN/fw4.nft' && grep -qxF 'fw4 -q reload' '$CALLS'"
check "tproxy: marked packets routed to the local table" \
	sh -c "grep -qxF 'ip -4 rule add fwmark 0x7 lookup 107' '$CALLS' &&
		grep -qxF 'ip -4 route replace local 0.0.0.0/0 dev lo table 107' '$CALLS' &&
		grep -qxF 'ip -6 rule add fwmark 0x7 lookup 107' '$CALLS'"
init "$TPROXY" stop_service
check "stop: fw4 include removed, fw4 reloaded, routing removed" \
	sh -c "[ ! -e '$RUN/fw4.nft' ] && grep -qxF 'fw4 -q reload' '$CALLS' &&
		grep -qxF 'ip -4 rule del fwmark 0x7 lookup 107' '$CALLS' &&
		grep -qxF 'ip -6 route flush table 107' '$CALLS'"

# ---- disabled ----
init "$(plain "option enabled '0'")" start
check "disabled: no instance, and the secrets are removed" \
	sh -c "! grep -q procd_open_instance '$PROCD_LOG' && [ ! -e '$RUN/mpconv.conf' ] && [ ! -e '$RUN/users' ]"

if [ "$failed" -gt 0 ]; then
	echo "# last init output:"
	sed 's/^/#   /' "$TMP/out"
fi
finish
