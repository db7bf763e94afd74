#!/usr/bin/env bash
# Builds Inlet (release) and runs `inlet serve` on a local data directory.
# Extra arguments go to `inlet serve`, e.g. scripts/run.sh --listen 0.0.0.0:5005
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
exec cargo run --release --locked --bin inlet -- serve "$@"
