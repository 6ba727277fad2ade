#!/usr/bin/env bash
# Builds the page's wasm into pkg/, twice: pkg/ with relaxed SIMD (the CPU
# engine's matrix products use its fused multiply-add; Chromium 114 and later)
# and pkg/simd128/ without it, for browsers whose WebAssembly lacks relaxed SIMD
# (www/worker.js picks one). Each is cargo (release, wasm32), wasm-bindgen
# (--target web), then binaryen's wasm-opt from tests/browser/node_modules when
# present (set WASM_OPT=0 to skip it). Prints the raw and gzipped wasm sizes.
# Tools come from scripts/setup-web.sh. Skips everything when the sources, the
# toolchain and the options have not changed since the last run.
set -euo pipefail
cd "$(dirname "$0")/.."

export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/unetseg/target}"
# Not incremental: rustc 1.95's incremental release build of this crate for wasm32
# left a symbol of its own undefined (imported from "env", see below) after some edits.
export CARGO_INCREMENTAL=0

raw="$CARGO_TARGET_DIR/wasm32-unknown-unknown/release/unetseg.wasm"
stamp=pkg/.built-from
optimiser=tests/browser/node_modules/.bin/wasm-opt
use_opt=0
if [ "${WASM_OPT:-1}" != 0 ] && [ -x "$optimiser" ]; then
    use_opt=1
fi
# What pkg/ is built from: every input of the two builds and whether they were optimised.
# (The two builds differ in one rustc flag of this crate, so cargo rebuilds it for
# each in turn; this stamp is what lets an unchanged tree skip both.)
source_id="$({
    rustc -V
    wasm-bindgen --version
    echo "opt=$use_opt"
    find src Cargo.toml Cargo.lock .cargo -type f | LC_ALL=C sort | xargs sha256sum
} | sha256sum | cut -d' ' -f1)"

# Builds one variant into pkg.tmp/$1 (relative; "" for pkg/ itself) with the extra
# rustc flags $2 of this crate (its dependencies are built once, for both) and the
# extra wasm-opt feature flags $3.
build_variant() {
    local out="pkg.tmp/$1" flags="$2" features="$3"
    # shellcheck disable=SC2086 # $flags is a list of flags
    nice -n 10 cargo rustc --release --lib --target wasm32-unknown-unknown --crate-type cdylib -- $flags
    wasm-bindgen --target web --no-typescript --out-name unetseg --out-dir "$out" "$raw"
    # A module that imports from "env" names a symbol the linker left undefined: no
    # browser can instantiate it (seen with incremental builds: a `.llvm.`-suffixed
    # symbol of unetseg itself). Refuse it here rather than in the page.
    if grep -q 'from "env"' "$out/unetseg.js"; then
        echo "build-web: $raw imports undefined symbols from \"env\"; rebuild it (touch src/lib.rs)" >&2
        exit 1
    fi
    if [ "$use_opt" = 1 ]; then
        echo "build-web: wasm-opt -O1 of pkg/$1 (two or three minutes)"
        # -O1 gave the smallest gzipped module here (4.0 MB; -O3 and -Oz 4.3 MB)
        # in half the time of -O3. The features are those the wasm32 build enables
        # (rustc's defaults plus SIMD128 from .cargo/config.toml, and the variant's).
        # shellcheck disable=SC2086 # $features is a list of flags
        nice -n 10 "$optimiser" -O1 \
            --enable-bulk-memory --enable-nontrapping-float-to-int --enable-sign-ext \
            --enable-mutable-globals --enable-reference-types --enable-multivalue --enable-simd $features \
            "$out/unetseg_bg.wasm" -o "$out/unetseg_bg.opt.wasm"
        mv "$out/unetseg_bg.opt.wasm" "$out/unetseg_bg.wasm"
    fi
}

if [ -f pkg/unetseg_bg.wasm ] && [ -f pkg/simd128/unetseg_bg.wasm ] && [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$source_id" ]; then
    echo "build-web: pkg/ is up to date"
else
    rm -rf pkg.tmp
    build_variant "" "-C target-feature=+relaxed-simd" "--enable-relaxed-simd"
    build_variant simd128 "" ""
    echo "$source_id" > pkg.tmp/.built-from
    rm -rf pkg
    mv pkg.tmp pkg
fi

for module in pkg/unetseg_bg.wasm pkg/simd128/unetseg_bg.wasm; do
    bytes=$(stat -c %s "$module")
    gzipped=$(gzip -9 -c "$module" | wc -c)
    echo "build-web: $module $((bytes / 1024)) KiB raw, $((gzipped / 1024)) KiB gzipped (wasm-opt: $([ "$use_opt" = 1 ] && echo yes || echo no))"
done
