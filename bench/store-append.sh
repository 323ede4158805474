#!/usr/bin/env bash
# Builds (release) and runs the commitlog append benchmark; prints a markdown table on stdout.
# Extra arguments go to the benchmark: --dir DIR (default target/store-append-bench, i.e. the disk
# the repository is on), --async-mib N (default 256), --rounds R (default 3), --only async|sync, --sync-seconds S (default 3).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
export CARGO_TARGET_DIR="$root/target"
cargo build --release --quiet --manifest-path "$here/store-append/Cargo.toml"
dir="$root/target/store-append-bench"
for a in "$@"; do [ "$a" = --dir ] && dir=""; done
if [ -n "$dir" ]; then
    exec "$root/target/release/store-append" --dir "$dir" "$@"
fi
exec "$root/target/release/store-append" "$@"
