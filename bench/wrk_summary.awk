# wrk_summary.awk: one line from the output of `wrk --latency`, for bench/*.sh:
#   NAME REQ/S P50_MS P75_MS P90_MS P99_MS NON2XX SOCKET_ERRORS
# Usage: awk -v name=NAME -f bench/wrk_summary.awk WRK_OUTPUT
function ms(v) {
    if (v ~ /us$/) return v / 1000
    if (v ~ /ms$/) return v + 0
    if (v ~ /m$/) return v * 60000
    if (v ~ /s$/) return v * 1000
    return v
}
/^ +50%/ { p50 = ms($2) } /^ +75%/ { p75 = ms($2) }
/^ +90%/ { p90 = ms($2) } /^ +99%/ { p99 = ms($2) }
/Requests\/sec:/ { rps = $2 }
/Non-2xx or 3xx responses:/ { bad = $5 }
/Socket errors:/ { gsub(/,/, ""); err = $4 + $6 + $8 + $10 }
END { printf "%s %.1f %.3f %.3f %.3f %.3f %d %d\n", name, rps, p50, p75, p90, p99, bad, err }
