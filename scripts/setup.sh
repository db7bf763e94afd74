#!/usr/bin/env bash
# Installs what building Inlet needs on a fresh Debian machine with rustup:
# the pinned Rust toolchain (rust-toolchain.toml); libclang, which the rocksdb crate's
# bindgen loads at build time; OpenSSL headers and pkg-config for the librdkafka that
# rdkafka builds with make (TLS to Kafka brokers). Safe to run again: it skips what is
# already there.
# With --tests it also installs moto's SQS server (PyPI) into a virtualenv under
# $INLET_TOOLS (default ~/.cache/inlet-tools), and checks for Google's Pub/Sub emulator and
# the Java it runs on.
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

[ "${1:-}" = "--tests" ] || exit 0

# The SQS-compatible server the tests start (see README, "Tests and the brokers they run").
tools="${INLET_TOOLS:-$HOME/.cache/inlet-tools}"
moto_version=5.2.5
if ! "$tools/moto/bin/python" -c "import moto, sys; sys.exit(moto.__version__ != '$moto_version')" 2>/dev/null; then
  echo "setup: installing moto[server]==$moto_version into $tools/moto"
  python3 -m venv "$tools/moto"
  "$tools/moto/bin/pip" install --quiet --disable-pip-version-check "moto[server]==$moto_version"
fi

# Google's Pub/Sub emulator ships with the Google Cloud SDK, which no registry reachable here
# offers: it must be on the machine. Java is installed if missing.
emulator="${INLET_PUBSUB_EMULATOR:-/usr/lib/google-cloud-sdk/platform/pubsub-emulator/bin/cloud-pubsub-emulator}"
if [ ! -x "$emulator" ]; then
  echo "setup: Google's Pub/Sub emulator is not at $emulator; the Pub/Sub tests need it." >&2
  echo "setup: install the Google Cloud SDK with its pubsub-emulator component" \
    "(gcloud components install pubsub-emulator), or set INLET_PUBSUB_EMULATOR to its path." >&2
  exit 1
fi
if ! java -version >/dev/null 2>&1; then
  echo "setup: installing Java for the Pub/Sub emulator"
  as_root apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq openjdk-17-jre-headless >/dev/null
fi
