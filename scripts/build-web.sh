#!/usr/bin/env bash
# Builds the page's wasm into pkg/: cargo (release, wasm32), wasm-bindgen
# (--target web), then binaryen's wasm-opt from tests/browser/node_modules when
# present (set WASM_OPT=0 to skip it). Prints the raw and gzipped wasm sizes.
# Tools come from scripts/setup-web.sh. Skips the bindgen/opt steps when cargo's
# output has not changed since the last run.
set -euo pipefail
cd "$(dirname "$0")/.."

export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/unetseg/target}"
# Not incremental: rustc 1.95's incremental release build of this crate for wasm32
# left a symbol of its own undefined (imported from "env", see below) after some edits.
export CARGO_INCREMENTAL=0

nice -n 10 cargo build --release --lib --target wasm32-unknown-unknown

raw="$CARGO_TARGET_DIR/wasm32-unknown-unknown/release/unetseg.wasm"
stamp=pkg/.built-from
optimiser=tests/browser/node_modules/.bin/wasm-opt
use_opt=0
if [ "${WASM_OPT:-1}" != 0 ] && [ -x "$optimiser" ]; then
    use_opt=1
fi
# What pkg/ was built from: cargo's wasm (size, time) and whether it was optimised.
source_id="$(stat -c '%s %Y' "$raw") opt=$use_opt"

if [ -f pkg/unetseg_bg.wasm ] && [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$source_id" ]; then
    echo "build-web: pkg/ is up to date"
else
    rm -rf pkg.tmp
    wasm-bindgen --target web --no-typescript --out-name unetseg --out-dir pkg.tmp "$raw"
    # A module that imports from "env" names a symbol the linker left undefined: no
    # browser can instantiate it (seen with incremental builds: a `.llvm.`-suffixed
    # symbol of unetseg itself). Refuse it here rather than in the page.
    if grep -q 'from "env"' pkg.tmp/unetseg.js; then
        echo "build-web: $raw imports undefined symbols from \"env\"; rebuild it (touch src/lib.rs)" >&2
        exit 1
    fi
    if [ "$use_opt" = 1 ]; then
        echo "build-web: wasm-opt -O1 (two or three minutes)"
        # -O1 gave the smallest gzipped module here (4.0 MB; -O3 and -Oz 4.3 MB)
        # in half the time of -O3. The features are those the wasm32 build enables
        # (rustc's defaults plus SIMD128 from .cargo/config.toml).
        nice -n 10 "$optimiser" -O1 \
            --enable-bulk-memory --enable-nontrapping-float-to-int --enable-sign-ext \
            --enable-mutable-globals --enable-reference-types --enable-multivalue --enable-simd \
            pkg.tmp/unetseg_bg.wasm -o pkg.tmp/unetseg_bg.opt.wasm
        mv pkg.tmp/unetseg_bg.opt.wasm pkg.tmp/unetseg_bg.wasm
    fi
    echo "$source_id" > pkg.tmp/.built-from
    rm -rf pkg
    mv pkg.tmp pkg
fi

bytes=$(stat -c %s pkg/unetseg_bg.wasm)
gzipped=$(gzip -9 -c pkg/unetseg_bg.wasm | wc -c)
echo "build-web: pkg/unetseg_bg.wasm $((bytes / 1024)) KiB raw, $((gzipped / 1024)) KiB gzipped (wasm-opt: $([ "$use_opt" = 1 ] && echo yes || echo no))"
