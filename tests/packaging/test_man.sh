#!/bin/sh
# The man pages: groff with all warnings and man --warnings report nothing;
# mpconv.conf(5) documents every key of the table in src/config.c under its
# section, and mpconv(8) every long option of src/main.c.
set -u
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
MAN8="$ROOT/man/mpconv.8"
MAN5="$ROOT/man/mpconv.conf.5"

# shellcheck source=tests/packaging/tap.sh
. "$ROOT/tests/packaging/tap.sh"

need_tool groff "scripts/install-deps.sh test installs groff-base"

for page in "$MAN8" "$MAN5"; do
	name=$(basename "$page")
	if out=$(groff -man -Tutf8 -ww -z "$page" 2>&1) && [ -z "$out" ]; then
		ok "$name: groff -man -ww: no warnings"
	else
		not_ok "$name: groff -man -ww: $out"
	fi
	if command -v man >/dev/null; then
		if out=$(LC_ALL=C.UTF-8 MANWIDTH=80 man --warnings -l "$page" 2>&1 >/dev/null) && [ -z "$out" ]; then
			ok "$name: man --warnings: no warnings"
		else
			not_ok "$name: man --warnings: $out"
		fi
	elif [ "${CI:-}" = true ]; then
		not_ok "$name: man is not installed (man-db)"
	fi
done

# Keys: {"section", "name", KEY_...} rows of the table in src/config.c. Each
# must head an entry (.BI/.BR name ...) between .SH "[section] SECTION" and
# the next .SH.
keys=$(sed -n 's/^ *{"\([a-z_]*\)", "\([a-z_]*\)", KEY_.*/\1.\2/p' "$ROOT/src/config.c")
if [ -z "$keys" ]; then
	not_ok "no keys found in src/config.c (has the table's layout changed?)"
fi
for key in $keys; do
	section=${key%%.*}
	name=${key#*.}
	if awk -v sect=".SH \"[$section] SECTION\"" -v name="$name" '
		$0 == sect { inside = 1; next }
		/^\.SH/ { inside = 0 }
		inside && ($1 == ".BI" || $1 == ".BR") && $2 == name { found = 1 }
		END { exit !found }' "$MAN5"; then
		ok "mpconv.conf.5 documents [$section] $name"
	else
		not_ok "mpconv.conf.5 lacks [$section] $name"
	fi
done

# Long options: {"name", ..._argument, ...} in src/main.c.
options=$(grep -o '{"[a-z-]*", *[a-z_]*_argument' "$ROOT/src/main.c" | sed 's/{"\([a-z-]*\)".*/\1/')
for option in $options; do
	escaped=$(echo "$option" | sed 's/-/\\\\-/g')
	if grep -q -- "\\\\-\\\\-$escaped" "$MAN8"; then
		ok "mpconv.8 documents --$option"
	else
		not_ok "mpconv.8 lacks --$option"
	fi
done

finish
