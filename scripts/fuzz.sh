#!/bin/sh
# Builds the libFuzzer harnesses (tests/fuzz) with clang into build-fuzz and
# runs each for SECONDS (default 30), all five at once. The seed corpus in
# tests/fuzz/corpus is copied to a scratch directory first: new inputs never
# land in the repository. Fails when a harness finds a crash, a leak, UB or
# a broken property; the input is left in build-fuzz/artifacts/.
#   scripts/fuzz.sh [SECONDS]
# CMAKE_FLAGS (e.g. -DMPCONV_WERROR=ON) is passed to cmake.
set -eu

seconds="${1:-30}"
root="$(cd "$(dirname "$0")/.." && pwd)"
build="$root/build-fuzz"
harnesses="socks5 http url config netlink"

CC=clang cmake -S "$root" -B "$build" -DMPCONV_FUZZ=ON -DMPCONV_TESTS=OFF ${CMAKE_FLAGS:-} >/dev/null
cmake --build "$build" --target fuzzers -j "$(nproc)"

scratch="$(mktemp -d /tmp/mpconv-fuzz-corpus-XXXXXX)"
trap 'rm -rf "$scratch"' EXIT INT TERM
mkdir -p "$build/artifacts"

for h in $harnesses; do
  mkdir -p "$scratch/$h"
  cp "$root/tests/fuzz/corpus/$h/"* "$scratch/$h/"
  dict=""
  [ -f "$root/tests/fuzz/$h.dict" ] && dict="-dict=$root/tests/fuzz/$h.dict"
  # -timeout: one input taking 10 s is a hang. No standard input in CI.
  "$build/tests/fuzz/fuzz_$h" -max_total_time="$seconds" -rss_limit_mb=2048 -timeout=10 \
    -print_final_stats=1 -artifact_prefix="$build/artifacts/$h-" $dict "$scratch/$h" \
    >"$scratch/$h.log" 2>&1 </dev/null &
  echo "$!" >"$scratch/$h.pid"
done

failed=""
for h in $harnesses; do
  if wait "$(cat "$scratch/$h.pid")"; then
    runs="$(sed -n 's/^stat::number_of_executed_units: *//p' "$scratch/$h.log")"
    rate="$(sed -n 's/^stat::average_exec_per_sec: *//p' "$scratch/$h.log")"
    echo "fuzz_$h: ok, ${runs:-?} runs, ${rate:-?} exec/s"
  else
    failed="$failed $h"
    echo "fuzz_$h: FAILED" >&2
    tail -n 60 "$scratch/$h.log" >&2
  fi
done
if [ -n "$failed" ]; then
  echo "fuzzing failed:$failed (inputs in $build/artifacts/; see tests/fuzz/README.md)" >&2
  exit 1
fi
