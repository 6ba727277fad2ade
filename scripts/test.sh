#!/usr/bin/env bash
# Runs every test of unetseg: the Rust unit and integration tests (release
# mode), the wasm32 library build, and the real-browser tests of the page in
# headless Chromium. Installs what is missing (see scripts/setup-web.sh).
set -euo pipefail
cd "$(dirname "$0")/.."

# Builds are cached outside the clone so repeated runs (and CI) stay fast.
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/unetseg/target}"

bash scripts/setup-web.sh

if cargo fmt --version >/dev/null 2>&1; then
  echo "== cargo fmt --check (rustfmt.toml)"
  cargo fmt --check
else
  echo "== cargo fmt --check skipped: rustfmt is not installed (rustup component add rustfmt)"
fi

echo "== cargo test --release"
cargo test --release --lib --bins --tests

echo "== benchmarks compile"
cargo build --release --benches

echo "== wasm32 build + browser tests"
bash scripts/build-web.sh
(cd tests/browser && node --test --test-reporter=spec)
