#!/usr/bin/env bash
# Reproduces weights/robust.safetensors (see weights/README.md, "The robust network")
# from a clone: trains the compact U-Net (no batch norm, so on the CPU it trains
# through unetseg's gemm layers) with the robust augmentations on ISBI 2012 slices
# 00-20 of data/isbi2012/train, validating on 21-23 and leaving the test slices
# 24-26 out of everything, for 214 epochs; resumes to 450 epochs while keeping the
# stochastic weight average of epochs 351-450; then blends the best epoch (by
# validation V_rand) with that average half and half. About 75 minutes of training on
# 2 CPU cores.
#
#   scripts/train-robust.sh [--smoke] [RUN_DIR] [SEED]     (defaults: runs/robust, 42)
#
# --smoke runs the same three steps with 1 + 1 epochs (a minute or two), to check that
# everything is in place. The result is RUN_DIR/robust.safetensors; copy it to
# weights/ to ship it. UNETSEG_DATA points at another data folder (images/ + masks/).
set -euo pipefail
cd "$(dirname "$0")/.."

first=214
total=450
swa_from=351
if [ "${1:-}" = --smoke ]; then
    first=1
    total=2
    swa_from=2
    shift
fi
run="${1:-runs/robust}"
seed="${2:-42}"
data="${UNETSEG_DATA:-data/isbi2012/train}"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/unetseg/target}"

cargo build --release --bin unetseg
unetseg="$CARGO_TARGET_DIR/release/unetseg"

"$unetseg" train --data "$data" --val-slices 21..23 --test-slices 24..26 --model compact \
    --augment robust --optimizer adam --lr 1e-3 --epochs "$first" --batch 6 --crop 256 \
    --seed "$seed" --val-every 4 --quiet --out "$run"
"$unetseg" train --resume "$run" --epochs "$total" --swa-from "$swa_from" --quiet
"$unetseg" blend --weights "$run/best.safetensors" "$run/swa.safetensors" --out "$run/robust.safetensors"
