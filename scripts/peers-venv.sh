#!/usr/bin/env bash
# Creates (once) the Python environment of the benchmark peers and of the fixture
# makers in .venv-peers/ inside the clone (git-ignored): PyTorch (CPU), ONNX Runtime,
# OpenCV, NumPy, SciPy, scikit-image, Pillow, tifffile, imagecodecs, roifile, at the versions of
# scripts/peers-requirements.txt. Prints the path of its python. Tests never need it.
#
#   PY=$(bash scripts/peers-venv.sh) && "$PY" scripts/bench_model_peers.py
set -euo pipefail
cd "$(dirname "$0")/.."

venv=.venv-peers
if [ ! -x "$venv/bin/python" ] || [ scripts/peers-requirements.txt -nt "$venv/.installed" ]; then
    python3 -m venv "$venv" >&2
    "$venv/bin/pip" install --quiet --upgrade pip >&2
    "$venv/bin/pip" install --quiet -r scripts/peers-requirements.txt >&2
    touch "$venv/.installed"
fi
echo "$PWD/$venv/bin/python"
