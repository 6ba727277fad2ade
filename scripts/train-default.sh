#!/usr/bin/env bash
# Reproduces weights/default.safetensors (see weights/README.md): trains the compact
# U-Net on ISBI 2012 slices 00-23 for 292 epochs, resumes for 100 more while keeping
# the stochastic weight average, then blends the best epoch with that average half and
# half. About 63 minutes on 2 CPU cores.
#
#   scripts/train-default.sh [RUN_DIR] [SEED]     (defaults: runs/default, 42)
#
# The result is RUN_DIR/default.safetensors; copy it to weights/ to ship it.
set -euo pipefail
cd "$(dirname "$0")/.."

run="${1:-runs/default}"
seed="${2:-42}"
data="${UNETSEG_DATA:-../shared/data/isbi2012/train}"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/unetseg/target}"

cargo build --release --bin unetseg
unetseg="$CARGO_TARGET_DIR/release/unetseg"

"$unetseg" train --data "$data" --val-slices 24..26 --model compact --batch-norm \
    --optimizer adam --lr 1e-3 --epochs 292 --batch 6 --crop 256 --seed "$seed" \
    --val-every 2 --quiet --out "$run"
"$unetseg" train --resume "$run" --epochs 392 --swa-from 293 --quiet
"$unetseg" blend --weights "$run/best.safetensors" "$run/swa.safetensors" --out "$run/default.safetensors"
