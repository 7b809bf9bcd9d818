#!/usr/bin/env bash
# Idle memory: the resident set (VmRSS) of each funcmesh process with the
# examples loaded and served once, after it has stood idle for a while:
#   (a) a cluster on the local RabbitMQ: the tron, the gateway and the
#       runner (and, apart, the runner's Python worker processes);
#   (b) `funcmesh dev swagger-examples`, the whole mesh in one process;
# then prints each in MB against its target (30 MB for a gateway and a
# tron, 64 MB for a runner). The last line is a JSON summary.
#
#   bench/rss.sh
#   IDLE=30 bench/rss.sh          # seconds idle before reading (default 10)
#   BUS=nats://127.0.0.1:4222 bench/rss.sh
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/setup.sh
. bench/lib.sh

IDLE=${IDLE:-10}
BASE_PORT=${BASE_PORT:-18290}
BUNDLES=${BUNDLES:-swagger-examples}
BUS=${BUS:-amqp://guest:guest@127.0.0.1:5672/%2f}
RUN_ID=$(od -An -N4 -tx4 /dev/urandom | tr -d ' ')
URL_PATH="/hello/greet?name=Ada"

ensure_command curl curl
ensure_wasm_target
case "$BUS" in
  amqp*) ensure_rabbitmq ;;
  nats*) ensure_nats ;;
esac
SERVER=${BUS%%\?*}
case "$BUS" in
  amqp*) CEILING=amqp_ceiling ;;
  nats*) CEILING=nats_ceiling ;;
  *) CEILING=kafka_ceiling SERVER=${SERVER#kafka://} ;;
esac
cargo build --release --locked -p funcmesh --bins -p funcmesh-bench --bin "$CEILING" >&2
RELEASE=${CARGO_TARGET_DIR:-target}/release
NAMESPACE="fmrss$RUN_ID"
# The cluster's queues (or streams, or topics) outlive it: the ceiling of
# the bus deletes its namespace.
cleanup() {
  stop_all
  "$RELEASE/$CEILING" --delete-namespace "$NAMESPACE" "$SERVER" >/dev/null 2>&1 || true
  rm -rf "$BENCH_TMP"
}
trap_exit cleanup

# touch_examples BASE_URL: one request to each example, so that each is
# installed and has run; an example that is not there (another BUNDLES)
# answers 404, which is fine here.
touch_examples() {
  curl -s -o /dev/null "$1/hello/greet?name=Ada" || true
  curl -s -o /dev/null -H 'Host: greeter.example.com' "$1/v2/health" || true
  curl -s -o /dev/null "$1/petstore/pets" || true
  curl -s -o /dev/null "$1/words/apple" || true
}

verdict() { # MB TARGET
  awk -v m="$1" -v t="$2" 'BEGIN { print (m <= t) ? "within" : "OVER" }'
}

# (a) the cluster
LISTEN="127.0.0.1:$BASE_PORT"
start_cluster "$BUS?namespace=$NAMESPACE" "$LISTEN" "127.0.0.1:$((BASE_PORT + 1))" \
  "$BUNDLES" 8 || exit 1
TRON_PID=${pids[-3]} RUNNER_PID=${pids[-2]} GATEWAY_PID=${pids[-1]}
touch_examples "http://$LISTEN"
sleep "$IDLE"
TRON_MB=$(rss_mb "$TRON_PID")
GATEWAY_MB=$(rss_mb "$GATEWAY_PID")
RUNNER_MB=$(rss_mb "$RUNNER_PID")
WORKERS=$(pgrep -P "$RUNNER_PID" | tr '\n' ' ' || true)
# shellcheck disable=SC2086 # a list of PIDs
WORKERS_MB=$(rss_mb $WORKERS)
WORKER_COUNT=$(echo "$WORKERS" | wc -w)
stop "${pids[@]: -3}"

# (b) the whole mesh in one process
DEV_LISTEN="127.0.0.1:$((BASE_PORT + 2))"
FUNCMESH_LOG=warn "$RELEASE"/funcmesh dev "$BUNDLES" --listen "$DEV_LISTEN" \
  >"$BENCH_TMP/dev.log" 2>&1 &
started dev $! "http://$DEV_LISTEN$URL_PATH"
DEV_PID=${pids[-1]}
touch_examples "http://$DEV_LISTEN"
sleep "$IDLE"
DEV_MB=$(rss_mb "$DEV_PID")
DEV_WORKERS=$(pgrep -P "$DEV_PID" | tr '\n' ' ' || true)
# shellcheck disable=SC2086 # a list of PIDs
DEV_WORKERS_MB=$(rss_mb $DEV_WORKERS)
stop "$DEV_PID"

echo
echo "idle resident memory (VmRSS), $IDLE s after one request to each example, bus $(echo "$BUS" | sed 's,//[^@]*@,//,')"
printf '%-34s %8s %8s  %s\n' "process" "MB" "target" ""
printf '%-34s %8s %8s  %s\n' "tron" "$TRON_MB" 30 "$(verdict "$TRON_MB" 30)"
printf '%-34s %8s %8s  %s\n' "gateway" "$GATEWAY_MB" 30 "$(verdict "$GATEWAY_MB" 30)"
printf '%-34s %8s %8s  %s\n' "runner" "$RUNNER_MB" 64 "$(verdict "$RUNNER_MB" 64)"
printf '%-34s %8s %8s\n' "runner's Python workers ($WORKER_COUNT)" "$WORKERS_MB" -
printf '%-34s %8s %8s\n' "funcmesh dev (one process)" "$DEV_MB" -
printf '%-34s %8s %8s\n' "funcmesh dev's Python workers" "$DEV_WORKERS_MB" -
printf '{"tron_mb":%s,"gateway_mb":%s,"runner_mb":%s,"python_workers_mb":%s,"python_workers":%s,"dev_mb":%s,"dev_python_workers_mb":%s}\n' \
  "$TRON_MB" "$GATEWAY_MB" "$RUNNER_MB" "$WORKERS_MB" "$WORKER_COUNT" "$DEV_MB" "$DEV_WORKERS_MB"
