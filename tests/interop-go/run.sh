#!/usr/bin/env bash
# Run the Go-client interop suite against a broker under test.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

usage() {
    cat <<'EOF'
Usage: run.sh [go test flags...]

Runs the interop suite (the genuine Apache RocketMQ Go client v2, pinned in
go.mod) against one broker under test, chosen by the environment:

  ROCKETMQ_BIN=/path/to/rocketmq   our binary, started as
                                   `rocketmq serve --store-dir <tmp> --namesrv-port 0
                                    --broker-port 0 --broker-ip 127.0.0.1`
  ROCKETMQ_TARGET=java             genuine Apache RocketMQ 4.9.x via
                                   tests/java-broker/start.sh

Optional:
  ROCKETMQ_BROKER_CONF=file        passed as `-c file` to either broker
  INTEROP_TIMEOUT_SCALE=2          stretch every wait (slow machines)
  INTEROP_GO_LOG_LEVEL=debug       Go client log level (default warn); the
                                   log goes to go-client.log in the work dir
  INTEROP_KEEP=1                   keep the work dir (logs, store) after a pass
  GO_TEST_TIMEOUT=6m               overall `go test -timeout`

Extra arguments go to `go test`, e.g. `run.sh -run 'TestSend' -v`.
The work dir (broker.log, go-client.log, store) is printed and kept when a
test fails.
EOF
}

case "${1:-}" in
    -h|--help) usage; exit 0 ;;
esac

if [ -z "${ROCKETMQ_BIN:-}" ] && [ "${ROCKETMQ_TARGET:-}" != java ]; then
    echo "run.sh: set ROCKETMQ_BIN=/path/to/rocketmq or ROCKETMQ_TARGET=java (see --help)" >&2
    exit 2
fi
if [ "${ROCKETMQ_TARGET:-}" = java ]; then
    # Fetch the jars now, so the download does not count against test timeouts.
    "$HERE/../java-broker/start.sh" --fetch-only
fi

# Paths given relative to the caller's directory must survive the cd below.
abspath() { case "$1" in /*) echo "$1" ;; *) echo "$PWD/$1" ;; esac; }
[ -z "${ROCKETMQ_BIN:-}" ] || export ROCKETMQ_BIN="$(abspath "$ROCKETMQ_BIN")"
[ -z "${ROCKETMQ_BROKER_CONF:-}" ] || export ROCKETMQ_BROKER_CONF="$(abspath "$ROCKETMQ_BROKER_CONF")"

cd "$HERE"
# -race is left off: it slows the genuine client's many goroutines a lot on a
# two-core machine, and the code under test is the broker, not this suite.
exec go test -count=1 -timeout "${GO_TEST_TIMEOUT:-6m}" "$@" .
