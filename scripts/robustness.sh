#!/usr/bin/env bash
# The robustness check on the held-out ISBI slices 24-26 (see weights/README.md,
# "Robustness"): builds the CLI, then scores the network on the slices as they are and
# rescaled 0.5x and 2x, under gamma 0.6 and 1.6, Gaussian noise sigma 15, blur sigma
# 1.5, JPEG quality 30, contrast x0.5 and inverted, with the challenge's V_rand.
#
#   scripts/robustness.sh [ARGS...]      e.g. --weights RUN_DIR/default.safetensors --json
#
# ARGS go to `unetseg robustness` (without --weights: the built-in default weights).
# UNETSEG_DATA points at another data folder (images/ + masks/), UNETSEG_SLICES at
# another block (default 24..26).
set -euo pipefail
cd "$(dirname "$0")/.."

data="${UNETSEG_DATA:-data/isbi2012/train}"
slices="${UNETSEG_SLICES:-24..26}"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/unetseg/target}"

cargo build --release --bin unetseg
"$CARGO_TARGET_DIR/release/unetseg" robustness --images "$data/images" --masks "$data/masks" \
    --slices "$slices" "$@"
