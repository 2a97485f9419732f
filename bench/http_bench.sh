#!/bin/sh
# http_bench.sh BUILD_DIR [CATALOG.csv]
#
# Loads the real server with wrk on 127.0.0.1: a fresh data folder (pharmdesk init +
# import-catalog of the 200,000-product catalog, generated when no CATALOG is given), the rate
# limit off, then wrk -t2 -c32 -d10s against /api/v1/health (the baseline: HTTP stack and a
# database ping) and against product searches. Quotes searches as a ratio of the baseline's
# requests/s. Also times the first search after a re-import (the index is rebuilt then) and
# checks that the server stops with exit code 0 on SIGTERM. Needs wrk, python3; curl optional.
set -eu

build="${1:?usage: http_bench.sh BUILD_DIR [CATALOG.csv]}"
catalog="${2:-}"
here="$(cd "$(dirname "$0")" && pwd)"
bin="$build/pharmdesk"
duration="${PD_BENCH_DURATION:-10s}"
[ -x "$bin" ] || { echo "http_bench: no $bin; build first (make build)" >&2; exit 2; }
command -v wrk >/dev/null 2>&1 || { echo "http_bench: wrk is missing (apt-get install wrk)" >&2; exit 2; }

work="$(mktemp -d "${TMPDIR:-/tmp}/pd-http-bench.XXXXXX")"
pid=""
cleanup() {
    if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
        kill -KILL "$pid" 2>/dev/null || true
    fi
    rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# GET URL -> body on stdout; non-zero on failure or a non-2xx status
fetch() {
    if command -v curl >/dev/null 2>&1; then
        curl -fsS --max-time 5 "$1"
    else
        python3 -c 'import sys, urllib.request
sys.stdout.write(urllib.request.urlopen(sys.argv[1], timeout=5).read().decode())' "$1"
    fi
}

# how long one GET takes, in milliseconds ("12.3")
time_ms() {
    if command -v curl >/dev/null 2>&1; then
        curl -fsS -o /dev/null --max-time 60 -w '%{time_total}\n' "$1" |
            awk '{ printf "%.1f\n", $1 * 1000 }'
    else
        python3 -c 'import sys, time, urllib.request
t = time.monotonic(); urllib.request.urlopen(sys.argv[1], timeout=60).read()
print("%.1f" % ((time.monotonic() - t) * 1000))' "$1"
    fi
}

free_port() {
    python3 -c 'import socket
s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}

if [ -z "$catalog" ]; then
    python3 "$here/gen_catalog.py" 200000 "$work/catalog.csv"
    catalog="$work/catalog.csv"
fi
"$bin" init --data "$work/data" >/dev/null 2>"$work/init.err" || {
    cat "$work/init.err" >&2
    exit 1
}
"$bin" import-catalog "$catalog" --data "$work/data" >"$work/import.txt" 2>"$work/import.err" || {
    cat "$work/import.err" >&2
    exit 1
}
products="$(sed -n 's/^catalog import: \([0-9]*\) rows read.*/\1/p' "$work/import.txt")"
# the rate limit would answer 429 after 120 searches a minute; warn keeps one log line per
# request out of the measurement
cat >"$work/config.json" <<'EOF'
{
    "rate_limit": {"searches_per_minute": 0},
    "log_level": "warn"
}
EOF

# a free loopback port; retried when another process takes it first
port=""
for attempt in 1 2 3; do
    port="$(free_port)"
    "$bin" serve --listen "127.0.0.1:$port" --data "$work/data" --config "$work/config.json" \
        >"$work/server.out" 2>"$work/server.err" &
    pid=$!
    base="http://127.0.0.1:$port"
    up=0
    i=0
    while [ $i -lt 300 ]; do # 30 s for the start and the index build
        if fetch "$base/api/v1/health" >/dev/null 2>&1; then
            up=1
            break
        fi
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
        i=$((i + 1))
    done
    [ $up -eq 1 ] && break
    kill -KILL "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
    pid=""
    echo "http_bench: the server did not come up on port $port (attempt $attempt):" >&2
    tail -n 5 "$work/server.err" >&2
done
[ -n "$pid" ] || exit 1

fetch "$base/api/v1/products?q=Ibuprofen%20400" | grep -q '"pzn"' || {
    echo "http_bench: the search answers no products" >&2
    exit 1
}

# wrk NAME PATH -> one result line; the raw output is kept in $work/NAME.wrk
results="$work/results.txt"
: >"$results"
run_wrk() {
    timeout 60 wrk -t2 -c32 -d"$duration" --timeout 5s --latency "$base$2" >"$work/$1.wrk" 2>&1 || {
        cat "$work/$1.wrk" >&2
        echo "http_bench: wrk failed for $2" >&2
        exit 1
    }
    awk -v name="$1" -f "$here/wrk_summary.awk" "$work/$1.wrk" >>"$results"
}

run_wrk health "/api/v1/health"
run_wrk search "/api/v1/products?q=Ibuprofen%20400"
run_wrk typo "/api/v1/products?q=Ibuprofn%20400"
run_wrk question "/api/v1/products?q=Haben%20Sie%20Ibuprofen%20400%20vorr%C3%A4tig%3F"

# the daily import while serving: the first search afterwards rebuilds the index
"$bin" import-catalog "$catalog" --data "$work/data" >/dev/null 2>&1
sleep 1.2 # the catalog checks for a new import at most once a second
first_ms="$(time_ms "$base/api/v1/products?q=Ibuprofen%20400")"
next_ms="$(time_ms "$base/api/v1/products?q=Ibuprofen%20400")"

kill -TERM "$pid"
t0="$(date +%s%N)"
i=0
while kill -0 "$pid" 2>/dev/null && [ $i -lt 150 ]; do
    sleep 0.1
    i=$((i + 1))
done
if kill -0 "$pid" 2>/dev/null; then
    echo "http_bench: the server did not stop within 15 s of SIGTERM" >&2
    exit 1
fi
set +e
wait "$pid"
rc=$?
set -e
pid=""
stop_ms=$((($(date +%s%N) - t0) / 1000000))

echo "== pharmdesk http_bench =="
echo "server     pharmdesk serve on 127.0.0.1:$port, $products products, default threads, rate limit off, log_level warn"
echo "load       wrk -t2 -c32 -d$duration --latency (client and server share the machine's $(nproc) cores)"
awk '
    BEGIN { printf "%-40s %9s %8s %8s %8s %8s %7s %6s\n", "endpoint", "req/s", "p50 ms", "p75 ms",
            "p90 ms", "p99 ms", "non-2xx", "errors" }
    {
        label["health"] = "/api/v1/health (baseline)"
        label["search"] = "search \"Ibuprofen 400\""
        label["typo"] = "search \"Ibuprofn 400\" (typo)"
        label["question"] = "search \"Haben Sie Ibuprofen 400 vorrätig?\""
        printf "%-40s %9.0f %8.2f %8.2f %8.2f %8.2f %7d %6d\n", label[$1], $2, $3, $4, $5, $6, $7, $8
        rps[$1] = $2; p99[$1] = $6
    }
    END {
        printf "ratio      health/search req/s: \"Ibuprofen 400\" x%.1f, typo x%.1f, question x%.1f\n",
               rps["health"] / rps["search"], rps["health"] / rps["typo"], rps["health"] / rps["question"]
    }
' "$results"
echo "reindex    first search after a re-import: $first_ms ms, the next: $next_ms ms"
echo "shutdown   SIGTERM -> exit code $rc after $stop_ms ms"
if grep -q "level=error" "$work/server.err"; then
    echo "server errors:"
    grep "level=error" "$work/server.err" | head -n 5
fi
[ "$rc" -eq 0 ] || { echo "http_bench: the server exited with $rc, expected 0" >&2; exit 1; }
awk '$7 > 0 || $8 > 0 { bad = 1 } END { exit bad }' "$results" || {
    echo "http_bench: some requests failed (non-2xx or socket errors), see the table" >&2
    exit 1
}
