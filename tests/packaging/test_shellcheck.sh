#!/bin/sh
# Runs shellcheck over every shell script in packaging/ (OpenWrt init script and
# UCI library, container entrypoint and health check) and these tests:
# POSIX sh (-s sh) unless the script names bash in its #! line. Each disable
# inside the scripts carries its reason in a comment.
set -u
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
# shellcheck source=tests/packaging/tap.sh
. "$ROOT/tests/packaging/tap.sh"

need_tool shellcheck "scripts/install-deps.sh test installs it"

# Shell scripts: *.sh, *.init, and files whose first line is a sh/bash #!.
scripts=$(cd "$ROOT" && find packaging tests/packaging -type f | sort | while read -r f; do
	case "$f" in
	*.sh | *.init) echo "$f" ;;
	*) head -n 1 "$f" | grep -Eq '^#!.*(/|env )(ba)?sh( |$)' && echo "$f" ;;
	esac
done)
for f in $scripts; do
	shell="sh"
	head -n 1 "$ROOT/$f" | grep -q bash && shell=bash
	if out=$(cd "$ROOT" && shellcheck -s "$shell" -x -P "$(dirname "$f")" "$f" 2>&1); then
		ok "shellcheck -s $shell $f"
	else
		not_ok "shellcheck -s $shell $f"
		echo "$out" | sed 's/^/#   /'
	fi
done
finish
