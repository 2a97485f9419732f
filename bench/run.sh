#!/bin/sh
# run.sh BUILD_DIR: the whole benchmark, as `make bench` runs it.
#
# Generates the synthetic 200,000-product catalog (cached between runs, regenerated when
# gen_catalog.py changes), runs search_bench (import, index build, queries against a linear-scan
# baseline), crypto_bench (the same workload on a plain and on an encrypted store, the plain one
# as the baseline) and http_bench.sh (wrk against the real server, health as the baseline),
# prints the results and writes them to bench/results.txt. Timing numbers depend on the machine
# and its load; compare the ratios, which are measured against a baseline in the same run.
#
# Environment: PD_BENCH_ROWS (200000), PD_BENCH_SEED (1), PD_BENCH_QUERIES (2000),
# PD_BENCH_BASELINE_QUERIES (400), PD_BENCH_CRYPTO_SEARCHES (10000), PD_BENCH_CRYPTO_WRITES
# (10000), PD_BENCH_CACHE (${TMPDIR:-/tmp}/pharmdesk-bench), PD_BENCH_DURATION (wrk duration,
# 10s).
set -eu

build="${1:?usage: bench/run.sh BUILD_DIR}"
here="$(cd "$(dirname "$0")" && pwd)"
rows="${PD_BENCH_ROWS:-200000}"
seed="${PD_BENCH_SEED:-1}"
queries="${PD_BENCH_QUERIES:-2000}"
baseline="${PD_BENCH_BASELINE_QUERIES:-400}"
crypto_searches="${PD_BENCH_CRYPTO_SEARCHES:-10000}"
crypto_writes="${PD_BENCH_CRYPTO_WRITES:-10000}"
cache="${PD_BENCH_CACHE:-${TMPDIR:-/tmp}/pharmdesk-bench}"
out="$here/results.txt"

for b in search_bench crypto_bench pharmdesk; do
    [ -x "$build/$b" ] || { echo "run.sh: no $build/$b; build first (make build)" >&2; exit 2; }
done

mkdir -p "$cache"
catalog="$cache/catalog-$rows-seed$seed.csv"
if [ ! -s "$catalog" ] || [ -n "$(find "$here/gen_catalog.py" -newer "$catalog")" ]; then
    echo "generating $rows products into $catalog ..." >&2
    python3 "$here/gen_catalog.py" "$rows" "$catalog" --seed "$seed"
fi

tmp="$(mktemp "${TMPDIR:-/tmp}/pd-bench-results.XXXXXX")"
trap 'rm -f "$tmp" "$tmp.out" "$tmp.err"' EXIT

{
    echo "== pharmdesk bench, $(date -u +%Y-%m-%dT%H:%M:%SZ) =="
    rev="$(git -C "$here/.." rev-parse --short HEAD 2>/dev/null || echo "no commit")"
    cpu="$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo 2>/dev/null | head -n 1)"
    echo "machine    $(nproc) cores, ${cpu:-unknown CPU}, $(uname -sr); revision $rev"
    echo "load       $(cut -d' ' -f1-3 /proc/loadavg) (1/5/15 min) before the run; other load skews timings"
    echo "catalog    $rows products, bench/gen_catalog.py --seed $seed"
    echo
} >"$tmp"
cat "$tmp"

# each tool writes to a file first, so that its exit code counts (sh has no pipefail)
echo "running search_bench ..." >&2
if ! "$build/search_bench" "$catalog" "$queries" "$baseline" >"$tmp.out" 2>"$tmp.err"; then
    cat "$tmp.out" "$tmp.err" >&2
    exit 1
fi
{ cat "$tmp.out"; echo; } | tee -a "$tmp"

echo "running crypto_bench (plain and encrypted store, about 45 s) ..." >&2
if ! "$build/crypto_bench" "$catalog" "$crypto_searches" "$crypto_writes" \
    >"$tmp.out" 2>"$tmp.err"; then
    cat "$tmp.out" "$tmp.err" >&2
    exit 1
fi
{ cat "$tmp.out"; echo; } | tee -a "$tmp"

echo "running http_bench.sh (about a minute) ..." >&2
if ! "$here/http_bench.sh" "$build" "$catalog" >"$tmp.out" 2>"$tmp.err"; then
    cat "$tmp.out" "$tmp.err" >&2
    exit 1
fi
tee -a "$tmp" <"$tmp.out"

cat "$tmp" >"$out" # a new file gets the usual mode, not mktemp's 0600
echo "results written to $out" >&2
