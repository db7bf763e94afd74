#!/usr/bin/env bash
# Runs every check and the whole test suite, installing what they need first.
# CARGO_TARGET_DIR defaults to a directory outside the clone so that repeated runs on one
# machine (and CI after a session) reuse the RocksDB build.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh --tests
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/inlet-target}"
export CARGO_TERM_COLOR=never
export INLET_MOTO_SERVER="${INLET_TOOLS:-$HOME/.cache/inlet-tools}/moto/bin/moto_server"
export INLET_PUBSUB_EMULATOR="${INLET_PUBSUB_EMULATOR:-/usr/lib/google-cloud-sdk/platform/pubsub-emulator/bin/cloud-pubsub-emulator}"

step() { echo; echo "== $* ($(date +%H:%M:%S))"; }

step "format"
cargo fmt --all --check
step "lint"
cargo clippy --locked --workspace --all-targets -- -D warnings
step "build"
cargo build --locked --bin inlet
step "test"
cargo test --locked --workspace
step "fuzz smoke"
bash fuzz/smoke.sh
