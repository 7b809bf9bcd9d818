#!/usr/bin/env bash
# Save-to-live: how long from saving a changed bundle to the first request
# answered by its new version, with `funcmesh dev`'s watcher in the loop.
#
#   (a) a wasm bundle whose module is already compiled: its spec is rewritten
#       ROUNDS times (a new description, so a new hash); each time, from the
#       write to the first answer carrying the new hash in x-funcmesh-bundle.
#       Target: median <= 200 ms, max <= 500 ms.
#   (b) a Rust func crate (a copy of swagger-examples/hello, with the
#       examples' release profile): one line of src/lib.rs changed, from the
#       write to the first answer from the rebuilt module, cargo included.
#
# The mesh runs in-process (bench/src/save_to_live.rs). The last line is a
# JSON summary.
#
#   bench/reload.sh              # 20 rounds
#   ROUNDS=50 bench/reload.sh
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/setup.sh

ROUNDS=${ROUNDS:-20}

ensure_wasm_target
cargo build --release --locked -p funcmesh-bench --bin save-to-live >&2
"${CARGO_TARGET_DIR:-target}/release/save-to-live" "$ROUNDS" | tail -n 1
