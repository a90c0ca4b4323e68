#!/usr/bin/env bash
# exec/s of the in-process cargo-fuzz targets, from libFuzzer's own final stats.
#
# Usage: scripts/bench-fuzz-targets.sh [-t SECONDS] [-s SANITIZER] [-a] [TARGET...]
#   -t SECONDS    run time per target (default 20)
#   -s SANITIZER  address (what CI and `cargo fuzz run` use by default) or none
#                 (default none)
#   -a            keep debug assertions and overflow checks (cargo-fuzz's default build);
#                 without it the build is `-O`: release, no debug assertions
#                 (CI's smoke build is `-s address -a`)
#   TARGET        default: every in-process target (the server_* targets drive a
#                 process and are not benchmarked here)
#
# Each target runs alone (one at a time, one worker) on a fresh, empty writable corpus
# plus its read-only seeds in corpus/<target>/, with the flags of corpus/<target>.options.
# The writable corpus lives on tmpfs (/dev/shm) when there is one: a short run from
# scratch adds thousands of units, and creating their files on a busy ext4 /tmp cost up
# to half the run, which measured the disk rather than the target.
# Builds go to fuzz/target/bench-<sanitizer>[-a], so they neither clobber nor are
# clobbered by `cargo fuzz run`'s default build.
# exec/s = stat::number_of_executed_units / the seconds libFuzzer reports in its
# "Done N runs in S second(s)" line. This is a benchmark, not a test: it asserts nothing.
# On a shared machine repeat it and expect ±30 %.
set -euo pipefail
cd "$(dirname "$0")/../fuzz"

secs=20
sanitizer=none
build=(-O)
while getopts "t:s:a" opt; do
  case "$opt" in
    t) secs="$OPTARG" ;;
    s) sanitizer="$OPTARG" ;;
    a) build=() ;;
    *) sed -n '2,14p' "$0"; exit 2 ;;
  esac
done
shift $((OPTIND - 1))
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
  targets=(ndjson_decoder sse_decoder http_response_decoder jsonrpc_message validate
    reproducer fixture_session)
fi

flags_of() {
  local options="../corpus/$1.options"
  [ -f "$options" ] || return 0
  sed -n 's/^\([a-z_]*\) *= *\(.*\)$/-\1=\2/p' "$options"
}

dir="target/bench-$sanitizer"
[ ${#build[@]} -eq 0 ] && dir="$dir-a"
build+=(--target-dir "$dir")
scratch_root=/tmp
[ -d /dev/shm ] && [ -w /dev/shm ] && scratch_root=/dev/shm

for t in "${targets[@]}"; do
  cargo +nightly fuzz build "${build[@]}" -s "$sanitizer" "$t" 2>&1 | grep -E '^(error|warning: unused)' || true
done

printf '%-24s %12s %8s %12s  %s\n' target executions seconds exec/s flags
for t in "${targets[@]}"; do
  scratch=$(mktemp -d "$scratch_root/bench-fuzz.XXXXXX")
  mapfile -t flags < <(flags_of "$t")
  log="$scratch/log"
  cargo +nightly fuzz run "${build[@]}" -s "$sanitizer" "$t" "$scratch" "../corpus/$t" -- \
    -max_total_time="$secs" -print_final_stats=1 "${flags[@]}" >"$log" 2>&1 || {
    echo "$t: the run failed (last lines below)" >&2
    tail -n 20 "$log" >&2
    rm -rf "$scratch"
    continue
  }
  units=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")
  took=$(sed -n 's/^Done [0-9]* runs in \([0-9]*\) second.*/\1/p' "$log")
  if [ -n "$units" ] && [ -n "$took" ] && [ "$took" -gt 0 ]; then
    rate=$((units / took))
  else
    rate="?"
  fi
  printf '%-24s %12s %8s %12s  %s\n' "$t" "${units:-?}" "${took:-?}" "$rate" "${flags[*]}"
  rm -rf "$scratch"
done
