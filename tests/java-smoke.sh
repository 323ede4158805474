#!/usr/bin/env bash
# The Rust client's smoke suite (send, push consume, pull, transaction, takeover) against a
# genuine Apache RocketMQ 4.9 name server + broker from Maven Central.
set -euo pipefail
cd "$(dirname "$0")/.."
run_dir=$(mktemp -d "${TMPDIR:-/tmp}/rocketmq-java-smoke.XXXXXX")
ready=$(bash tests/java-broker/start.sh --detach --run-dir "$run_dir" \
    --set transactionTimeOut=1000 --set transactionCheckInterval=1000)
trap 'bash tests/java-broker/stop.sh "$run_dir" >/dev/null 2>&1 || true; rm -rf "$run_dir"' EXIT
echo "$ready"
ns=$(sed -n 's/.*namesrv=\([^ ]*\).*/\1/p' <<<"$ready")
broker=$(sed -n 's/.*broker=\([^ ]*\).*/\1/p' <<<"$ready")
test -n "$ns" && test -n "$broker"
ROCKETMQ_NAMESRV="$ns" ROCKETMQ_BROKER="$broker" cargo test --test client_external_broker -- --test-threads=1
