#!/usr/bin/env bash
# Builds librocketmq and lays it out the way C programs and the Go package use it:
#   target/librocketmq/<profile>/lib/librocketmq.so   (SONAME librocketmq.so)
#   target/librocketmq/<profile>/lib/librocketmq.a
#   target/librocketmq/<profile>/include/*.h          (the committed headers)
#   target/librocketmq/<profile>/native-static-libs   (what a static link also needs)
# Usage: ffi/build-lib.sh [--release]
#
# Why a copy: cargo names the artifacts after the crate's lib name, librocketmq_ffi.{so,a};
# `rocketmq` is taken by the core crate (target/*/librocketmq.rlib). The .so already carries
# SONAME librocketmq.so (ffi/build.rs), so the copy is only a rename.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
target="${CARGO_TARGET_DIR:-$root/target}"

profile=debug
args=()
if [ "${1:-}" = "--release" ]; then
    profile=release
    args=(--release)
fi

cd "$root"
cargo build -p rocketmq-ffi "${args[@]}"
# The system libraries a static link of the Rust archive needs (printed by rustc).
native=$(cargo rustc -p rocketmq-ffi "${args[@]}" --lib --crate-type staticlib -- --print native-static-libs 2>&1 \
    | sed -n 's/.*native-static-libs: //p' | tail -1)

out="$target/librocketmq/$profile"
mkdir -p "$out/lib" "$out/include"
cp -f "$target/$profile/librocketmq_ffi.so" "$out/lib/librocketmq.so"
cp -f "$target/$profile/librocketmq_ffi.a" "$out/lib/librocketmq.a"
cp -f "$here"/include/*.h "$out/include/"
echo "$native" >"$out/native-static-libs"
echo "$out"
