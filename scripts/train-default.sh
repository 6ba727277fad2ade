#!/usr/bin/env bash
# Reproduces weights/default.safetensors (see weights/README.md) from a clone: trains
# the compact U-Net on the ISBI 2012 slices shipped in data/isbi2012/train (00-23;
# 24-26 held out) for 292 epochs, resumes for 100 more while keeping the stochastic
# weight average, then blends the best epoch with that average half and half.
# It took 63 minutes on 2 CPU cores on burn's layers; on the gemm layers, which batch-norm
# networks use since, an epoch takes half as long (BENCHMARKS.md).
#
#   scripts/train-default.sh [--smoke] [RUN_DIR] [SEED]     (defaults: runs/default, 42)
#
# --smoke runs the same three steps with 1 + 1 epochs (a minute or two), to check that
# everything is in place. The result is RUN_DIR/default.safetensors; copy it to
# weights/ to ship it. UNETSEG_DATA points at another data folder (images/ + masks/).
set -euo pipefail
cd "$(dirname "$0")/.."

first=292
total=392
if [ "${1:-}" = --smoke ]; then
    first=1
    total=2
    shift
fi
run="${1:-runs/default}"
seed="${2:-42}"
data="${UNETSEG_DATA:-data/isbi2012/train}"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/unetseg/target}"

cargo build --release --bin unetseg
unetseg="$CARGO_TARGET_DIR/release/unetseg"

"$unetseg" train --data "$data" --val-slices 24..26 --model compact --batch-norm \
    --optimizer adam --lr 1e-3 --epochs "$first" --batch 6 --crop 256 --seed "$seed" \
    --val-every 2 --quiet --out "$run"
"$unetseg" train --resume "$run" --epochs "$total" --swa-from "$((first + 1))" --quiet
"$unetseg" blend --weights "$run/best.safetensors" "$run/swa.safetensors" --out "$run/default.safetensors"
