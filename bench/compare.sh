#!/usr/bin/env bash
# Two builds of funcmesh side by side: the same scenarios, loaded in turn
# ROUNDS times in alternating order (so drifting load on a shared machine
# falls on both), and the mean requests/s and p99 of each build, with the
# ratio new / old.
#
#   bench/compare.sh OLD_BIN NEW_BIN
#
# OLD_BIN and NEW_BIN are two `funcmesh` release binaries, e.g. one built
# from the last release into another target directory:
#   git worktree add /tmp/old v1 && (cd /tmp/old && CARGO_TARGET_DIR=/tmp/old-target \
#     cargo build --release --locked -p funcmesh) && cp /tmp/old-target/release/funcmesh /tmp/funcmesh-old
#   cargo build --release --locked -p funcmesh
#   bench/compare.sh /tmp/funcmesh-old target/release/funcmesh
#
# Scenarios (SCENARIOS, space-separated, default all): `direct` and
# `firehose` (`funcmesh dev swagger-examples`, with and without direct
# routing), `amqp` and `nats` (tron, runner and gateway as three processes
# on the machine's RabbitMQ and NATS, as bench/amqp.sh and bench/nats.sh run
# them). Each round of each scenario is DURATION (default 5s) of
# `wrk -tTHREADS -cCONNECTIONS` after a 2 s warm-up.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/setup.sh
. bench/lib.sh

OLD=${1:?usage: bench/compare.sh OLD_BIN NEW_BIN}
NEW=${2:?usage: bench/compare.sh OLD_BIN NEW_BIN}
DURATION=${DURATION:-5s}
CONNECTIONS=${CONNECTIONS:-64}
THREADS=${THREADS:-2}
ROUNDS=${ROUNDS:-4}
BASE_PORT=${BASE_PORT:-18290}
SCENARIOS=${SCENARIOS:-direct firehose amqp nats}
URL_PATH="/hello/greet?name=Ada"
BUNDLES=swagger-examples

ensure_command wrk wrk
ensure_command curl curl
ensure_wasm_target
case " $SCENARIOS " in *" amqp "*) ensure_rabbitmq ;; esac
case " $SCENARIOS " in *" nats "*) ensure_nats ;; esac
trap_exit

# serve SCENARIO BIN PORT: starts BIN's mesh for SCENARIO answering on PORT.
serve() {
  local scenario=$1 bin=$2 port=$3 listen="127.0.0.1:$3"
  namespace="fmcompare$(od -An -N4 -tx4 /dev/urandom | tr -d ' ')"
  case $scenario in
    direct | firehose)
      local extra=()
      [ "$scenario" = firehose ] && extra=(--no-direct-routing)
      FUNCMESH_LOG=warn "$bin" dev "$BUNDLES" --listen "$listen" ${extra[@]+"${extra[@]}"} \
        >"$BENCH_TMP/$port.log" 2>&1 &
      started "$port" $! "http://$listen$URL_PATH"
      ;;
    amqp | nats)
      local bus="amqp://guest:guest@127.0.0.1:5672/%2f"
      [ "$scenario" = nats ] && bus="nats://127.0.0.1:4222"
      # start_cluster runs $RELEASE/funcmesh: a directory of this build's
      # own, whatever the binary is called.
      local dir="$BENCH_TMP/bin-$port"
      mkdir -p "$dir" && ln -sf "$(realpath "$bin")" "$dir/funcmesh"
      RELEASE=$dir start_cluster "$bus?namespace=$namespace" "$listen" \
        "127.0.0.1:$((port + 50))" "$BUNDLES" "$CONNECTIONS"
      ;;
  esac
}

# forget SCENARIO NAMESPACE: deletes what a cluster left on its broker
# (its durable queues, or its streams).
forget() {
  case $1 in
    amqp)
      local queue
      for queue in $(rabbitmqctl list_queues -q --no-table-headers name 2>/dev/null | grep "^$2\\."); do
        rabbitmqctl -q delete_queue "$queue" >/dev/null 2>&1 || true
      done
      ;;
    nats)
      local tool="${CARGO_TARGET_DIR:-target}/release/nats_ceiling"
      [ -x "$tool" ] || cargo build --release --locked -p funcmesh-bench --bin nats_ceiling >&2
      "$tool" --delete-namespace "$2" >/dev/null 2>&1 || true
      ;;
  esac
}

declare -A SUM_RPS SUM_P99
for scenario in $SCENARIOS; do
  for build in old new; do SUM_RPS[$scenario.$build]=0 SUM_P99[$scenario.$build]=0; done
done

port=$BASE_PORT
for scenario in $SCENARIOS; do
  for round in $(seq 1 "$ROUNDS"); do
    # Which build goes first alternates: a scenario's second run in a row
    # was seen to be slower whatever the build (the broker still busy with
    # the first one's leftovers).
    order="old new"
    [ $((round % 2)) = 0 ] && order="new old"
    for build in $order; do
      bin=$OLD
      [ "$build" = new ] && bin=$NEW
      port=$((port + 1))
      serve "$scenario" "$bin" "$port"
      run "$scenario $build round $round" "http://127.0.0.1:$port$URL_PATH"
      SUM_RPS[$scenario.$build]=$(awk -v a="${SUM_RPS[$scenario.$build]}" -v b="$RPS" 'BEGIN { print a + b }')
      SUM_P99[$scenario.$build]=$((SUM_P99[$scenario.$build] + P99))
      stop_all
      forget "$scenario" "$namespace"
    done
  done
done

echo
printf '%-10s %12s %12s %10s %10s %8s %8s\n' scenario old_rps new_rps old_p99 new_p99 rps_x p99_x
for scenario in $SCENARIOS; do
  o=$(awk -v a="${SUM_RPS[$scenario.old]}" -v n="$ROUNDS" 'BEGIN { print a / n }')
  n=$(awk -v a="${SUM_RPS[$scenario.new]}" -v n="$ROUNDS" 'BEGIN { print a / n }')
  op=$((SUM_P99[$scenario.old] / ROUNDS)) np=$((SUM_P99[$scenario.new] / ROUNDS))
  printf '%-10s %12.0f %12.0f %10d %10d %8s %8s\n' "$scenario" "$o" "$n" "$op" "$np" "$(ratio3 "$n" "$o")" "$(ratio3 "$np" "$op")"
done
echo "($ROUNDS alternated rounds of wrk -t$THREADS -c$CONNECTIONS -d$DURATION per build and scenario, on $(nproc) cores; rps_x = new / old)"
