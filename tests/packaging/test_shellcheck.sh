#!/bin/sh
# Runs shellcheck over every shell script in packaging/ (OpenWrt init script and
# UCI library, container entrypoint and health check) and these tests:
# POSIX sh (-s sh) unless the script names bash in its #! line. Each disable
# inside the scripts carries its reason in a comment.
set -u
ROOT=$(cd "$(dirname "$0")/../.." && pwd)

if ! command -v shellcheck >/dev/null; then
	echo "shellcheck is not installed (scripts/install-deps.sh test installs it)"
	[ "${CI:-}" = true ] && exit 1
	exit 77
fi

passed=0
failed=0
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
		passed=$((passed + 1))
		echo "ok - shellcheck -s $shell $f"
	else
		failed=$((failed + 1))
		echo "not ok - shellcheck -s $shell $f"
		echo "$out" | sed 's/^/#   /'
	fi
done
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ] && [ "$passed" -gt 0 ]
