#!/usr/bin/env bash
# Builds librocketmq and runs every bindings check; exits non-zero on the first failure.
#   1. ffi: the committed headers match a fresh cbindgen run (pinned version), unit tests,
#      clippy, formatting
#   2. C: tests/c under AddressSanitizer (leaks included) against the embedded broker
#   3. Go: go vet, go test -race against the embedded broker (static link), the dynamic link
#      (-tags rocketmq_dynamic), the no-cgo error, and the examples build
#   4. Python: the genuine rocketmq-client-python 2.0.0 (PyPI, ctypes) loading our librocketmq.so
# Debug builds throughout (the machine is small); `go/build-native.sh` without --debug makes
# the release library applications ship.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
step() { printf '\n==> %s\n' "$*"; }

step "ffi: headers are up to date"
ffi/gen-headers.sh --check

step "ffi: format, lints, unit tests"
cargo fmt -p rocketmq-ffi -- --check
cargo clippy -p rocketmq-ffi --no-deps --all-targets -- -D warnings
cargo test -p rocketmq-ffi

step "C: librocketmq API test under AddressSanitizer"
tests/c/run.sh

step "Go: native library"
go/build-native.sh --debug

cd "$root/go"
step "Go: vet"
go vet ./...
test -z "$(gofmt -l .)" || { gofmt -l .; echo "gofmt needed" >&2; exit 1; }

step "Go: tests (race detector, static link)"
go test -race -count=1 ./...

step "Go: dynamic link"
go test -tags rocketmq_dynamic -count=1 -run 'TestNotStartedAndErrors|TestAdminFetchQueues' .

step "Go: building without cgo fails with a clear message"
if out=$(CGO_ENABLED=0 go build ./... 2>&1); then
    echo "a build without cgo succeeded" >&2
    exit 1
fi
echo "$out" | grep -q "requires_cgo" || { echo "$out" >&2; exit 1; }

if [ -d examples ]; then
    step "Go: examples build"
    go vet ./examples/...
    # Linked against the shared library: 15 static links of the debug archive take minutes here.
    go build -tags rocketmq_dynamic ./examples/...
    step "Go: quickstart example runs against an embedded broker"
    go run ./examples/quickstart
fi

step "Go: one program compiled against this module and against the genuine v2 client"
compat/run.sh

cd "$root"
step "Python: the genuine rocketmq-client-python 2.0.0 (ctypes) on our librocketmq.so"
ffi/interop/run-python-ctypes.sh

step "bindings: all passed"
