#!/usr/bin/env bash
# The one build step before using this Go module: builds librocketmq (the Rust core and its
# C ABI) and installs librocketmq.a / librocketmq.so into go/internal/capi/lib, where cgo links
# them from (static by default; -tags rocketmq_dynamic for the shared one).
#   go/build-native.sh            release build (what applications should ship)
#   go/build-native.sh --debug    debug build (faster to compile; what the tests use)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
if [ "${1:-}" = "--debug" ]; then
    lib=$("$root/ffi/build-lib.sh" | tail -1)
else
    lib=$("$root/ffi/build-lib.sh" --release | tail -1)
fi
dest="$here/internal/capi/lib"
mkdir -p "$dest"
# Copy (not link) so a later cargo build cannot change what a Go binary was linked against
# behind the Go build cache's back: cgo's cache key includes the archive's content.
cp -f "$lib/lib/librocketmq.a" "$lib/lib/librocketmq.so" "$dest/"
echo "installed $(basename "$lib") librocketmq into $dest"
