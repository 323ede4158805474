#!/usr/bin/env bash
# The Python binding's tests, from nothing: a fresh venv, `pip install .[test]` (maturin, the
# build backend, comes from PyPI; the extension is built with the dev profile to keep this
# quick), then pytest against the embedded broker, then the smoke form of the Python-vs-Rust
# benchmark (bench/python-vs-rust --short: every row must produce a number; no speed is
# asserted). Exits non-zero on any failure.
#
# Usage: python/run-tests.sh [pytest args...]
set -euo pipefail
cd "$(dirname "$0")/.."

venv=$(mktemp -d "${TMPDIR:-/tmp}/rocketmq-py-venv.XXXXXX")
trap 'rm -rf "$venv"' EXIT

echo "==> venv in $venv ($(python3 --version))"
python3 -m venv "$venv"

echo "==> pip install .[test] (dev profile)"
# MATURIN_PEP517_ARGS reaches `maturin` through pip's PEP 517 build.
MATURIN_PEP517_ARGS="--profile dev" "$venv/bin/python" -m pip install --quiet --disable-pip-version-check ".[test]"

echo "==> pytest"
# Run from the tests' own directory so `rocketmq` is the installed package, not a source path.
(cd python/tests && "$venv/bin/python" -m pytest -p no:cacheprovider -q "$@")

echo "==> bench/python-vs-rust --short (dev builds: checks that every row produces a number)"
cargo build --quiet -p rocketmq --bin rocketmq
"$venv/bin/python" bench/python-vs-rust --short --python "$venv/bin/python" \
    --binary "${CARGO_TARGET_DIR:-target}/debug/rocketmq"
