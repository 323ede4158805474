#!/usr/bin/env bash
# Builds everything and runs every test: Rust (unit + integration against a real embedded
# broker), then the interop suite with the genuine rocketmq-client-go against our `serve`.
# Everything it needs comes from the registries (crates.io, the Go module proxy, Maven Central).
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)

step() { printf '\n==> %s\n' "$*"; }

step "toolchain"
cargo --version
go version
export CARGO_TERM_COLOR=never

step "format and lints"
cargo fmt --all -- --check
cargo clippy --workspace --all-targets -- -D warnings

step "build"
cargo build --workspace --bins

step "Rust tests"
cargo test --workspace

step "interop: genuine rocketmq-client-go v2 against our broker"
ROCKETMQ_BIN="$root/target/debug/rocketmq" bash tests/interop-go/run.sh

step "all tests passed"
