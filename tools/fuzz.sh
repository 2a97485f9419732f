#!/bin/sh
# Builds the libFuzzer targets with clang and runs each for SECONDS on the committed seed
# corpus (copied, so the repository stays unchanged). A crash fails the run and leaves the
# reproducer in BUILD_DIR/artifacts. Usage: tools/fuzz.sh BUILD_DIR [SECONDS]
set -eu
src="$(cd "$(dirname "$0")/.." && pwd)"
build="${1:?usage: tools/fuzz.sh BUILD_DIR [SECONDS]}"
secs="${2:-10}"

cmake -S "$src" -B "$build" -DCMAKE_C_COMPILER=clang -DCMAKE_BUILD_TYPE=Debug -DPD_FUZZ=ON \
  >"$build.log" 2>&1 || { cat "$build.log"; exit 1; }
cmake --build "$build" -j2 >>"$build.log" 2>&1 || { tail -50 "$build.log"; exit 1; }
mkdir -p "$build/artifacts"
status=0
for f in "$build"/fuzz_*; do
  [ -x "$f" ] || continue
  name=$(basename "$f" | sed 's/^fuzz_//')
  work="$build/corpus/$name"
  mkdir -p "$work"
  [ -d "$src/fuzz/corpus/$name" ] && cp -r "$src/fuzz/corpus/$name/." "$work/"
  if "$f" -max_total_time="$secs" -max_len=4096 -artifact_prefix="$build/artifacts/$name-" \
       -print_final_stats=1 "$work" >"$build/$name.log" 2>&1; then
    echo "fuzz $name: ok ($secs s, $(grep -o 'stat::number_of_executed_units: [0-9]*' "$build/$name.log" | tail -1 | awk '{print $2}') runs)" 
  else
    echo "fuzz $name: FAILED, see $build/$name.log"; tail -30 "$build/$name.log"; status=1
  fi
done
exit $status
