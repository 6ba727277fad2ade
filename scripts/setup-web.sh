#!/usr/bin/env bash
# Installs what building and testing the web page needs, skipping whatever is
# already there (a second run takes about a second):
#   - the wasm32-unknown-unknown Rust target,
#   - wasm-bindgen-cli at exactly the wasm-bindgen version in Cargo.lock,
#   - Chromium (Debian's package) for the browser tests, unless one is found,
#   - the npm packages of tests/browser (playwright-core, axe-core, binaryen's wasm-opt).
# With --build-only, Chromium is not looked for (building and serving need none).
set -euo pipefail
cd "$(dirname "$0")/.."

say() { echo "setup-web: $*"; }

if ! rustup target list --installed | grep -qx wasm32-unknown-unknown; then
    say "adding the wasm32-unknown-unknown target"
    rustup target add wasm32-unknown-unknown
fi

# wasm-bindgen's CLI must match the library version the crate links exactly.
want=$(awk '/^name = "wasm-bindgen"$/ { getline; gsub(/version = |"/, ""); print; exit }' Cargo.lock)
if [ -z "$want" ]; then
    echo "setup-web: no wasm-bindgen in Cargo.lock" >&2
    exit 1
fi
have=$(wasm-bindgen --version 2>/dev/null | awk '{ print $2 }' || true)
if [ "$have" != "$want" ]; then
    say "installing wasm-bindgen-cli $want (a few minutes, once)"
    # No --locked: the registry mirror lacks one of its locked dependencies.
    nice -n 10 cargo install wasm-bindgen-cli --version "$want"
fi

# A Chromium for the browser tests: $CHROMIUM_PATH, or a known install, or Debian's package.
if [ "${1:-}" != --build-only ] && [ -z "${CHROMIUM_PATH:-}" ]; then
    found=""
    for candidate in /usr/bin/chromium /usr/bin/chromium-browser /usr/bin/google-chrome /usr/bin/google-chrome-stable; do
        if [ -x "$candidate" ] && "$candidate" --version >/dev/null 2>&1; then
            found=$candidate
            break
        fi
    done
    if [ -z "$found" ]; then
        if command -v apt-get >/dev/null && [ "$(id -u)" = 0 ]; then
            say "installing Debian's chromium"
            apt-get update -qq
            DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
        else
            echo "setup-web: no Chromium found; install it or set CHROMIUM_PATH" >&2
            exit 1
        fi
    fi
fi

if ! command -v node >/dev/null; then
    echo "setup-web: Node.js (18 or newer) is needed for the browser tests and wasm-opt" >&2
    exit 1
fi
if [ ! -d tests/browser/node_modules/playwright-core ] || [ ! -d tests/browser/node_modules/binaryen ] ||
    [ ! -d tests/browser/node_modules/axe-core ] ||
    [ tests/browser/package-lock.json -nt tests/browser/node_modules/.package-lock.json ]; then
    say "installing the npm packages of tests/browser"
    (cd tests/browser && npm ci --no-audit --no-fund --loglevel=error)
fi
