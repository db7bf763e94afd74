#!/usr/bin/env bash
# A short fuzzing smoke run for CI: builds every target (cargo-fuzz's defaults: release,
# debug assertions, AddressSanitizer) and runs each for INLET_FUZZ_SECONDS (default 10)
# from its corpus and seeds. Exits non-zero if any target crashes (its input is kept under
# fuzz/artifacts/<target>/). See README.md.
#
# The build goes to a directory outside the clone so that repeated runs reuse it:
# INLET_FUZZ_TARGET, default ~/.cache/inlet-fuzz-target. INLET_FUZZ_TOOLCHAIN picks the
# nightly toolchain (default nightly).
set -euo pipefail
cd "$(dirname "$0")" # fuzz/: its .cargo/config.toml must apply (see there)

toolchain="${INLET_FUZZ_TOOLCHAIN:-nightly}"
seconds="${INLET_FUZZ_SECONDS:-10}"
export CARGO_TARGET_DIR="${INLET_FUZZ_TARGET:-$HOME/.cache/inlet-fuzz-target}"
export CARGO_TERM_COLOR=never

rustup run "$toolchain" rustc --version >/dev/null 2>&1 ||
  rustup toolchain install "$toolchain" --profile minimal
# The built-in plugins are built with the pinned toolchain and its wasm32-wasip2 target
# (scripts/setup.sh installs both; cheap when present).
if ! (cd .. && rustup toolchain install && rustup target add wasm32-wasip2) >/dev/null 2>&1; then
  echo "smoke: cannot install the pinned toolchain with wasm32-wasip2 (see scripts/setup.sh)" >&2
  exit 1
fi
command -v cargo-fuzz >/dev/null || cargo install cargo-fuzz --locked

start=$SECONDS
cargo "+$toolchain" fuzz build
echo "smoke: built in $((SECONDS - start)) s"

logs=$(mktemp -d)
trap 'rm -rf "$logs"' EXIT
failed=()
for target in $(cargo "+$toolchain" fuzz list); do
  corpora=("corpus/$target")
  [ -d "seeds/$target" ] && corpora+=("seeds/$target")
  mkdir -p "corpus/$target"
  if cargo "+$toolchain" fuzz run "$target" "${corpora[@]}" -- \
    -max_total_time="$seconds" -print_final_stats=1 >"$logs/$target" 2>&1; then
    outcome=ok
  else
    outcome=FAILED
    failed+=("$target")
    tail -n 60 "$logs/$target"
  fi
  runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$logs/$target")
  echo "smoke: $target: $outcome, ${runs:-?} executions"
done
echo "smoke: done in $((SECONDS - start)) s"
if [ ${#failed[@]} -gt 0 ]; then
  echo "smoke: crashed: ${failed[*]} (inputs under fuzz/artifacts/)" >&2
  exit 1
fi
