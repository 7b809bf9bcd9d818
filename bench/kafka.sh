#!/usr/bin/env bash
# The Kafka benchmark: in one run, on the local Kafka-compatible broker
# (tansu, see scripts/kafka-broker), with one load generator and the same
# settings (wrk on GET /hello/greet?name=Ada),
#   (a) the ceiling: `kafka_ceiling`, one hyper server that produces each
#       request to a topic of 16 partitions (acks=all, waiting for the
#       broker's confirmation) and answers from an echo consumer's reply,
#       produced to a reply topic and confirmed before the request's offset
#       is committed: the broker round trip with the mesh's guarantees,
#       nothing else;
#   (b) the same round trip as two processes, `kafka_ceiling --front` (the
#       hyper server) and `kafka_ceiling --echo` (the consumer that replies),
#       as a mesh request crosses two, the gateway's and the runner's;
#   (c) funcmesh as three processes (tron, runner, gateway) on the broker,
#       serving the swagger-examples bundles under a random namespace;
# then prints requests/s, p50, p99, the ratios funcmesh / each ceiling and
# the mesh's requests/s per core, and where the ceilings' round trips spend
# their time (the ceilings measure each leg). The last line is a JSON summary.
# Ratios, not absolute figures, are what to compare: the machines are shared
# and noisy.
#
#   bench/kafka.sh                    # 8 s per scenario, wrk -t2 -c64
#   DURATION=30s CONNECTIONS=128 bench/kafka.sh
#   RUNNER_CONCURRENCY=32 bench/kafka.sh
#   CEILING_PREFETCH=4 bench/kafka.sh     # the ceiling's window
#
# Every contender gets the same window of requests in flight, CONNECTIONS:
# the ceiling echo's window of unfinished requests and the runner's
# concurrency (its prefetch).
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/setup.sh
. bench/lib.sh

DURATION=${DURATION:-8s}
CONNECTIONS=${CONNECTIONS:-64}
THREADS=${THREADS:-2}
BASE_PORT=${BASE_PORT:-18390}
BUNDLES=${BUNDLES:-swagger-examples}
CEILING_PREFETCH=${CEILING_PREFETCH:-$CONNECTIONS}
RUNNER_CONCURRENCY=${RUNNER_CONCURRENCY:-$CONNECTIONS}
URL_PATH="/hello/greet?name=Ada"
BROKERS="127.0.0.1:$KAFKA_PORT"

ensure_command wrk wrk
ensure_command curl curl
ensure_wasm_target
ensure_kafka

cargo build --release --locked -p funcmesh -p funcmesh-bench --bins >&2
RELEASE=${CARGO_TARGET_DIR:-target}/release

ceiling_and_mesh "$RELEASE/kafka_ceiling" "$BROKERS" "kafka://$BROKERS" Kafka
# Printed by the ceiling as it stops: the mean of each leg of its round trip.
time_of() { sed -n 's/^kafka_ceiling: where the time goes: //p' "$BENCH_TMP/$1" | tail -n 1; }
C_TIME=$(time_of ceiling.log)
C2_FRONT_TIME=$(time_of front.log)
C2_ECHO_TIME=$(time_of echo.log)

CORES=$(nproc)
PER_CORE=$(awk -v a="$M_RPS" -v n="$CORES" 'BEGIN { printf "%.0f", a / n }')
echo
printf '%-27s %12s %10s %10s\n' scenario rps p50_us p99_us
printf '%-27s %12.0f %10d %10d\n' "kafka ceiling, 1 process" "$C_RPS" "$C_P50" "$C_P99"
printf '%-27s %12.0f %10d %10d\n' "kafka ceiling, 2 processes" "$C2_RPS" "$C2_P50" "$C2_P99"
printf '%-27s %12.0f %10d %10d\n' "funcmesh on Kafka" "$M_RPS" "$M_P50" "$M_P99"
echo
echo "funcmesh / 1-process ceiling:   $(ratio "$M_RPS" "$C_RPS")"
echo "funcmesh / 2-process ceiling:   $(ratio "$M_RPS" "$C2_RPS")"
echo "p50 funcmesh / p50 ceiling:     $(ratio "$M_P50" "$C_P50")  (${M_P50} us / ${C_P50} us; 2 processes ${C2_P50} us)"
echo "funcmesh requests/s per core:   $PER_CORE  ($CORES cores, all processes and wrk included)"
echo "ceiling, where the time goes:   ${C_TIME:-(not reported)}"
echo "  two processes, the front:     ${C2_FRONT_TIME:-(not reported)}"
echo "  two processes, the echo:      ${C2_ECHO_TIME:-(not reported)}"
echo "note: a round trip is two produces and two fetches; tansu 0.6 holds every fetch for the whole"
echo "      fetch.wait.max.ms (10 ms, the mesh's setting) even when records wait, so a hop costs ~1.5x that"
echo "      and the fetches, more than CPU, set the latency and, with a fixed window, the throughput."
echo "(wrk -t$THREADS -c$CONNECTIONS -d$DURATION on $CORES cores, tansu on $BROKERS; runner concurrency $RUNNER_CONCURRENCY, ceiling window $CEILING_PREFETCH)"

printf '{"scenario":"kafka","rps":%.0f,"p50_us":%d,"p99_us":%d,"ceiling_rps":%.0f,"ceiling_p50_us":%d,"ceiling_p99_us":%d,"ratio":%s,"ceiling2_rps":%.0f,"ceiling2_p50_us":%d,"ceiling2_p99_us":%d,"ratio2":%s,"p50_ratio":%s,"rps_per_core":%s,"cores":%d}\n' \
  "$M_RPS" "$M_P50" "$M_P99" "$C_RPS" "$C_P50" "$C_P99" "$(ratio "$M_RPS" "$C_RPS")" \
  "$C2_RPS" "$C2_P50" "$C2_P99" "$(ratio "$M_RPS" "$C2_RPS")" \
  "$(ratio "$M_P50" "$C_P50")" "$PER_CORE" "$CORES"
