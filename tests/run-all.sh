#!/usr/bin/env bash
# Builds everything and runs every test: Rust (unit + integration against a real embedded
# broker), the interop suite with the genuine rocketmq-client-go against our `serve`, then the
# bindings: the librocketmq C ABI (C under ASan, genuine rocketmq-client-python 2.0.0 over ctypes)
# and the Go package, and the Python wheel in a fresh virtual environment.
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

step "the Rust client against a genuine Apache RocketMQ 4.9 broker (Maven Central)"
bash tests/java-smoke.sh

step "store compatibility with Apache RocketMQ 4.9, both ways"
bash tests/store-compat/run.sh

step "bindings: C ABI (librocketmq) and the Go package"
bash tests/run-bindings.sh

step "Python wheel: fresh venv, pip install ., pytest against the embedded broker"
bash python/run-tests.sh

step "bench smoke: bench/compare --short, both brokers (checks that every row produced a number, nothing about speed)"
# The debug binary keeps CI short; real comparisons use the release build (the default).
./bench/compare --short --binary "$root/target/debug/rocketmq" --out-dir "$(mktemp -d)"

step "all tests passed"
