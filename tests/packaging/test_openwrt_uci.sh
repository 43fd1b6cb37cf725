#!/bin/sh
# The OpenWrt UCI -> INI translation (packaging/openwrt/mpconv/files/mpconv-uci.sh)
# under dash and busybox ash, with stub UCI functions over fixture files:
#   tests/packaging/openwrt/CASE/config       UCI input
#   tests/packaging/openwrt/CASE/expected.*   mpconv.conf, users, fw4.nft, byte for byte
#   tests/packaging/openwrt/errors/*.config   "# expect: MESSAGE" on line 1
# Also: mode 0600 of every generated file, the generated fw4 include through
# `nft -c` (inside a throw-away network namespace), and each generated INI
# through `mpconv -t` (MPCONV_BIN). Keys still being built in parallel make
# `-t` say "unknown ..."; those cases are reported, not failed.
# Usage: test_openwrt_uci.sh [CASE]...
# shellcheck disable=SC3043 # `local`: dash and busybox ash, which run this, have it
set -u
TESTS_DIR=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$TESTS_DIR/../.." && pwd)
FILES_DIR="$ROOT/packaging/openwrt/mpconv/files"
FIXTURES="$TESTS_DIR/openwrt"
MPCONV_BIN=${MPCONV_BIN:-$ROOT/build/mpconv}
export TESTS_DIR FILES_DIR
# netifd's answer for the `lan` interface; `wan` has no address.
export STUB_IPADDR_lan=192.168.1.1

# shellcheck source=tests/packaging/tap.sh
. "$ROOT/tests/packaging/tap.sh"

TMP=$(mktemp -d /tmp/mpconv-openwrt-uci.XXXXXX)
trap 'rm -rf "$TMP"' EXIT INT TERM

shells="dash"
if command -v busybox >/dev/null; then
	shells="$shells busybox"
elif [ "${CI:-}" = true ]; then
	not_ok "busybox is not installed (scripts/install-deps.sh test installs it)"
else
	echo "# busybox not installed: the busybox ash runs are skipped"
fi

# generate SHELL UCI_FILE OUT_DIR: runs openwrt_generate.sh under SHELL.
generate() {
	# shellcheck disable=SC2016 # expanded by the shell under test
	case "$1" in
	busybox) busybox sh -c '. "$TESTS_DIR/openwrt_generate.sh"' generate "$2" "$3" ;;
	*) "$1" -c '. "$TESTS_DIR/openwrt_generate.sh"' generate "$2" "$3" ;;
	esac
}

# Schema keys that the parallel work adds; `-t` rejects them until it lands.
PENDING='metrics|wan|pac|clients|deny|allow|tcp|require_mptcp|acl'

# check_ini CASE DIR: the INI loads in the real binary. Files under
# /etc/mpconv/ are redirected to stand-ins in TMP (mpconv opens them).
check_ini() {
	local name="$1" dir="$2" err
	if [ ! -x "$MPCONV_BIN" ]; then
		echo "# $name: no mpconv binary at $MPCONV_BIN, -t not run"
		return
	fi
	mkdir -p "$TMP/etc/mpconv"
	for f in cert.pem key.pem ca.pem; do echo stand-in >"$TMP/etc/mpconv/$f"; done
	echo "someone:secret" >"$TMP/etc/mpconv/users"
	sed "s#/etc/mpconv/#$TMP/etc/mpconv/#g" "$dir/mpconv.conf" >"$dir/check.conf"
	if err=$("$MPCONV_BIN" -t -c "$dir/check.conf" 2>&1 >/dev/null); then
		ok "$name: mpconv -t loads the INI"
	elif echo "$err" | grep -Eq "unknown (key|section|parameter).*($PENDING)|($PENDING).*unknown"; then
		echo "# $name: mpconv -t does not know a schema key yet (awaits the parallel work): $err"
	else
		not_ok "$name: mpconv -t: $err"
	fi
	rm -f "$dir/check.conf"
}

# check_nft CASE FILE: the include parses inside fw4's table (nft -c, in a
# new network namespace so nothing on the host is looked at or touched).
check_nft() {
	local name="$1" file="$2" err
	if ! command -v nft >/dev/null || ! command -v unshare >/dev/null || [ "$(id -u)" != 0 ]; then
		[ "${CI:-}" = true ] && not_ok "$name: nft -c needs root, nft and unshare" && return
		echo "# $name: nft -c not run (needs root, nft and unshare)"
		return
	fi
	{
		echo "table inet fw4 {"
		cat "$file"
		echo "}"
	} >"$TMP/fw4-wrapped.nft"
	if err=$(unshare --net nft -c -f "$TMP/fw4-wrapped.nft" 2>&1); then
		ok "$name: fw4.nft passes nft -c inside table inet fw4"
	else
		not_ok "$name: nft -c: $err"
	fi
}

run_case() {
	local name="$1" sh="$2" dir="$FIXTURES/$1" out="$TMP/$2-$1" f mode
	if ! generate "$sh" "$dir/config" "$out" 2>"$out.err"; then
		not_ok "$name ($sh): generation failed: $(cat "$out.err")"
		return
	fi
	for f in mpconv.conf users fw4.nft; do
		if [ -f "$dir/expected.$f" ]; then
			if cmp -s "$dir/expected.$f" "$out/$f"; then
				ok "$name ($sh): $f as expected"
			else
				not_ok "$name ($sh): $f differs:"
				diff -u "$dir/expected.$f" "$out/$f" | sed 's/^/#   /'
			fi
		elif [ -s "$out/$f" ]; then
			not_ok "$name ($sh): unexpected non-empty $f"
		fi
		[ -e "$out/$f" ] || continue
		mode=$(stat -c %a "$out/$f")
		if [ "$mode" = 600 ]; then
			ok "$name ($sh): $f has mode 0600"
		else
			not_ok "$name ($sh): $f has mode $mode, not 0600"
		fi
	done
	if [ "$sh" = dash ]; then
		check_ini "$name" "$out"
		[ -s "$out/fw4.nft" ] && check_nft "$name" "$out/fw4.nft"
	fi
}

run_error_case() {
	local file="$1" sh="$2" name want out="$TMP/$2-err"
	name=$(basename "$file" .config)
	want=$(sed -n '1s/^# expect: //p' "$file")
	if generate "$sh" "$file" "$out" 2>"$out.err"; then
		not_ok "errors/$name ($sh): accepted, expected: $want"
	elif grep -qF "mpconv: /etc/config/mpconv: $want" "$out.err"; then
		ok "errors/$name ($sh): $want"
	else
		not_ok "errors/$name ($sh): expected '$want', got: $(cat "$out.err")"
	fi
	rm -rf "$out"
}

cases="$*"
[ -n "$cases" ] || cases=$(cd "$FIXTURES" && for d in */config; do dirname "$d"; done)
for sh in $shells; do
	for name in $cases; do
		run_case "$name" "$sh"
	done
	if [ $# -eq 0 ]; then
		for file in "$FIXTURES"/errors/*.config; do
			run_error_case "$file" "$sh"
		done
	fi
done

finish
