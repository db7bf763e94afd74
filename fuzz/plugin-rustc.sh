#!/bin/sh
# rustc wrapper for the nested plugin build of inlet-plugin-host's build.rs only (set in
# .cargo/config.toml): ignores the compiler cargo chose ($1, nightly) and runs rustc of the
# toolchain pinned in ../rust-toolchain.toml, which has the wasm32-wasip2 target.
shift
root=$(cd "$(dirname "$0")/.." && pwd)
channel=$(sed -n 's/^channel *= *"\(.*\)"/\1/p' "$root/rust-toolchain.toml")
exec rustup run "$channel" rustc "$@"
