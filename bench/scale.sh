#!/usr/bin/env bash
# Scaling: the tron's scaling rule, and models of KEDA's and Knative's (KPA)
# defaults, replayed over the same synthetic traces on the same simulated
# pool (bench/src/bin/scale_sim.rs): a step, a ramp, a spike, a sine, on/off
# with idle gaps, and steady noisy load. Prints a Markdown table per trace
# and policy, whether the rule meets its targets, and the scale-down
# window's trade-off. Needs no broker; the simulation takes well under a
# second.
#
#   bench/scale.sh                            # the tables
#   bench/scale.sh --timeline sine funcmesh   # one trace, second by second
set -euo pipefail
cd "$(dirname "$0")/.."

cargo build --release --locked -p funcmesh-bench --bin scale_sim >&2
"${CARGO_TARGET_DIR:-target}/release/scale_sim" "$@"
