#!/usr/bin/env bash
# The NATS benchmark: in one run, on the local NATS server (JetStream), with
# one load generator and the same settings (wrk on GET /hello/greet?name=Ada),
#   (a) the ceiling: `nats_ceiling`, one hyper server that publishes each
#       request to a JetStream work-queue stream on file (waiting for the
#       server's ack) and answers from an echo consumer's core NATS reply,
#       the request acked after the reply is out: the server round trip with
#       the mesh's guarantees, nothing else;
#   (b) the same round trip as two processes, `nats_ceiling --front` (the
#       hyper server) and `nats_ceiling --echo` (the consumer that replies),
#       as a mesh request crosses two, the gateway's and the runner's;
#   (c) funcmesh as three processes (tron, runner, gateway) on the server,
#       serving the swagger-examples bundles under a random namespace;
# then prints requests/s, p50, p99, the ratios funcmesh / each ceiling
# (target >= 0.8 of the two-process one) and the mesh's requests/s per core. The last line is a JSON summary. Ratios, not
# absolute figures, are what to compare: the machines are shared and noisy.
#
#   bench/nats.sh                     # 8 s per scenario, wrk -t2 -c64
#   DURATION=30s CONNECTIONS=128 bench/nats.sh
#   RUNNER_CONCURRENCY=32 bench/nats.sh
#   CEILING_PREFETCH=4 bench/nats.sh      # the ceiling's window
#
# Every contender gets the same window of requests in flight, CONNECTIONS:
# the ceiling's max_ack_pending and the runner's concurrency (its prefetch).
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/setup.sh
. bench/lib.sh

DURATION=${DURATION:-8s}
CONNECTIONS=${CONNECTIONS:-64}
THREADS=${THREADS:-2}
BASE_PORT=${BASE_PORT:-18290}
BUNDLES=${BUNDLES:-swagger-examples}
CEILING_PREFETCH=${CEILING_PREFETCH:-$CONNECTIONS}
RUNNER_CONCURRENCY=${RUNNER_CONCURRENCY:-$CONNECTIONS}
URL_PATH="/hello/greet?name=Ada"

ensure_command wrk wrk
ensure_command curl curl
ensure_wasm_target
ensure_nats

cargo build --release --locked -p funcmesh -p funcmesh-bench --bins >&2
RELEASE=${CARGO_TARGET_DIR:-target}/release

ceiling_and_mesh "$RELEASE/nats_ceiling" "nats://127.0.0.1:4222" "nats://127.0.0.1:4222" NATS

CORES=$(nproc)
PER_CORE=$(awk -v a="$M_RPS" -v n="$CORES" 'BEGIN { printf "%.0f", a / n }')
echo
printf '%-26s %12s %10s %10s\n' scenario rps p50_us p99_us
printf '%-26s %12.0f %10d %10d\n' "nats ceiling, 1 process" "$C_RPS" "$C_P50" "$C_P99"
printf '%-26s %12.0f %10d %10d\n' "nats ceiling, 2 processes" "$C2_RPS" "$C2_P50" "$C2_P99"
printf '%-26s %12.0f %10d %10d\n' "funcmesh on NATS" "$M_RPS" "$M_P50" "$M_P99"
echo
echo "funcmesh / 1-process ceiling:   $(ratio "$M_RPS" "$C_RPS")"
echo "funcmesh / 2-process ceiling:   $(ratio "$M_RPS" "$C2_RPS")  (target >= 0.80)"
echo "funcmesh requests/s per core:   $PER_CORE  ($CORES cores, all processes and wrk included)"
echo "(wrk -t$THREADS -c$CONNECTIONS -d$DURATION on $CORES cores, nats-server on 127.0.0.1; runner concurrency $RUNNER_CONCURRENCY, ceiling window $CEILING_PREFETCH)"

printf '{"scenario":"nats","rps":%.0f,"p50_us":%d,"p99_us":%d,"ceiling_rps":%.0f,"ceiling_p50_us":%d,"ceiling_p99_us":%d,"ratio":%s,"ceiling2_rps":%.0f,"ceiling2_p50_us":%d,"ceiling2_p99_us":%d,"ratio2":%s,"rps_per_core":%s,"cores":%d}\n' \
  "$M_RPS" "$M_P50" "$M_P99" "$C_RPS" "$C_P50" "$C_P99" "$(ratio "$M_RPS" "$C_RPS")" \
  "$C2_RPS" "$C2_P50" "$C2_P99" "$(ratio "$M_RPS" "$C2_RPS")" "$PER_CORE" "$CORES"
