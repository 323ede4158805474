#!/usr/bin/env bash
# Store compatibility with Apache RocketMQ 4.9, both ways, with the genuine Java broker
# (tests/java-broker/start.sh: jars from Maven Central, cached after the first run).
#
#   1. Java writes, we read: the Java broker stores messages and consumer offsets sent by our
#      raw remoting client (checker/), stops gracefully; our MessageStore opens the directory
#      (messages, index, topics.json, consumerOffset.json), then our `rocketmq serve` serves it
#      to pulls, lookups and offset queries.
#   2. We write, Java reads: our `serve` stores the same kind of traffic and stops gracefully;
#      the Java broker starts on that directory and serves it to the same checks.
#   3./4. Both again with the writer killed by SIGKILL: the reader recovers from the writer's
#      abort file and checkpoint.
#
# Both sides use the same file sizes (32 MiB commitlog files, 600000-byte consume queue files,
# RocketMQ's default index geometry), as a store directory only opens with the sizes it was
# written with. Needs java, mvn (first run only) and cargo. Exits non-zero on any mismatch.
#
# Usage: tests/store-compat/run.sh [--keep]   (--keep leaves the work directory for inspection)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
java_broker=${JAVA_BROKER_DIR:-$root/tests/java-broker}
keep=0
[ "${1:-}" = --keep ] && keep=1

log() { echo "store-compat: $*" >&2; }
die() { log "FAILED: $*"; exit 1; }

[ -x "$java_broker/start.sh" ] || die "$java_broker/start.sh not found (the Java broker harness)"
command -v java >/dev/null || die "java not found"

export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$root/target}
log "building rocketmq and the checker"
cargo build --quiet --manifest-path "$root/Cargo.toml" --bin rocketmq
cargo build --quiet --manifest-path "$here/checker/Cargo.toml"
rocketmq=$CARGO_TARGET_DIR/debug/rocketmq
checker=$CARGO_TARGET_DIR/debug/store-compat

work=$(mktemp -d "${TMPDIR:-/tmp}/store-compat.XXXXXX")
pids=()
java_run_dirs=()
cleanup() {
    for d in "${java_run_dirs[@]+"${java_run_dirs[@]}"}"; do
        "$java_broker/stop.sh" "$d" >/dev/null 2>&1 || true
    done
    for p in "${pids[@]+"${pids[@]}"}"; do
        kill -TERM "$p" 2>/dev/null || true
    done
    if [ "$keep" = 1 ]; then log "work directory kept: $work"; else rm -rf "$work"; fi
}
trap cleanup EXIT

# The same file sizes on both sides. RocketMQ's default index geometry (5M slots, 20M entries)
# because `serve` has no setting for it; the index files are sparse.
sizes=(mappedFileSizeCommitLog=33554432 mappedFileSizeConsumeQueue=600000
       maxHashSlotNum=5000000 maxIndexNum=20000000)
cat >"$work/ours.conf" <<EOF
mapedFileSizeCommitLog=33554432
mapedFileSizeConsumeQueue=600000
flushDiskType=ASYNC_FLUSH
EOF

ready_field() { # ready_field <READY line> <name>
    tr ' ' '\n' <<<"$1" | sed -n "s/^$2=//p"
}

# wait_ready <stdout file> <pid> <what>: prints the READY line once it appears.
wait_ready() {
    local out=$1 pid=$2 what=$3
    for _ in $(seq 1 600); do
        if grep -q '^READY ' "$out" 2>/dev/null; then grep -m1 '^READY ' "$out"; return 0; fi
        kill -0 "$pid" 2>/dev/null || { cat "$out" >&2; die "$what exited before READY"; }
        sleep 0.2
    done
    die "$what not READY within 120 s"
}

# The start functions run in this shell (not in $(...)) so that the processes they record are
# the ones cleanup stops; they set READY to the server's READY line.
start_java() { # start_java <store dir> <run dir>
    local sets=()
    for s in "${sizes[@]}"; do sets+=(--set "$s"); done
    java_run_dirs+=("$2")
    "$java_broker/start.sh" --detach --store-dir "$1" --run-dir "$2" "${sets[@]}" >"$2.ready" \
        || die "the Java broker did not start (logs in $2/logs)"
    READY=$(grep -m1 '^READY ' "$2.ready") || die "no READY line from the Java broker"
}

stop_java() { # stop_java <run dir>: graceful (SIGTERM; the broker flushes and persists)
    "$java_broker/stop.sh" "$1"
}

start_ours() { # start_ours <store dir> <stdout file>: also sets OURS_PID
    "$rocketmq" serve --store-dir "$1" --namesrv-port 0 --broker-port 0 --log info \
        --broker-ip 127.0.0.1 --listen-ip 127.0.0.1 -c "$work/ours.conf" \
        >"$2" 2>"$2.err" &
    OURS_PID=$!
    pids+=("$OURS_PID")
    READY=$(wait_ready "$2" "$OURS_PID" "rocketmq serve")
}

stop_ours() { # stop_ours <pid>: graceful
    kill -TERM "$1"
    wait "$1" || die "rocketmq serve did not exit cleanly"
    pids=("${pids[@]/$1}")
}

# ---------------------------------------------------------------- 1. Java writes, we read
log "1. Apache RocketMQ writes"
store1=$work/java-store
start_java "$store1" "$work/java-run-1"
log "java: $READY"
"$checker" produce --writer java --broker "$(ready_field "$READY" broker)" --manifest "$work/java.json"
"$checker" verify --broker "$(ready_field "$READY" broker)" --namesrv "$(ready_field "$READY" namesrv)" \
    --manifest "$work/java.json"
stop_java "$work/java-run-1"
[ ! -e "$store1/abort" ] || die "the Java broker left its abort file (no clean shutdown)"
log "java store: $(ls "$store1/commitlog" | wc -l) commitlog file(s), $(ls "$store1/index" | wc -l) index file(s)"

log "1a. our MessageStore opens the Java store"
"$checker" verify-store --store "$store1" --manifest "$work/java.json"
log "1b. our serve serves the Java store"
start_ours "$store1" "$work/ours-1.out"
log "ours: $READY"
"$checker" verify --broker "$(ready_field "$READY" broker)" --namesrv "$(ready_field "$READY" namesrv)" \
    --manifest "$work/java.json"
stop_ours "$OURS_PID"

# ---------------------------------------------------------------- 2. we write, Java reads
log "2. rocketmq-rs writes"
store2=$work/rust-store
start_ours "$store2" "$work/ours-2.out"
log "ours: $READY"
"$checker" produce --writer rust --broker "$(ready_field "$READY" broker)" --manifest "$work/rust.json"
"$checker" verify --broker "$(ready_field "$READY" broker)" --namesrv "$(ready_field "$READY" namesrv)" \
    --manifest "$work/rust.json"
stop_ours "$OURS_PID"
[ ! -e "$store2/abort" ] || die "our serve left its abort file (no clean shutdown)"

log "2a. Apache RocketMQ serves our store"
start_java "$store2" "$work/java-run-2"
log "java: $READY"
"$checker" verify --broker "$(ready_field "$READY" broker)" --namesrv "$(ready_field "$READY" namesrv)" \
    --manifest "$work/rust.json"
stop_java "$work/java-run-2"
if grep -qiE "load.*fail|recover.*error|checkMessageAndReturnSize|crc check failed" \
    "$work/java-run-2/logs/"*.log 2>/dev/null; then
    grep -iE "load.*fail|recover.*error|checkMessageAndReturnSize|crc check failed" \
        "$work/java-run-2/logs/"*.log >&2
    die "the Java broker logged problems reading our store"
fi

# ---------------------------------------------------------------- 3. crashes, both ways
# SIGKILL instead of a clean stop: the reader runs crash recovery from the writer's abort file
# and checkpoint. Consumer offsets are persisted every few seconds, so they are not checked.
log "3. Apache RocketMQ killed (SIGKILL) after writing; we recover its store"
store3=$work/java-crashed-store
start_java "$store3" "$work/java-run-3"
"$checker" produce --writer java-killed --broker "$(ready_field "$READY" broker)" --manifest "$work/java-killed.json"
"$java_broker/stop.sh" --kill "$work/java-run-3"
[ -e "$store3/abort" ] || die "the killed Java broker left no abort file"
start_ours "$store3" "$work/ours-3.out"
grep -m1 "abort file found" "$work/ours-3.out.err" >&2 || die "our serve did not run crash recovery"
"$checker" verify --skip-offsets --broker "$(ready_field "$READY" broker)" \
    --namesrv "$(ready_field "$READY" namesrv)" --manifest "$work/java-killed.json"
stop_ours "$OURS_PID"
"$checker" verify-store --skip-offsets --store "$store3" --manifest "$work/java-killed.json"

log "4. rocketmq-rs killed (SIGKILL) after writing; Apache RocketMQ recovers its store"
store4=$work/rust-crashed-store
start_ours "$store4" "$work/ours-4.out"
"$checker" produce --writer rust-killed --broker "$(ready_field "$READY" broker)" --manifest "$work/rust-killed.json"
kill -KILL "$OURS_PID"
wait "$OURS_PID" 2>/dev/null || true
pids=("${pids[@]/$OURS_PID}")
[ -e "$store4/abort" ] || die "our killed serve left no abort file"
start_java "$store4" "$work/java-run-4"
"$checker" verify --skip-offsets --broker "$(ready_field "$READY" broker)" \
    --namesrv "$(ready_field "$READY" namesrv)" --manifest "$work/rust-killed.json"
stop_java "$work/java-run-4"
grep -m1 "last shutdown abnormally" "$work/java-run-4/logs/broker.log" >&2 \
    || die "the Java broker did not run its abnormal recovery"

log "PASSED: Apache RocketMQ 4.9 stores open in rocketmq-rs and rocketmq-rs stores open in Apache RocketMQ 4.9, after clean stops and after SIGKILL"
