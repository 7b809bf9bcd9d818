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
OFF_RPS=0 ON_RPS=0 OFF_P99=0 ON_P99=0
ROUNDS=${CAPTURE_ROUNDS:-8}
CAPTURE_DURATION=${CAPTURE_DURATION:-3s}
SCENARIO_DURATION=$DURATION DURATION=$CAPTURE_DURATION
for round in $(seq 1 "$ROUNDS"); do
  run "capture off, round $round" "http://127.0.0.1:$((BASE_PORT + 4))$URL_PATH"
  OFF_RPS=$(awk -v a="$OFF_RPS" -v b="$RPS" 'BEGIN { print a + b }') OFF_P99=$((OFF_P99 + P99))
  run "capture 1.0, round $round" "http://127.0.0.1:$((BASE_PORT + 5))$URL_PATH"
  ON_RPS=$(awk -v a="$ON_RPS" -v b="$RPS" 'BEGIN { print a + b }') ON_P99=$((ON_P99 + P99))
done
DURATION=$SCENARIO_DURATION
C_RPS=$(awk -v a="$ON_RPS" -v n="$ROUNDS" 'BEGIN { print a / n }') C_P99=$((ON_P99 / ROUNDS))
O_RPS=$(awk -v a="$OFF_RPS" -v n="$ROUNDS" 'BEGIN { print a / n }') O_P99=$((OFF_P99 / ROUNDS))
stop "$OFF_PID" "$ON_PID"
# The mesh logs its capture counters as it stops: "capture stats written=N dropped=N".
capture_stat() { sed 's/\x1b\[[0-9;]*m//g' "$BENCH_TMP/capture.log" | grep 'capture stats' | grep -o "$1=[0-9]*" | cut -d= -f2; }
C_WRITTEN=$(capture_stat written) C_DROPPED=$(capture_stat dropped)
C_LINES=$(cat "$CAPTURE_DIR"/hello*.jsonl | wc -l)

echo
printf '%-26s %12s %10s %10s %8s %8s\n' scenario rps p50_us p99_us ratio p99x
printf '%-26s %12.0f %10d %10d %8s %8s\n' "bare hyper" "$B_RPS" "$B_P50" "$B_P99" 1.00 1.00
printf '%-26s %12.0f %10d %10d %8s %8s\n' "funcmesh dev (direct)" "$M_RPS" "$M_P50" "$M_P99" "$(ratio "$M_RPS" "$B_RPS")" "$(ratio "$M_P99" "$B_P99")"
printf '%-26s %12.0f %10d %10d %8s %8s\n' "funcmesh dev (firehose)" "$F_RPS" "$F_P50" "$F_P99" "$(ratio "$F_RPS" "$B_RPS")" "$(ratio "$F_P99" "$B_P99")"
printf '%-26s %12.0f %10d %10d %8s %8s\n' "funcmesh dev (Python)" "$P_RPS" "$P_P50" "$P_P99" "$(ratio "$P_RPS" "$B_RPS")" "$(ratio "$P_P99" "$B_P99")"
printf '%-26s %12.0f %10s %10d %8s %8s\n' "(e) capture off, mean" "$O_RPS" - "$O_P99" "$(ratio "$O_RPS" "$B_RPS")" "$(ratio "$O_P99" "$B_P99")"
printf '%-26s %12.0f %10s %10d %8s %8s\n' "(e) capture 1.0, mean" "$C_RPS" - "$C_P99" "$(ratio "$C_RPS" "$B_RPS")" "$(ratio "$C_P99" "$B_P99")"
echo "Python / WebAssembly (direct): rps $(ratio "$P_RPS" "$M_RPS"), p99 $(ratio "$P_P99" "$M_P99")"
echo "capture 1.0 / capture off ($ROUNDS rounds of $CAPTURE_DURATION each, alternated): rps $(ratio3 "$C_RPS" "$O_RPS"), p99 $(ratio3 "$C_P99" "$O_P99"); records written $C_WRITTEN ($C_LINES lines), dropped $C_DROPPED"
echo "(wrk -t$THREADS -c$CONNECTIONS -d$DURATION on $(nproc) cores; ratio = rps / bare rps, p99x = p99 / bare p99)"

if [ "${MICRO:-0}" = 1 ]; then
  cargo bench --locked -p funcmesh-bench --bench instantiate >&2
fi

printf '{"scenario":"embedded","rps":%.0f,"p50_us":%d,"p99_us":%d,"baseline_rps":%.0f,"baseline_p50_us":%d,"baseline_p99_us":%d,"ratio":%s,"p99_ratio":%s,"firehose_rps":%.0f,"firehose_p99_us":%d,"firehose_ratio":%s,"python_rps":%.0f,"python_p99_us":%d,"python_ratio":%s,"python_wasm_ratio":%s,"capture_off_rps":%.0f,"capture_rps":%.0f,"capture_p99_us":%d,"capture_ratio":%s,"capture_written":%d,"capture_dropped":%d}\n' \
  "$M_RPS" "$M_P50" "$M_P99" "$B_RPS" "$B_P50" "$B_P99" "$(ratio "$M_RPS" "$B_RPS")" "$(ratio "$M_P99" "$B_P99")" \
  "$F_RPS" "$F_P99" "$(ratio "$F_RPS" "$B_RPS")" \
  "$P_RPS" "$P_P99" "$(ratio "$P_RPS" "$B_RPS")" "$(ratio "$P_RPS" "$M_RPS")" \
  "$O_RPS" "$C_RPS" "$C_P99" "$(ratio3 "$C_RPS" "$O_RPS")" "$C_WRITTEN" "$C_DROPPED"
