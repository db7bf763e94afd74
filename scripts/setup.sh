#!/usr/bin/env bash
# Installs what building Inlet needs on a fresh Debian machine with rustup:
# the pinned Rust toolchain (rust-toolchain.toml); libclang, which the rocksdb crate's
# bindgen loads at build time; OpenSSL headers and pkg-config for the librdkafka that
# rdkafka builds with make (TLS to Kafka brokers). Safe to run again: it skips what is
# already there.
# For the tests it also installs moto's SQS server (PyPI) into a virtualenv under
# $INLET_TOOLS (default ~/.cache/inlet-tools).
set -euo pipefail
cd "$(dirname "$0")/.."

as_root() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }

missing=()
for pkg in libclang-dev libssl-dev pkg-config make; do
  dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing ${missing[*]}"
  as_root apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
fi

# RUSTUP_AUTO_INSTALL may be 0: install the pinned toolchain explicitly, with the target
# the plugins are built for (also listed in rust-toolchain.toml).
rustup toolchain install >/dev/null
rustup target add wasm32-wasip2 >/dev/null

# Every crate for every target, including the wasm32-only ones the plugin builds need.
cargo fetch --locked >/dev/null 2>&1 || cargo fetch --locked

# The SQS-compatible server the tests start (see README, "Tests and the brokers they run").
tools="${INLET_TOOLS:-$HOME/.cache/inlet-tools}"
moto_version=5.2.5
if ! "$tools/moto/bin/python" -c "import moto, sys; sys.exit(moto.__version__ != '$moto_version')" 2>/dev/null; then
  echo "setup: installing moto[server]==$moto_version into $tools/moto"
  python3 -m venv "$tools/moto"
  "$tools/moto/bin/pip" install --quiet --disable-pip-version-check "moto[server]==$moto_version"
fi
