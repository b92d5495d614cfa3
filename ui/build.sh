#!/usr/bin/env bash
# Builds the web UI into ui/dist, the bundle the pharos binary embeds.
#
#   ui/build.sh           build (installing the toolchain pieces it lacks)
#   ui/build.sh --check   build into a scratch folder and fail when the
#                         committed ui/dist was not built from the current
#                         sources (CI runs this)
#
# Steps: cargo builds the Leptos app for wasm32-unknown-unknown (paths
# remapped, so the output does not depend on where the checkout lives);
# wasm-bindgen (CLI version = the crate's, from Cargo.lock) writes the JS
# glue; wasm-opt (npm binaryen) shrinks the module; every asset gets its
# content hash in its name (served with a year-long cache), index.html
# names them, and each file gets pre-compressed .gz and .br siblings.
# dist/SOURCES.sha256 records the hash of everything the bundle is made
# from (sources, lock file, vendored files, this script): --check compares
# it with the committed one.
#
# Tools it installs when missing (into ~/.cache/pharos-ui-tools unless
# PHAROS_UI_TOOLS says otherwise): rustup's wasm32 target, wasm-bindgen-cli
# from crates.io, binaryen from npm. Node.js (for binaryen and for the
# compression) must be present.
set -euo pipefail

UI=$(cd "$(dirname "$0")" && pwd)
TOOLS=${PHAROS_UI_TOOLS:-$HOME/.cache/pharos-ui-tools}
BINARYEN_VERSION=132.0.0
log() { printf '[ui/build.sh] %s\n' "$*" >&2; }

check=0
[ "${1:-}" = "--check" ] && check=1
OUT=$UI/dist
[ $check = 1 ] && OUT=$(mktemp -d)/dist

cd "$UI"
mkdir -p "$TOOLS"

# --- toolchain ------------------------------------------------------------
if command -v rustup >/dev/null && ! rustup target list --installed | grep -qx wasm32-unknown-unknown; then
  log "adding the wasm32-unknown-unknown target"
  rustup target add wasm32-unknown-unknown
fi
wb_version=$(awk '/^name = "wasm-bindgen"$/{getline; gsub(/[^0-9.]/,""); print; exit}' Cargo.lock)
WASM_BINDGEN=$TOOLS/bin/wasm-bindgen
if ! { [ -x "$WASM_BINDGEN" ] && "$WASM_BINDGEN" --version | grep -q " $wb_version\$"; }; then
  log "installing wasm-bindgen-cli $wb_version (a few minutes, once)"
  cargo install --quiet --root "$TOOLS" --force wasm-bindgen-cli --version "=$wb_version"
fi
WASM_OPT=$TOOLS/node_modules/.bin/wasm-opt
if ! { [ -x "$WASM_OPT" ] && "$WASM_OPT" --version | grep -q "version ${BINARYEN_VERSION%%.*}"; }; then
  log "installing binaryen $BINARYEN_VERSION from npm"
  (cd "$TOOLS" && npm install --silent --no-audit --no-fund "binaryen@$BINARYEN_VERSION")
fi

# --- what the bundle is made from ----------------------------------------
# The tools' versions are pinned by Cargo.lock (wasm-bindgen) and this
# script (binaryen); the compiler's is not part of the hash: a bundle is
# stale when its sources changed, not when another machine has another
# rustc (a difference in bytes is reported by --check, not fatal).
sources_hash() {
  {
    find src static vendor -type f | LC_ALL=C sort | xargs sha256sum
    sha256sum Cargo.toml Cargo.lock build.sh
  } | sha256sum | cut -d' ' -f1
}
hash=$(sources_hash)

# --- build ----------------------------------------------------------------
t=$SECONDS
log "cargo build (release, wasm32-unknown-unknown)"
# erase_components: Leptos type-erases every component (each returns an
# AnyView), which keeps the monomorphised view code small — about 60 KB
# less gzipped wasm for this app.
RUSTFLAGS="--cfg=erase_components --remap-path-prefix=$UI=/pharos/ui --remap-path-prefix=${CARGO_HOME:-$HOME/.cargo}=/cargo" \
  cargo build --quiet --locked --release --target wasm32-unknown-unknown
log "cargo build: $((SECONDS - t)) s ($(rustc --version))"
RAW=${CARGO_TARGET_DIR:-$UI/target}/wasm32-unknown-unknown/release/pharos_ui.wasm

stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
"$WASM_BINDGEN" --target web --no-typescript --out-dir "$stage" "$RAW"
"$WASM_OPT" -Oz \
  "$stage/pharos_ui_bg.wasm" -o "$stage/pharos_ui_bg.opt.wasm"

rm -rf "$OUT"
mkdir -p "$OUT/assets"
# name STEM EXT FILE: copies FILE to assets/STEM-<hash>.EXT, prints the name.
put() {
  local h
  h=$(sha256sum "$3" | cut -c1-12)
  cp "$3" "$OUT/assets/$1-$h.$2"
  printf '%s' "$1-$h.$2"
}
wasm=$(put pharos_ui_bg wasm "$stage/pharos_ui_bg.opt.wasm")
# The glue's default module URL is never used (index.html passes it).
js=$(put pharos_ui js "$stage/pharos_ui.js")
uplot_js=$(put uPlot js vendor/uplot/uPlot.iife.min.js)
uplot_css=$(put uPlot css vendor/uplot/uPlot.min.css)
css=$(put style css static/style.css)
cp vendor/uplot/LICENSE "$OUT/assets/uPlot.LICENSE.txt"
sed -e "s|@WASM@|assets/$wasm|g" -e "s|@JS@|assets/$js|g" \
    -e "s|@UPLOT_JS@|assets/$uplot_js|g" -e "s|@UPLOT_CSS@|assets/$uplot_css|g" \
    -e "s|@CSS@|assets/$css|g" static/index.html > "$OUT/index.html"

# Pre-compressed siblings, made by Node's zlib (deterministic: no names or
# times in the gzip header).
node -e '
const fs = require("fs"), zlib = require("zlib"), path = require("path");
const walk = d => fs.readdirSync(d, {withFileTypes: true}).flatMap(e =>
  e.isDirectory() ? walk(path.join(d, e.name)) : [path.join(d, e.name)]);
for (const f of walk(process.argv[1])) {
  const b = fs.readFileSync(f);
  fs.writeFileSync(f + ".gz", zlib.gzipSync(b, {level: 9}));
  fs.writeFileSync(f + ".br", zlib.brotliCompressSync(b, {params: {
    [zlib.constants.BROTLI_PARAM_QUALITY]: 11,
    [zlib.constants.BROTLI_PARAM_SIZE_HINT]: b.length}}));
}' "$OUT"
echo "$hash" > "$OUT/SOURCES.sha256"

gz=$(cat "$OUT"/assets/*.{wasm,js,css}.gz | wc -c)
log "bundle: $(stat -c %s "$OUT/assets/$wasm") B wasm; wasm+js+css gzipped: $gz B"

if [ $check = 1 ]; then
  committed=$(cat "$UI/dist/SOURCES.sha256" 2>/dev/null || echo none)
  if [ "$committed" != "$hash" ]; then
    log "ui/dist is stale: it was built from sources hashing to $committed, the sources now hash to $hash."
    log "Run ui/build.sh and commit ui/dist."
    exit 1
  fi
  if diff -rq "$UI/dist" "$OUT" >/dev/null; then
    log "ui/dist is up to date, and this build reproduces it byte for byte"
  else
    log "ui/dist is up to date with its sources (this machine's build differs in bytes: $(diff -rq "$UI/dist" "$OUT" | wc -l) files)"
  fi
  # The tests run on the fresh build.
  rm -rf "$UI/dist"
  cp -r "$OUT" "$UI/dist"
fi
