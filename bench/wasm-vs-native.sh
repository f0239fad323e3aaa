#!/usr/bin/env bash
# Core operations through WebAssembly in Node against the same operations native, in one run,
# as ratios (TARGETS.md: ≤ 2×), and the .wasm size raw and gzipped (target ≤ 180 KB gzipped).
# The native half (bench/wasm-vs-native.rs) writes the inputs and times the core directly;
# the WebAssembly half (bench/wasm-vs-native.mjs) times the npm package on the same inputs.
#
# Usage: bench/wasm-vs-native.sh [--no-build]
#   --no-build   use the package already in bindings-js/pkg
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib/common.sh

build=1
for arg in "$@"; do
  case "$arg" in
    --no-build) build=0 ;;
    -h|--help) awk 'NR > 1 && !/^#/ { exit } NR > 1' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) die "unknown option '$arg' (see bench/wasm-vs-native.sh --help)" ;;
  esac
done

[ "$build" = 1 ] && scripts/build-wasm
ensure_rust
step "native half (cargo build --release --example wasm-vs-native)"
cargo build --quiet --release --locked -p wikisync-js --example wasm-vs-native
target=$(cargo metadata --format-version 1 --no-deps | node -e 'let b="";process.stdin.on("data",d=>b+=d).on("end",()=>console.log(JSON.parse(b).target_directory))')

step "alternating rounds: native, then WebAssembly in Node"
node bench/wasm-vs-native.mjs "$target/release/examples/wasm-vs-native"
