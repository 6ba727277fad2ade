#!/usr/bin/env bash
# The main command: installs what is missing, builds the wasm into pkg/ and the
# native binary, then serves the page on http://127.0.0.1:8080 (pass --port N
# or --host H to change it). Everything runs locally; nothing is uploaded.
set -euo pipefail
cd "$(dirname "$0")/.."

export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/unetseg/target}"

bash scripts/setup-web.sh --build-only
bash scripts/build-web.sh
nice -n 10 cargo build --release --bin unetseg
exec "$CARGO_TARGET_DIR/release/unetseg" serve "$@"
