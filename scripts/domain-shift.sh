#!/usr/bin/env bash
# The domain-shift check of issue 13: builds the CLI (release) and the page's wasm
# (scripts/build-web.sh), then runs tests/browser/domain-shift.mjs, which fine-tunes
# the default weights in the page's CPU path on one shifted held-out ISBI slice (24,
# its true mask as the annotation) and scores the other two (25-26) before and after.
#
#   scripts/domain-shift.sh [ARGS...]   e.g. --minutes 5 --shifts invert,scale-2x --out shift.json
#
# ARGS go to tests/browser/domain-shift.mjs (see its header).
set -euo pipefail
cd "$(dirname "$0")/.."

export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/unetseg/target}"

bash scripts/setup-web.sh
nice -n 10 cargo build --release --bin unetseg
bash scripts/build-web.sh
node tests/browser/domain-shift.mjs "$@"
