#!/usr/bin/env bash
# Benchmark of the DokuWiki plugin (not a timed test): save → visible on the mirror p50/p99,
# and the first sync of a 1,000-page namespace against XML-RPC page by page. Prints a
# Markdown section for docs/benchmarks.md.
#
# Usage: bench/dokuwiki.sh [--saves N] [--pages N]
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib/common.sh
source scripts/lib/dokuwiki.sh
ensure_rust
dw_ensure_packages
ensure_packages php8.2-dev libclang-dev clang python3-venv
cargo build --release --locked -p wikisync-gateway -p wikisync-php >&2
target="$(cd "${CARGO_TARGET_DIR:-target}" && pwd)"
export WIKISYNC_GATEWAY_BIN="$target/release/wikisync-gateway"
export WIKISYNC_PHP_EXT="$target/release/libwikisync_php.so"
venv="$HOME/.cache/wikisync/venv"
"$venv/bin/python" -c 'import requests' 2>/dev/null || { python3 -m venv "$venv"; "$venv/bin/pip" install -q pytest requests; }
exec "$venv/bin/python" bench/dokuwiki.py "$@"
