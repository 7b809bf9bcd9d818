#!/usr/bin/env bash
# Many Funcs at once: funcmesh as three processes (tron, runner, gateway) on
# RabbitMQ and on NATS, serving 1, 100 and 1,000 Funcs, each its own bundle,
# base path and queue (copies of the hello Func at /f1 ... /fN), with wrk's
# requests spread uniformly over them (bench/many.lua). For each bus and
# count it prints requests/s, p50, p99, the throughput against one Func's on
# the same bus (target >= 0.8 at 100), and the tron's and the runner's
# resident memory after the load. The last line is a JSON summary. Ratios,
# not absolute figures, are what to compare: the machines are shared and
# noisy.
#
#   bench/many.sh                         # 8 s per scenario, wrk -t2 -c64
#   FUNCS="1 100" BUSES=nats DURATION=20s bench/many.sh
#   RUNNER_CONCURRENCY=32 bench/many.sh
#
# Every count runs under a namespace of its own, deleted after it. Starting
# a mesh with 1,000 Funcs declares 1,000 queues; READY_SECONDS (default 600)
# bounds the wait for every Func to answer. On 2 cores, 1,000 quorum queues
# are about what RabbitMQ takes: once, deleting them stalled the broker (see
# bench/README.md); run this on a broker of its own.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/setup.sh
. bench/lib.sh

DURATION=${DURATION:-8s}
CONNECTIONS=${CONNECTIONS:-64}
THREADS=${THREADS:-2}
BASE_PORT=${BASE_PORT:-18490}
FUNCS=${FUNCS:-1 100 1000}
BUSES=${BUSES:-amqp nats}
RUNNER_CONCURRENCY=${RUNNER_CONCURRENCY:-$CONNECTIONS}
READY_SECONDS=${READY_SECONDS:-600}
URL_PATH="/f1/greet?name=Ada"
AMQP="amqp://guest:guest@127.0.0.1:5672/%2f"
NATS="nats://127.0.0.1:4222"

ensure_command wrk wrk
ensure_command curl curl
ensure_wasm_target
for bus in $BUSES; do
  case $bus in
    amqp) ensure_rabbitmq ;;
    nats) ensure_nats ;;
    *) echo "bench: unknown bus '$bus' in BUSES (amqp or nats)" >&2; exit 2 ;;
  esac
done

cargo build --release --locked -p funcmesh -p funcmesh-bench --bins >&2
RELEASE=${CARGO_TARGET_DIR:-target}/release
# The hello Func's module, built where and as the tron builds it.
(cd swagger-examples && env -u CARGO_TARGET_DIR cargo build --release --locked \
  --target wasm32-wasip1 -p hello >&2)
WASM=${FUNCMESH_CARGO_TARGET_DIR:-swagger-examples/target}/wasm32-wasip1/release/hello.wasm

# make_funcs N DIR: N bundles under DIR, f1 ... fN, each the hello Func with
# its own base path /fI (so its own hash and queue); the module is one file,
# linked where it can be.
make_funcs() {
  local n=$1 dir=$2 i
  for i in $(seq 1 "$n"); do
    mkdir -p "$dir/f$i"
    sed "s|^  - url: /hello\$|  - url: /f$i|" swagger-examples/hello/openapi.yaml >"$dir/f$i/openapi.yaml"
    grep -q "url: /f$i\$" "$dir/f$i/openapi.yaml" ||
      { echo "bench: swagger-examples/hello/openapi.yaml has no '- url: /hello' server" >&2; exit 1; }
    cp swagger-examples/hello/funcmesh.toml "$dir/f$i/"
    ln "$WASM" "$dir/f$i/hello.wasm" 2>/dev/null || cp "$WASM" "$dir/f$i/hello.wasm"
  done
}

# What a count leaves on the broker: its namespace's queues (or streams)
# and exchanges.
CURRENT_NS="" CURRENT_SERVER="" CURRENT_CEILING=""
delete_current() {
  if [ -n "$CURRENT_NS" ]; then
    "$CURRENT_CEILING" --delete-namespace "$CURRENT_NS" "$CURRENT_SERVER" >/dev/null 2>&1 || true
  fi
  CURRENT_NS=""
}
cleanup() { stop_all; delete_current; rm -rf "$BENCH_TMP"; }
trap_exit cleanup

WRK_SCRIPT=bench/many.lua
RESULTS=()
SUMMARY=""
for bus in $BUSES; do
  case $bus in
    amqp) CURRENT_SERVER=$AMQP CURRENT_CEILING=$RELEASE/amqp_ceiling label=RabbitMQ ;;
    nats) CURRENT_SERVER=$NATS CURRENT_CEILING=$RELEASE/nats_ceiling label=NATS ;;
  esac
  one=""
  for n in $FUNCS; do
    dir=$BENCH_TMP/funcs-$n
    [ -d "$dir" ] || make_funcs "$n" "$dir"
    CURRENT_NS="fmmany$(od -An -N4 -tx4 /dev/urandom | tr -d ' ')"
    listen="127.0.0.1:$((BASE_PORT + 1))"
    echo "bench: $n Funcs on $label" >&2
    start_cluster "$CURRENT_SERVER?namespace=$CURRENT_NS" "$listen" "127.0.0.1:$((BASE_PORT + 2))" \
      "$dir" "$RUNNER_CONCURRENCY" || exit 1
    # Every Func answers before the load starts.
    for i in $(seq 1 "$n"); do
      wait_ready "http://$listen/f$i/greet?name=Ada" "$READY_SECONDS" || exit 1
    done
    WRK_SCRIPT_ARGS=$n
    run "$n Funcs on $label" "http://$listen/"
    tron_mb=$(rss_mb "${pids[-3]}") runner_mb=$(rss_mb "${pids[-2]}")
    stop "${pids[@]: -3}"
    delete_current
    [ -n "$one" ] || one=$RPS
    vs_one=$(ratio3 "$RPS" "$one")
    RESULTS+=("$(printf '%-10s %6d %12.0f %10d %10d %8s %10s %12s' "$label" "$n" "$RPS" "$P50" "$P99" \
      "$vs_one" "$tron_mb" "$runner_mb")")
    SUMMARY+="${SUMMARY:+,}$(printf '{"bus":"%s","funcs":%d,"rps":%.0f,"p50_us":%d,"p99_us":%d,"vs_first":%s,"tron_rss_mb":%s,"runner_rss_mb":%s}' \
      "$bus" "$n" "$RPS" "$P50" "$P99" "$vs_one" "$tron_mb" "$runner_mb")"
  done
done

echo
printf '%-10s %6s %12s %10s %10s %8s %10s %12s\n' bus funcs rps p50_us p99_us vs_first tron_mb runner_mb
printf '%s\n' "${RESULTS[@]}"
echo
echo "vs_first: throughput against the first count on the same bus (FUNCS=\"$FUNCS\"; target >= 0.8 at 100 against 1)"
echo "(wrk -t$THREADS -c$CONNECTIONS -d$DURATION on $(nproc) cores, spread uniformly over the Funcs; runner concurrency $RUNNER_CONCURRENCY)"
printf '{"scenario":"many","results":[%s]}\n' "$SUMMARY"
