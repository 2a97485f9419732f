#!/bin/sh
# inquiry_bench.sh BUILD_DIR: pharmdesk's inquiry endpoint against a baseline, in one run.
#
# The baseline is bench/echo_server.c: libmicrohttpd with the same daemon options and thread
# count, echoing the JSON body. Both get the same load from wrk: POST of the availability
# question "Haben Sie Ibuprofen 400 vorrätig?" (bench/inquiry.lua), 256 keep-alive connections,
# 2 wrk threads, PD_BENCH_DURATION (60s) after a PD_BENCH_WARMUP (10s) warm-up. pharmdesk runs
# on a fresh data folder with the demo catalog, rate limits off, log_level warn, the connection
# limits raised for 256 connections from one address; every inquiry passes the guard, searches
# the catalog and appends a durable audit entry (synchronous=FULL) before it is answered.
#
# Passes when: no non-2xx responses and no socket errors for pharmdesk, its RSS after
# the run within 10 % of its RSS after the warm-up, and pharmdesk reaches at least half the
# baseline's requests/s. Prints a table and writes it to bench/inquiry_results.txt.
# Environment: PD_BENCH_DURATION (60s), PD_BENCH_WARMUP (10s), PD_BENCH_CONNECTIONS (256),
# PD_BENCH_THREADS (server threads, 4 as pharmdesk's default).
set -eu

build="${1:?usage: inquiry_bench.sh BUILD_DIR}"
here="$(cd "$(dirname "$0")" && pwd)"
repo="$(cd "$here/.." && pwd)"
duration="${PD_BENCH_DURATION:-60s}"
warmup="${PD_BENCH_WARMUP:-10s}"
halfwarm="$(( ${warmup%s} / 2 > 0 ? ${warmup%s} / 2 : 1 ))s"
conns="${PD_BENCH_CONNECTIONS:-256}"
threads="${PD_BENCH_THREADS:-4}"
out="$here/inquiry_results.txt"
for b in pharmdesk echo_server; do
    [ -x "$build/$b" ] || { echo "inquiry_bench: no $build/$b; build first (make build)" >&2; exit 2; }
done
command -v wrk >/dev/null 2>&1 || { echo "inquiry_bench: wrk is missing (apt-get install wrk)" >&2; exit 2; }

work="$(mktemp -d "${TMPDIR:-/tmp}/pd-inquiry-bench.XXXXXX")"
pids=""
cleanup() {
    for p in $pids; do kill -KILL "$p" 2>/dev/null || true; done
    rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

rss_kib() { awk '/^VmRSS:/ { print $2 }' "/proc/$1/status"; }
# CPU time (user + system) of a process in clock ticks
cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }
hz="$(getconf CLK_TCK)"

wait_up() { # PORT PID
    i=0
    while [ $i -lt 300 ]; do
        python3 -c 'import socket,sys; socket.create_connection(("127.0.0.1", int(sys.argv[1])), 1).close()' "$1" 2>/dev/null && return 0
        kill -0 "$2" 2>/dev/null || return 1
        sleep 0.1
        i=$((i + 1))
    done
    return 1
}

# wrk NAME URL DURATION -> one line "name rps p50 p75 p90 p99 non2xx errors" appended to results
results="$work/results.txt"
: >"$results"
run_wrk() {
    wrk -t2 -c"$conns" -d"$3" --timeout 5s --latency -s "$here/inquiry.lua" "$2" \
        >"$work/$1.wrk" 2>&1 || { cat "$work/$1.wrk" >&2; echo "inquiry_bench: wrk failed" >&2; exit 1; }
    awk -v name="$1" -f "$here/wrk_summary.awk" "$work/$1.wrk" >>"$results"
}

free_port() {
    python3 -c 'import socket
s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}

# --- the baseline
port="$(free_port)"
"$build/echo_server" "$port" "$threads" >"$work/echo.out" 2>"$work/echo.err" &
epid=$!
pids="$epid"
wait_up "$port" "$epid" || { cat "$work/echo.err" >&2; exit 1; }
run_wrk echo_warmup "http://127.0.0.1:$port/" "$warmup"
c0="$(cpu_ticks "$epid")"
run_wrk echo "http://127.0.0.1:$port/" "$duration"
echo "echo $(($(cpu_ticks "$epid") - c0))" >"$work/cpu.txt"
kill -TERM "$epid"
wait "$epid" 2>/dev/null || true

# --- pharmdesk
"$build/pharmdesk" init --data "$work/data" >/dev/null 2>"$work/init.err" &&
    "$build/pharmdesk" import-catalog "$repo/catalog/demo/catalog.csv" --data "$work/data" \
        >/dev/null 2>>"$work/init.err" || { cat "$work/init.err" >&2; exit 1; }
cat >"$work/config.json" <<EOF
{
    "threads": $threads,
    "log_level": "warn",
    "rate_limit": {"inquiries_per_minute": 0, "searches_per_minute": 0},
    "http": {"max_connections": 1024, "per_ip_connections": 1024}
}
EOF
"$build/pharmdesk" serve --listen 127.0.0.1:0 --data "$work/data" --config "$work/config.json" \
    >"$work/pd.out" 2>"$work/pd.err" &
ppid=$!
pids="$pids $ppid"
i=0
while ! grep -q "serving on" "$work/pd.out" 2>/dev/null; do
    kill -0 "$ppid" 2>/dev/null || { cat "$work/pd.err" >&2; exit 1; }
    [ $i -lt 300 ] || { echo "inquiry_bench: pharmdesk did not start" >&2; exit 1; }
    sleep 0.1
    i=$((i + 1))
done
pport="$(sed -n 's/.*:\([0-9]*\) (Ctrl-C.*/\1/p' "$work/pd.out")"
# the warm-up in two waves of 256 connections: the first reconnect settles the allocator (the
# second wave's pools and buffers land where the first's were freed; measured once +1-3 MiB,
# then flat over six waves), so RSS after it is the steady state the run is compared with
run_wrk pd_warmup "http://127.0.0.1:$pport/api/v1/inquiries" "$halfwarm"
run_wrk pd_warmup2 "http://127.0.0.1:$pport/api/v1/inquiries" "$halfwarm"
rss_warm="$(rss_kib "$ppid")"
c0="$(cpu_ticks "$ppid")"
run_wrk pharmdesk "http://127.0.0.1:$pport/api/v1/inquiries" "$duration"
echo "pharmdesk $(($(cpu_ticks "$ppid") - c0))" >>"$work/cpu.txt"
rss_after="$(rss_kib "$ppid")"
warnings="$(grep -c "level=\(warn\|error\)" "$work/pd.err" || true)"
kill -TERM "$ppid"
set +e
wait "$ppid"
rc=$?
set -e
pids="$epid"
"$build/pharmdesk" audit-verify --data "$work/data" >"$work/verify.txt" 2>&1 || {
    cat "$work/verify.txt" >&2
    echo "inquiry_bench: audit-verify failed" >&2
    exit 1
}

{
    echo "== pharmdesk inquiry_bench, $(date -u +%Y-%m-%dT%H:%M:%SZ) =="
    cpu="$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo 2>/dev/null | head -n 1)"
    rev="$(git -C "$repo" rev-parse --short HEAD 2>/dev/null || echo "no commit")"
    echo "machine    $(nproc) cores, ${cpu:-unknown CPU}, $(uname -sr); revision $rev"
    echo "load       $(cut -d' ' -f1-3 /proc/loadavg) (1/5/15 min) at the end"
    echo "command    wrk -t2 -c$conns -d$duration --timeout 5s --latency -s bench/inquiry.lua URL"
    echo "           (after a $warmup warm-up, pharmdesk's in two waves of connections; server threads $threads; wrk shares the cores)"
    # CPU µs per request: the server's own CPU time over the requests wrk counted; unlike
    # requests/s it hardly moves with other load on the machine
    awk -v rw="$rss_warm" -v ra="$rss_after" -v hz="$hz" -v secs="${duration%s}" '
        FILENAME ~ /cpu.txt$/ { ticks[$1] = $2; next }
        { rps[$1] = $2; p50[$1] = $3; p99[$1] = $6; bad[$1] = $7; err[$1] = $8 }
        END {
            for (k in ticks) cpu[k] = ticks[k] * 1e6 / hz / (rps[k] * secs)
            printf "%-34s %10s %8s %8s %8s %7s %12s\n", "server", "req/s", "p50 ms", "p99 ms", "non-2xx", "errors", "CPU us/req"
            printf "%-34s %10.0f %8.2f %8.2f %8d %7d %12.1f\n", "echo_server (baseline)", rps["echo"], p50["echo"], p99["echo"], bad["echo"], err["echo"], cpu["echo"]
            printf "%-34s %10.0f %8.2f %8.2f %8d %7d %12.1f\n", "pharmdesk POST /api/v1/inquiries", rps["pharmdesk"], p50["pharmdesk"], p99["pharmdesk"], bad["pharmdesk"], err["pharmdesk"], cpu["pharmdesk"]
            printf "ratio      pharmdesk/baseline req/s %.2f (goal >= 0.50)\n", rps["pharmdesk"] / rps["echo"]
            printf "memory     pharmdesk RSS %d KiB after warm-up, %d KiB after the run (%+.1f %%, limit 10 %%)\n", rw, ra, (ra - rw) * 100.0 / rw
        }' "$work/cpu.txt" "$results"
    echo "audit      $(head -n 1 "$work/verify.txt")"
    echo "shutdown   SIGTERM -> exit code $rc; $warnings warnings or errors in the server's log"
} >"$work/table.txt"
cat "$work/table.txt"
{
    cat "$work/table.txt"
    for r in echo pharmdesk; do
        echo
        echo "--- wrk output, $r"
        cat "$work/$r.wrk"
    done
} >"$out"

fail=0
awk '$1 == "pharmdesk" && ($7 > 0 || $8 > 0) { bad = 1 } END { exit bad }' "$results" || {
    echo "inquiry_bench: FAIL: some inquiries failed (non-2xx or socket errors)" >&2
    grep -v "^ts=" "$work/pd.err" | head -n 5 >&2 || true
    fail=1
}
awk -v rw="$rss_warm" -v ra="$rss_after" 'BEGIN { exit !(ra <= rw * 1.10) }' || {
    echo "inquiry_bench: FAIL: RSS grew by more than 10 % during the run" >&2
    fail=1
}
awk '{ rps[$1] = $2 } END { exit !(rps["pharmdesk"] >= 0.5 * rps["echo"]) }' "$results" || {
    echo "inquiry_bench: FAIL: pharmdesk below half the baseline's requests/s" >&2
    fail=1
}
[ "$rc" -eq 0 ] || { echo "inquiry_bench: FAIL: pharmdesk exited with $rc on SIGTERM" >&2; fail=1; }
exit $fail
