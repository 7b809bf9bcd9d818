#!/usr/bin/env bash
# The RabbitMQ benchmark: in one run, on the local broker, with one load
# generator and the same settings (wrk on GET /hello/greet?name=Ada),
#   (a) the ceiling: `amqp_ceiling`, one hyper server that publishes each
#       request to a durable quorum queue (confirmed, persistent) and answers
#       from an echo consumer's confirmed reply, acked after the reply is out:
#       the broker round trip with the mesh's guarantees, nothing else;
#   (b) the same round trip as two processes, `amqp_ceiling --front` (the
#       hyper server) and `amqp_ceiling --echo` (the consumer that replies),
#       as a mesh request crosses two, the gateway's and the runner's;
#   (c) funcmesh as three processes (tron, runner, gateway) on the broker,
#       serving the swagger-examples bundles under a random namespace;
#   (d) the Nameko peer (bench/nameko): an HTTP service calling a greeter
#       service over AMQP RPC, from a virtualenv in bench/.venv;
# then prints requests/s, p50, p99 and the ratios that matter: funcmesh to
# the two-process ceiling (target >= 0.8), funcmesh to Nameko (target >= 25x), and p99
# funcmesh / p99 Nameko (target <= 1/20). The last line is a JSON summary.
# Ratios, not absolute figures, are what to compare: the machines are shared
# and noisy.
#
#   bench/amqp.sh                     # 8 s per scenario, wrk -t2 -c64
#   DURATION=30s CONNECTIONS=128 bench/amqp.sh
#   RUNNER_CONCURRENCY=32 bench/amqp.sh
#   NAMEKO_MAX_WORKERS=10 bench/amqp.sh   # Nameko's default; here it is CONNECTIONS
#   CEILING_PREFETCH=4 bench/amqp.sh      # the ceiling's window
#
# Every contender gets the same window of requests in flight, CONNECTIONS:
# the ceilings' consumer prefetch, the runner's concurrency (which is its
# prefetch) and Nameko's max_workers. Over a broker, the window decides the
# throughput: with 4 in flight each side is bound by round trips.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/setup.sh
. bench/lib.sh

DURATION=${DURATION:-8s}
CONNECTIONS=${CONNECTIONS:-64}
THREADS=${THREADS:-2}
BASE_PORT=${BASE_PORT:-18190}
BUNDLES=${BUNDLES:-swagger-examples}
NAMEKO_MAX_WORKERS=${NAMEKO_MAX_WORKERS:-$CONNECTIONS}
CEILING_PREFETCH=${CEILING_PREFETCH:-$CONNECTIONS}
RUNNER_CONCURRENCY=${RUNNER_CONCURRENCY:-$CONNECTIONS}
URL_PATH="/hello/greet?name=Ada"
BROKER="guest:guest@127.0.0.1:5672"
RUN_ID=$(od -An -N4 -tx4 /dev/urandom | tr -d ' ')
NAMESPACE="fmbench$RUN_ID"
CEILING_PREFIX="funcmesh-bench-$RUN_ID"
VENV=bench/.venv

ensure_command wrk wrk
ensure_command curl curl
ensure_wasm_target
ensure_rabbitmq

if [ ! -x "$VENV/bin/nameko" ] || [ bench/nameko/requirements.txt -nt "$VENV/.installed" ]; then
  echo "bench: installing Nameko into $VENV" >&2
  [ -x "$VENV/bin/python" ] || python3 -m venv "$VENV"
  "$VENV/bin/pip" install -q --disable-pip-version-check -r bench/nameko/requirements.txt >&2
  touch "$VENV/.installed"
fi

cargo build --release --locked -p funcmesh-bench --bin amqp_ceiling >&2
cargo build --release --locked >&2
RELEASE=${CARGO_TARGET_DIR:-target}/release

# What outlives the processes on the broker: the mesh's queues and
# exchanges (durable, under the run's namespace) and the ceilings' queues if
# they could not delete them, which `amqp_ceiling --delete-namespace` deletes
# (it lists queues with rabbitmqctl), and Nameko's queues (the greeter's has
# a fixed name, so it starts empty every run).
delete_leftovers() {
  local name queues=""
  for name in "$NAMESPACE" "$CEILING_PREFIX" "$CEILING_PREFIX-2"; do
    "$RELEASE/amqp_ceiling" --delete-namespace "$name" "amqp://$BROKER/%2f" 2>/dev/null || true
  done
  if command -v rabbitmqctl >/dev/null; then
    queues=$(rabbitmqctl list_queues -q --no-table-headers name 2>/dev/null |
      grep -E "^rpc(\.reply)?-funcmesh_bench_") || true
  fi
  # shellcheck disable=SC2086 # one queue name a word
  "$VENV/bin/python" bench/nameko/delete.py "amqp://$BROKER//" rpc-funcmesh_bench_greeter $queues \
    2>/dev/null || true
}
cleanup() { stop_all; delete_leftovers; rm -rf "$BENCH_TMP"; }
trap_exit cleanup

# (a) the ceiling
CEILING="http://127.0.0.1:$BASE_PORT$URL_PATH"
"$RELEASE/amqp_ceiling" "127.0.0.1:$BASE_PORT" "amqp://$BROKER/%2f" "$CEILING_PREFIX" \
  "$CEILING_PREFETCH" >"$BENCH_TMP/ceiling.log" 2>&1 &
started ceiling $! "$CEILING"
run "amqp ceiling" "$CEILING"
C_RPS=$RPS C_P50=$P50 C_P99=$P99
stop "${pids[-1]}"

# (b) the ceiling as two processes
two_process_ceiling "$RELEASE/amqp_ceiling" "amqp://$BROKER/%2f" "$CEILING_PREFIX-2" amqp \
  "$((BASE_PORT + 4))" || exit 1

# (c) funcmesh: tron, runner and gateway on the broker
MESH="http://127.0.0.1:$((BASE_PORT + 1))$URL_PATH"
BUS="amqp://$BROKER/%2f?namespace=$NAMESPACE"
ADMIN="127.0.0.1:$((BASE_PORT + 2))"
start_cluster "$BUS" "127.0.0.1:$((BASE_PORT + 1))" "$ADMIN" "$BUNDLES" "$RUNNER_CONCURRENCY" || exit 1
run "funcmesh on RabbitMQ" "$MESH"
M_RPS=$RPS M_P50=$P50 M_P99=$P99
stop "${pids[@]: -3}"

# (d) the Nameko peer, one process per service as `nameko run` deploys them
NAMEKO="http://127.0.0.1:$((BASE_PORT + 3))$URL_PATH"
export NAMEKO_AMQP_URI="amqp://$BROKER//" NAMEKO_LISTEN="127.0.0.1:$((BASE_PORT + 3))" NAMEKO_MAX_WORKERS
export PYTHONWARNINGS=ignore
(cd bench/nameko && exec ../.venv/bin/nameko run --config config.yaml greeter) >"$BENCH_TMP/greeter.log" 2>&1 & pids+=($!)
(cd bench/nameko && exec ../.venv/bin/nameko run --config config.yaml gateway) >"$BENCH_TMP/nameko.log" 2>&1 &
if ! started nameko $! "$NAMEKO"; then tail -n 20 "$BENCH_TMP/greeter.log" >&2; exit 1; fi
run "nameko" "$NAMEKO"
N_RPS=$RPS N_P50=$P50 N_P99=$P99
stop "${pids[@]: -2}"

p99_ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.3f", a / b }'; }
echo
printf '%-26s %12s %10s %10s\n' scenario rps p50_us p99_us
printf '%-26s %12.0f %10d %10d\n' "amqp ceiling, 1 process" "$C_RPS" "$C_P50" "$C_P99"
printf '%-26s %12.0f %10d %10d\n' "amqp ceiling, 2 processes" "$C2_RPS" "$C2_P50" "$C2_P99"
printf '%-26s %12.0f %10d %10d\n' "funcmesh on RabbitMQ" "$M_RPS" "$M_P50" "$M_P99"
printf '%-26s %12.0f %10d %10d\n' "nameko" "$N_RPS" "$N_P50" "$N_P99"
echo
echo "funcmesh / 1-process ceiling:   $(ratio "$M_RPS" "$C_RPS")"
echo "funcmesh / 2-process ceiling:   $(ratio "$M_RPS" "$C2_RPS")  (target >= 0.80)"
echo "funcmesh / Nameko throughput:   $(ratio "$M_RPS" "$N_RPS")  (target >= 25)"
echo "p99 funcmesh / p99 Nameko:      $(p99_ratio "$M_P99" "$N_P99")  (target <= 0.050)"
echo "(wrk -t$THREADS -c$CONNECTIONS -d$DURATION on $(nproc) cores, RabbitMQ on 127.0.0.1; Nameko max_workers=$NAMEKO_MAX_WORKERS)"

printf '{"scenario":"amqp","rps":%.0f,"p50_us":%d,"p99_us":%d,"ceiling_rps":%.0f,"ceiling_p50_us":%d,"ceiling_p99_us":%d,"ratio":%s,"ceiling2_rps":%.0f,"ceiling2_p50_us":%d,"ceiling2_p99_us":%d,"ratio2":%s,"nameko_rps":%.0f,"nameko_p50_us":%d,"nameko_p99_us":%d,"nameko_ratio":%s,"nameko_p99_ratio":%s}\n' \
  "$M_RPS" "$M_P50" "$M_P99" "$C_RPS" "$C_P50" "$C_P99" "$(ratio "$M_RPS" "$C_RPS")" \
  "$C2_RPS" "$C2_P50" "$C2_P99" "$(ratio "$M_RPS" "$C2_RPS")" \
  "$N_RPS" "$N_P50" "$N_P99" "$(ratio "$M_RPS" "$N_RPS")" "$(p99_ratio "$M_P99" "$N_P99")"
