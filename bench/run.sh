#!/usr/bin/env bash
# The benchmark: in one run, with one load generator and the same settings,
#   (a) a bare hyper server returning the hello JSON (the baseline),
#   (b) `funcmesh dev swagger-examples` serving `hello` (gateway routes straight
#       to the Func queue: gateway -> Func queue -> runner -> reply queue),
#   (c) the same with every request through the firehose and the tron,
#   (d) `funcmesh dev bench/fixtures/hello-py`: the same function in Python
#       (direct routing), for the Python/WebAssembly ratio,
#   (e) the cost of capture: (b) without capture and (b) capturing every
#       exchange of hello (`--capture hello`, rate 1.0), side by side and
#       loaded in turn CAPTURE_ROUNDS (8) times for CAPTURE_DURATION (3s)
#       each, since one run of either differs from the next by more than
#       capture costs; the mean throughput and p99 of the two, and how many
#       exchanges the writer wrote and dropped,
#   (f) the cost of metrics: (b) without and with `--metrics` (scraped
#       every second), alternated in rounds as (e),
#   (g) the cost of traces: (b) without traces and (b) exporting every
#       request's spans over OTLP to a receiver on this host (`otlp_sink`),
#       alternated as (e); then (b) without traces and (b) keeping one trace
#       in a hundred (`parentbased_traceidratio`, 0.01), alternated,
# then prints requests/s, p50, p99 and the ratios against (a). The last line
# is a JSON summary. Ratios, not absolute figures, are what to compare: the
# machines are shared and noisy.
#
#   bench/run.sh                 # 10 s per scenario, wrk -t2 -c64
#   DURATION=30s CONNECTIONS=128 bench/run.sh
#   MICRO=1 bench/run.sh          # also the criterion bench of one wasm instantiate+call
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/setup.sh
. bench/lib.sh

DURATION=${DURATION:-10s}
CONNECTIONS=${CONNECTIONS:-64}
THREADS=${THREADS:-2}
BASE_PORT=${BASE_PORT:-18090}
URL_PATH="/hello/greet?name=Ada"

ensure_command wrk wrk
ensure_command curl curl
ensure_wasm_target
cargo build --release --locked -p funcmesh -p funcmesh-bench --bins >&2
RELEASE=${CARGO_TARGET_DIR:-target}/release

trap_exit

# (a) baseline
"$RELEASE"/bare-hyper "127.0.0.1:$BASE_PORT" 2>/dev/null & pids+=($!)
wait_ready "http://127.0.0.1:$BASE_PORT$URL_PATH" 10
run "bare hyper" "http://127.0.0.1:$BASE_PORT$URL_PATH"
B_RPS=$RPS B_P50=$P50 B_P99=$P99
stop "${pids[-1]}"

# (b) the mesh, direct routing
FUNCMESH_LOG=warn "$RELEASE"/funcmesh dev swagger-examples --listen "127.0.0.1:$((BASE_PORT + 1))" & pids+=($!)
wait_ready "http://127.0.0.1:$((BASE_PORT + 1))$URL_PATH" 600
run "funcmesh dev (direct)" "http://127.0.0.1:$((BASE_PORT + 1))$URL_PATH"
M_RPS=$RPS M_P50=$P50 M_P99=$P99
stop "${pids[-1]}"

# (c) the mesh, every request through the firehose and the tron
FUNCMESH_LOG=warn "$RELEASE"/funcmesh dev swagger-examples --no-direct-routing --listen "127.0.0.1:$((BASE_PORT + 2))" & pids+=($!)
wait_ready "http://127.0.0.1:$((BASE_PORT + 2))$URL_PATH" 600
run "funcmesh dev (firehose)" "http://127.0.0.1:$((BASE_PORT + 2))$URL_PATH"
F_RPS=$RPS F_P50=$P50 F_P99=$P99
stop "${pids[-1]}"

# (d) the same function in Python
PY_PATH="/hello-py/greet?name=Ada"
FUNCMESH_LOG=warn "$RELEASE"/funcmesh dev bench/fixtures/hello-py --listen "127.0.0.1:$((BASE_PORT + 3))" & pids+=($!)
wait_ready "http://127.0.0.1:$((BASE_PORT + 3))$PY_PATH" 60
run "funcmesh dev (Python)" "http://127.0.0.1:$((BASE_PORT + 3))$PY_PATH"
P_RPS=$RPS P_P50=$P50 P_P99=$P99
stop "${pids[-1]}"

# (e) the cost of capture: two meshes side by side, one capturing every
# exchange of hello, loaded in turn so that drifting load on the machine
# falls on both; the figures are the means of the rounds.
CAPTURE_DIR="$BENCH_TMP/capture"
FUNCMESH_LOG=warn "$RELEASE"/funcmesh dev swagger-examples --listen "127.0.0.1:$((BASE_PORT + 4))" & pids+=($!)
OFF_PID=${pids[-1]}
# Only the line with the capture counters is logged beyond warnings: INFO
# would turn the gateway's request spans on, which the other mesh does not pay.
FUNCMESH_LOG=warn,funcmesh::capture=info "$RELEASE"/funcmesh dev swagger-examples --listen "127.0.0.1:$((BASE_PORT + 5))" \
  --capture-dir "$CAPTURE_DIR" --capture hello >"$BENCH_TMP/capture.log" 2>&1 & pids+=($!)
ON_PID=${pids[-1]}
wait_ready "http://127.0.0.1:$((BASE_PORT + 4))$URL_PATH" 600
wait_ready "http://127.0.0.1:$((BASE_PORT + 5))$URL_PATH" 600
ROUNDS=${CAPTURE_ROUNDS:-8}
CAPTURE_DURATION=${CAPTURE_DURATION:-3s}
alternate "$ROUNDS" "$CAPTURE_DURATION" \
  "capture off" "http://127.0.0.1:$((BASE_PORT + 4))$URL_PATH" \
  "capture 1.0" "http://127.0.0.1:$((BASE_PORT + 5))$URL_PATH"
O_RPS=$ALT_A_RPS O_P99=$ALT_A_P99 C_RPS=$ALT_B_RPS C_P99=$ALT_B_P99
stop "$OFF_PID" "$ON_PID"
# The mesh logs its capture counters as it stops: "capture stats written=N dropped=N".
capture_stat() { sed 's/\x1b\[[0-9;]*m//g' "$BENCH_TMP/capture.log" | grep 'capture stats' | grep -o "$1=[0-9]*" | cut -d= -f2; }
C_WRITTEN=$(capture_stat written) C_DROPPED=$(capture_stat dropped)
C_LINES=$(cat "$CAPTURE_DIR"/hello*.jsonl | wc -l)

# (f) the cost of metrics: (b) without --metrics and (b) serving them,
# scraped every second as Prometheus would, alternated as (e).
METRICS_ADDR="127.0.0.1:$((BASE_PORT + 8))"
FUNCMESH_LOG=warn "$RELEASE"/funcmesh dev swagger-examples --listen "127.0.0.1:$((BASE_PORT + 6))" & pids+=($!)
PLAIN_PID=${pids[-1]}
FUNCMESH_LOG=warn "$RELEASE"/funcmesh dev swagger-examples --listen "127.0.0.1:$((BASE_PORT + 7))" --metrics "$METRICS_ADDR" & pids+=($!)
METRICS_PID=${pids[-1]}
wait_ready "http://127.0.0.1:$((BASE_PORT + 6))$URL_PATH" 600
wait_ready "http://127.0.0.1:$((BASE_PORT + 7))$URL_PATH" 600
(while curl -fsS -o /dev/null "http://$METRICS_ADDR/metrics"; do sleep 1; done) & pids+=($!)
SCRAPER_PID=${pids[-1]}
alternate "$ROUNDS" "$CAPTURE_DURATION" \
  "metrics off" "http://127.0.0.1:$((BASE_PORT + 6))$URL_PATH" \
  "metrics on" "http://127.0.0.1:$((BASE_PORT + 7))$URL_PATH"
MO_RPS=$ALT_A_RPS MO_P99=$ALT_A_P99 MM_RPS=$ALT_B_RPS MM_P99=$ALT_B_P99
stop "$SCRAPER_PID" "$PLAIN_PID" "$METRICS_PID"

# (g) the cost of traces: (b) without traces, (b) exporting every span to a
# receiver on this host, and (b) keeping one trace in a hundred; each traced
# mesh alternated with the untraced one as (e).
SINK_ADDR="127.0.0.1:$((BASE_PORT + 9))"
"$RELEASE"/otlp_sink "$SINK_ADDR" 2>/dev/null & pids+=($!)
SINK_PID=${pids[-1]}
FUNCMESH_LOG=warn "$RELEASE"/funcmesh dev swagger-examples --listen "127.0.0.1:$((BASE_PORT + 10))" & pids+=($!)
UNTRACED_PID=${pids[-1]}
OTEL_EXPORTER_OTLP_ENDPOINT="http://$SINK_ADDR" FUNCMESH_LOG=warn \
  "$RELEASE"/funcmesh dev swagger-examples --listen "127.0.0.1:$((BASE_PORT + 11))" & pids+=($!)
TRACED_PID=${pids[-1]}
OTEL_EXPORTER_OTLP_ENDPOINT="http://$SINK_ADDR" OTEL_TRACES_SAMPLER=parentbased_traceidratio OTEL_TRACES_SAMPLER_ARG=0.01 \
  FUNCMESH_LOG=warn "$RELEASE"/funcmesh dev swagger-examples --listen "127.0.0.1:$((BASE_PORT + 12))" & pids+=($!)
SAMPLED_PID=${pids[-1]}
for port in 10 11 12; do wait_ready "http://127.0.0.1:$((BASE_PORT + port))$URL_PATH" 600; done
alternate "$ROUNDS" "$CAPTURE_DURATION" \
  "traces off" "http://127.0.0.1:$((BASE_PORT + 10))$URL_PATH" \
  "traces, every request" "http://127.0.0.1:$((BASE_PORT + 11))$URL_PATH"
TO_RPS=$ALT_A_RPS TO_P99=$ALT_A_P99 TA_RPS=$ALT_B_RPS TA_P99=$ALT_B_P99
alternate "$ROUNDS" "$CAPTURE_DURATION" \
  "traces off" "http://127.0.0.1:$((BASE_PORT + 10))$URL_PATH" \
  "traces, 1 in 100" "http://127.0.0.1:$((BASE_PORT + 12))$URL_PATH"
TO2_RPS=$ALT_A_RPS TO2_P99=$ALT_A_P99 TS_RPS=$ALT_B_RPS TS_P99=$ALT_B_P99
stop "$UNTRACED_PID" "$TRACED_PID" "$SAMPLED_PID"
SINK_STATS=$(curl -fsS "http://$SINK_ADDR/stats")
stop "$SINK_PID"

echo
printf '%-26s %12s %10s %10s %8s %8s\n' scenario rps p50_us p99_us ratio p99x
printf '%-26s %12.0f %10d %10d %8s %8s\n' "bare hyper" "$B_RPS" "$B_P50" "$B_P99" 1.00 1.00
printf '%-26s %12.0f %10d %10d %8s %8s\n' "funcmesh dev (direct)" "$M_RPS" "$M_P50" "$M_P99" "$(ratio "$M_RPS" "$B_RPS")" "$(ratio "$M_P99" "$B_P99")"
printf '%-26s %12.0f %10d %10d %8s %8s\n' "funcmesh dev (firehose)" "$F_RPS" "$F_P50" "$F_P99" "$(ratio "$F_RPS" "$B_RPS")" "$(ratio "$F_P99" "$B_P99")"
printf '%-26s %12.0f %10d %10d %8s %8s\n' "funcmesh dev (Python)" "$P_RPS" "$P_P50" "$P_P99" "$(ratio "$P_RPS" "$B_RPS")" "$(ratio "$P_P99" "$B_P99")"
printf '%-26s %12.0f %10s %10d %8s %8s\n' "(e) capture off, mean" "$O_RPS" - "$O_P99" "$(ratio "$O_RPS" "$B_RPS")" "$(ratio "$O_P99" "$B_P99")"
printf '%-26s %12.0f %10s %10d %8s %8s\n' "(e) capture 1.0, mean" "$C_RPS" - "$C_P99" "$(ratio "$C_RPS" "$B_RPS")" "$(ratio "$C_P99" "$B_P99")"
printf '%-26s %12.0f %10s %10d %8s %8s\n' "(f) metrics off, mean" "$MO_RPS" - "$MO_P99" "$(ratio "$MO_RPS" "$B_RPS")" "$(ratio "$MO_P99" "$B_P99")"
printf '%-26s %12.0f %10s %10d %8s %8s\n' "(f) metrics on, mean" "$MM_RPS" - "$MM_P99" "$(ratio "$MM_RPS" "$B_RPS")" "$(ratio "$MM_P99" "$B_P99")"
printf '%-26s %12.0f %10s %10d %8s %8s\n' "(g) traces off, mean" "$TO_RPS" - "$TO_P99" "$(ratio "$TO_RPS" "$B_RPS")" "$(ratio "$TO_P99" "$B_P99")"
printf '%-26s %12.0f %10s %10d %8s %8s\n' "(g) traces all, mean" "$TA_RPS" - "$TA_P99" "$(ratio "$TA_RPS" "$B_RPS")" "$(ratio "$TA_P99" "$B_P99")"
printf '%-26s %12.0f %10s %10d %8s %8s\n' "(g) traces off, mean" "$TO2_RPS" - "$TO2_P99" "$(ratio "$TO2_RPS" "$B_RPS")" "$(ratio "$TO2_P99" "$B_P99")"
printf '%-26s %12.0f %10s %10d %8s %8s\n' "(g) traces 1/100, mean" "$TS_RPS" - "$TS_P99" "$(ratio "$TS_RPS" "$B_RPS")" "$(ratio "$TS_P99" "$B_P99")"
echo "Python / WebAssembly (direct): rps $(ratio "$P_RPS" "$M_RPS"), p99 $(ratio "$P_P99" "$M_P99")"
echo "capture 1.0 / capture off ($ROUNDS rounds of $CAPTURE_DURATION each, alternated): rps $(ratio3 "$C_RPS" "$O_RPS"), p99 $(ratio3 "$C_P99" "$O_P99"); records written $C_WRITTEN ($C_LINES lines), dropped $C_DROPPED"
echo "metrics on / metrics off ($ROUNDS rounds of $CAPTURE_DURATION each, alternated, scraped every 1 s): rps $(ratio3 "$MM_RPS" "$MO_RPS"), p99 $(ratio3 "$MM_P99" "$MO_P99")"
echo "traces of every request / traces off ($ROUNDS rounds of $CAPTURE_DURATION each, alternated): rps $(ratio3 "$TA_RPS" "$TO_RPS"), p99 $(ratio3 "$TA_P99" "$TO_P99")"
echo "traces of 1 in 100 / traces off (the same): rps $(ratio3 "$TS_RPS" "$TO2_RPS"), p99 $(ratio3 "$TS_P99" "$TO2_P99"); the receiver got $SINK_STATS"
echo "(wrk -t$THREADS -c$CONNECTIONS -d$DURATION on $(nproc) cores; ratio = rps / bare rps, p99x = p99 / bare p99)"

if [ "${MICRO:-0}" = 1 ]; then
  cargo bench --locked -p funcmesh-bench --bench instantiate >&2
fi

printf '{"scenario":"embedded","rps":%.0f,"p50_us":%d,"p99_us":%d,"baseline_rps":%.0f,"baseline_p50_us":%d,"baseline_p99_us":%d,"ratio":%s,"p99_ratio":%s,"firehose_rps":%.0f,"firehose_p99_us":%d,"firehose_ratio":%s,"python_rps":%.0f,"python_p99_us":%d,"python_ratio":%s,"python_wasm_ratio":%s,"capture_off_rps":%.0f,"capture_rps":%.0f,"capture_p99_us":%d,"capture_ratio":%s,"capture_written":%d,"capture_dropped":%d,"metrics_off_rps":%.0f,"metrics_rps":%.0f,"metrics_p99_us":%d,"metrics_ratio":%s,"traces_off_rps":%.0f,"traces_rps":%.0f,"traces_p99_us":%d,"traces_ratio":%s,"traces_sampled_rps":%.0f,"traces_sampled_p99_us":%d,"traces_sampled_ratio":%s}\n' \
  "$M_RPS" "$M_P50" "$M_P99" "$B_RPS" "$B_P50" "$B_P99" "$(ratio "$M_RPS" "$B_RPS")" "$(ratio "$M_P99" "$B_P99")" \
  "$F_RPS" "$F_P99" "$(ratio "$F_RPS" "$B_RPS")" \
  "$P_RPS" "$P_P99" "$(ratio "$P_RPS" "$B_RPS")" "$(ratio "$P_RPS" "$M_RPS")" \
  "$O_RPS" "$C_RPS" "$C_P99" "$(ratio3 "$C_RPS" "$O_RPS")" "$C_WRITTEN" "$C_DROPPED" \
  "$MO_RPS" "$MM_RPS" "$MM_P99" "$(ratio3 "$MM_RPS" "$MO_RPS")" \
  "$TO_RPS" "$TA_RPS" "$TA_P99" "$(ratio3 "$TA_RPS" "$TO_RPS")" "$TS_RPS" "$TS_P99" "$(ratio3 "$TS_RPS" "$TO2_RPS")"
