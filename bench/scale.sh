#!/usr/bin/env bash
# Scaling: the tron's scaling rule, and models of KEDA's and Knative's (KPA)
# defaults, replayed over the same synthetic traces on the same simulated
# pool (bench/src/bin/scale_sim.rs): a step, a ramp, a spike, a sine, on/off
# with idle gaps, and steady noisy load. Prints a Markdown table per trace
# and policy, whether the rule meets its targets, and the scale-down
# window's trade-off. Needs no broker; the simulation takes well under a
# second.
#
# With --live, then one live step on the local orchestrator on RabbitMQ
# (bench/src/bin/scale_live.rs): a tron with `--scaler local` and a
# gateway, a pool from zero, RATE requests a second (600 by default) of a
# 20 ms call for 20 s, then nothing for 30 s; the same figures, measured,
# beside the simulator's for that step (about a minute, plus the release
# build).
#
#   bench/scale.sh                            # the tables
#   bench/scale.sh --timeline sine funcmesh   # one trace, second by second
#   bench/scale.sh --live [RATE]              # the tables, then the live step
set -euo pipefail
cd "$(dirname "$0")/.."
target=${CARGO_TARGET_DIR:-target}

if [ "${1:-}" = --live ]; then
  rate=${2:-600}
  . scripts/setup.sh
  ensure_wasm_target
  ensure_rabbitmq
  cargo build --release --locked -p funcmesh-bench --bin scale_sim --bin scale_live >&2
  cargo build --release --locked --bin funcmesh >&2
  "$target/release/scale_sim"
  echo
  echo "live step on the local orchestrator:"
  "$target/release/scale_live" "$target/release/funcmesh" tests/fixtures/faults \
    --bus "amqp://guest:guest@127.0.0.1:5672/%2f" --rate "$rate" --seconds 20
  exit
fi

cargo build --release --locked -p funcmesh-bench --bin scale_sim >&2
"$target/release/scale_sim" "$@"
