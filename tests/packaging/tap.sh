# Sourced by the packaging tests: "ok - ..." / "not ok - ..." lines, counted,
# and the verdict at the end.
# shellcheck shell=sh
# shellcheck disable=SC3043 # `local`: dash and busybox ash, which run these, have it
passed=0
failed=0
ok() {
	passed=$((passed + 1))
	echo "ok - $*"
}
not_ok() {
	failed=$((failed + 1))
	echo "not ok - $*"
}
# check DESCRIPTION COMMAND...: passes when COMMAND succeeds.
check() {
	local what="$1"
	shift
	if "$@"; then ok "$what"; else not_ok "$what"; fi
}
# need_tool TOOL HOW: without TOOL the test is skipped (exit 77), or fails
# under CI, where a skipped test counts as a failure.
need_tool() {
	command -v "$1" >/dev/null && return 0
	echo "$1 is not installed ($2)"
	[ "${CI:-}" = true ] && exit 1
	exit 77
}
# The last command of a test: prints the counts; its status is the verdict.
finish() {
	echo "$passed passed, $failed failed"
	[ "$failed" -eq 0 ] && [ "$passed" -gt 0 ]
}
