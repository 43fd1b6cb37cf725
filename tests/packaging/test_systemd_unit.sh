#!/bin/sh
# packaging/systemd/mpconv.service: `systemd-analyze verify` (with the
# Documentation= man pages resolved from man/ and the paths pointed at the
# build's binary), its hardening exposure, and what `cmake --install`
# (DESTDIR) puts where: binary, example config, man pages, the unit with the
# install prefix's paths, the sysusers.d file.
set -u
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
MPCONV_BIN=${MPCONV_BIN:-$ROOT/build/mpconv}
BUILD_DIR=${MPCONV_BUILD_DIR:-$(dirname "$MPCONV_BIN")}
UNIT="$ROOT/packaging/systemd/mpconv.service"

# shellcheck source=tests/packaging/tap.sh
. "$ROOT/tests/packaging/tap.sh"

need_tool systemd-analyze "scripts/install-deps.sh test installs systemd"
TMP=$(mktemp -d /tmp/mpconv-systemd.XXXXXX)
trap 'rm -rf "$TMP"' EXIT INT TERM

# ---- systemd-analyze verify ----
mkdir -p "$TMP/unit" "$TMP/man/man8" "$TMP/man/man5"
ln -s "$ROOT/man/mpconv.8" "$TMP/man/man8/mpconv.8"
ln -s "$ROOT/man/mpconv.conf.5" "$TMP/man/man5/mpconv.conf.5"
sed -e "s#/usr/bin/mpconv#$MPCONV_BIN#g" -e "s#/etc/mpconv/#$TMP/#g" "$UNIT" >"$TMP/unit/mpconv.service"
if out=$(MANPATH="$TMP/man" systemd-analyze verify "$TMP/unit/mpconv.service" 2>&1) && [ -z "$out" ]; then
	ok "systemd-analyze verify: no complaints (man pages found)"
else
	not_ok "systemd-analyze verify: $out"
fi
if out=$(systemd-analyze security --offline=true "$TMP/unit/mpconv.service" 2>&1); then
	level=$(echo "$out" | sed -n 's/.*Overall exposure level for mpconv.service: \([0-9.]*\) \([A-Z]*\).*/\1 \2/p')
	case "$level" in
	[0-2].* | 3.[0-4]*) ok "systemd-analyze security: exposure $level" ;;
	*) not_ok "systemd-analyze security: exposure '$level' (want below 3.5)" ;;
	esac
else
	echo "# systemd-analyze security --offline not available: $out"
fi
for directive in "ExecStartPre=/usr/bin/mpconv -t -c /etc/mpconv/mpconv.conf" \
	"ExecReload=/bin/kill -HUP \$MAINPID" "Restart=on-failure" "User=mpconv" \
	"NoNewPrivileges=yes" "ProtectSystem=strict" \
	"RestrictAddressFamilies=AF_INET AF_INET6 AF_UNIX AF_NETLINK" \
	"AmbientCapabilities=CAP_NET_ADMIN CAP_NET_BIND_SERVICE"; do
	if grep -qxF "$directive" "$UNIT"; then ok "unit has $directive"; else not_ok "unit lacks $directive"; fi
done

# ---- cmake --install ----
if [ ! -f "$BUILD_DIR/CMakeCache.txt" ]; then
	not_ok "no CMake build directory at $BUILD_DIR (set MPCONV_BUILD_DIR)"
else
	prefix=$(sed -n 's/^CMAKE_INSTALL_PREFIX:PATH=//p' "$BUILD_DIR/CMakeCache.txt")
	unitdir=$(sed -n 's/^MPCONV_SYSTEMD_UNITDIR:PATH=//p' "$BUILD_DIR/CMakeCache.txt")
	sysusersdir=$(sed -n 's/^MPCONV_SYSUSERSDIR:PATH=//p' "$BUILD_DIR/CMakeCache.txt")
	if DESTDIR="$TMP/dest" cmake --install "$BUILD_DIR" >"$TMP/install.log" 2>&1; then
		ok "cmake --install into DESTDIR"
		d="$TMP/dest$prefix"
		for f in bin/mpconv share/man/man8/mpconv.8 share/man/man5/mpconv.conf.5; do
			if [ -f "$d/$f" ]; then ok "installed $prefix/$f"; else not_ok "not installed: $prefix/$f"; fi
		done
		if [ -f "$TMP/dest$prefix/etc/mpconv/mpconv.conf" ] || [ -f "$TMP/dest/etc/mpconv/mpconv.conf" ]; then
			ok "installed the example mpconv.conf"
		else
			not_ok "example mpconv.conf not installed"
		fi
		if [ -n "$unitdir" ]; then
			installed="$TMP/dest$unitdir/mpconv.service"
			if [ -f "$installed" ] && grep -qxF "ExecStart=$prefix/bin/mpconv -c $(
				[ "$prefix" = /usr ] && echo /etc || echo "$prefix/etc"
			)/mpconv/mpconv.conf" "$installed"; then
				ok "installed $unitdir/mpconv.service with this prefix's paths"
			else
				not_ok "unit in $unitdir missing or with wrong paths: $(grep ^ExecStart= "$installed" 2>&1)"
			fi
		fi
		if [ -n "$sysusersdir" ]; then
			if grep -q '^u mpconv ' "$TMP/dest$sysusersdir/mpconv.conf" 2>/dev/null; then
				ok "installed $sysusersdir/mpconv.conf (user mpconv)"
			else
				not_ok "sysusers.d file missing in $sysusersdir"
			fi
		fi
	else
		not_ok "cmake --install: $(cat "$TMP/install.log")"
	fi
fi

finish
