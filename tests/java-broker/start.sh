#!/usr/bin/env bash
# Start a genuine Apache RocketMQ 4.9.x name server + broker on free loopback
# ports, for interop tests, benchmarks and store-compatibility checks.
# Run with --help for usage; README.md beside this file explains the choices.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

usage() {
    cat <<'EOF'
Usage: start.sh [options]

Starts a genuine Apache RocketMQ 4.9.x name server and broker (JVMs started
directly, no distribution zip) and prints exactly one line to stdout once both
accept requests and the broker is registered with the name server:

    READY namesrv=127.0.0.1:<port> broker=127.0.0.1:<port> store=<dir>

Everything else (progress, errors) goes to stderr. By default the script stays
in the foreground: SIGTERM/SIGINT stop the broker (gracefully, it persists
offsets) and then the name server. Killing the script's whole process group
with SIGKILL kills the JVMs too (a crash). If a JVM dies on its own, the
script stops the other one and exits 1.

The jars come from Maven Central through Maven (pom.xml beside this script)
and are cached in tests/java-broker/.cache/ (git-ignored); the first run needs
network access to Maven Central, later runs do not.

Options:
  --store-dir DIR     broker store root (storePathRootDir). Created if missing;
                      an existing store is reused, so a restart on the same DIR
                      recovers it. Default: <run-dir>/store
  --run-dir DIR       where configs, logs, pid file, user.home and java.io.tmpdir
                      go. Default: a new temp dir, removed when the script stops
                      (foreground mode, unless --keep-run-dir).
  --keep-run-dir      do not remove an auto-created run dir on exit
  -c, --broker-conf F extra broker properties appended to the generated
                      broker.conf (later keys win), like `rocketmq serve -c`
  --set KEY=VALUE     one extra broker property (repeatable, applied last)
  --version V         RocketMQ version to fetch and run (default: 4.9.7)
  --detach            print READY, then exit leaving the JVMs running; stop
                      them with `stop.sh <run-dir>` (the run dir is printed on
                      stderr and kept)
  --fetch-only        only download the jars into the cache, then exit
  -h, --help          this text

Environment:
  NAMESRV_JAVA_HEAP   default "-Xms128m -Xmx256m"
  BROKER_JAVA_HEAP    default "-Xms256m -Xmx512m"
  EXTRA_JAVA_OPTS     appended to both JVMs' options
  JAVA                java binary (default: java on PATH)
  ROCKETMQ_JAVA_CACHE cache dir for jars (default: tests/java-broker/.cache)
  START_TIMEOUT_SECS  how long to wait for each JVM to become ready (default 90)

Examples:
  ./start.sh                               # foreground, Ctrl-C to stop
  ./start.sh --detach --run-dir /tmp/rmq   # background; ./stop.sh /tmp/rmq
  ./start.sh --set maxMessageSize=1048576  # tweak a broker setting
EOF
}

VERSION=4.9.7
STORE_DIR=""
RUN_DIR=""
KEEP_RUN_DIR=0
DETACH=0
FETCH_ONLY=0
EXTRA_CONF=""
EXTRA_SETS=()

while [ $# -gt 0 ]; do
    case "$1" in
        --store-dir) STORE_DIR=$2; shift 2 ;;
        --run-dir) RUN_DIR=$2; shift 2 ;;
        --keep-run-dir) KEEP_RUN_DIR=1; shift ;;
        -c|--broker-conf) EXTRA_CONF=$2; shift 2 ;;
        --set) EXTRA_SETS+=("$2"); shift 2 ;;
        --version) VERSION=$2; shift 2 ;;
        --detach) DETACH=1; shift ;;
        --fetch-only) FETCH_ONLY=1; shift ;;
        -h|--help) usage; exit 0 ;;
        *) echo "start.sh: unknown argument: $1 (see --help)" >&2; exit 2 ;;
    esac
done

log() { echo "java-broker: $*" >&2; }
die() { log "ERROR: $*"; exit 1; }

JAVA=${JAVA:-java}
CACHE_DIR=${ROCKETMQ_JAVA_CACHE:-$HERE/.cache}
LIB_DIR=$CACHE_DIR/rocketmq-$VERSION/lib
START_TIMEOUT_SECS=${START_TIMEOUT_SECS:-90}
# Sized for a 2-core / 24 GiB machine that also runs the tests and clients:
# see README.md ("JVM sizing").
NAMESRV_JAVA_HEAP=${NAMESRV_JAVA_HEAP:--Xms128m -Xmx256m}
BROKER_JAVA_HEAP=${BROKER_JAVA_HEAP:--Xms256m -Xmx512m}

# ---------------------------------------------------------------- jars

fetch_jars() {
    [ -f "$LIB_DIR/.complete" ] && return 0
    command -v mvn >/dev/null || die "mvn not found; it is needed once to fetch the RocketMQ jars"
    mkdir -p "$CACHE_DIR"
    # Several test processes may start at once: one fetches, the others wait.
    exec 9>"$CACHE_DIR/.lock"
    flock 9
    if [ ! -f "$LIB_DIR/.complete" ]; then
        log "fetching org.apache.rocketmq:rocketmq-{namesrv,broker}:$VERSION and dependencies from Maven Central"
        local tmp=$CACHE_DIR/rocketmq-$VERSION.tmp
        rm -rf "$tmp"
        mvn -q -B -Dstyle.color=never -f "$HERE/pom.xml" -Drocketmq.version="$VERSION" \
            dependency:copy-dependencies -DincludeScope=runtime -DoutputDirectory="$tmp/lib" >&2 \
            || die "maven could not fetch RocketMQ $VERSION"
        [ -f "$tmp/lib/rocketmq-broker-$VERSION.jar" ] || die "rocketmq-broker-$VERSION.jar missing after fetch"
        rm -rf "$CACHE_DIR/rocketmq-$VERSION"
        mv "$tmp" "$CACHE_DIR/rocketmq-$VERSION"
        touch "$LIB_DIR/.complete"
    fi
    flock -u 9
    exec 9>&-
}

fetch_jars
if [ "$FETCH_ONLY" = 1 ]; then
    log "jars cached in $LIB_DIR"
    exit 0
fi

command -v "$JAVA" >/dev/null || die "java not found"
JAVA_MAJOR=$("$JAVA" -XshowSettings:properties -version 2>&1 | sed -n 's/^ *java.specification.version = //p')
JAVA_MAJOR=${JAVA_MAJOR#1.}

# ---------------------------------------------------------------- dirs

CREATED_RUN_DIR=0
if [ -z "$RUN_DIR" ]; then
    RUN_DIR=$(mktemp -d "${TMPDIR:-/tmp}/rocketmq-java.XXXXXX")
    CREATED_RUN_DIR=1
fi
mkdir -p "$RUN_DIR"
RUN_DIR=$(cd "$RUN_DIR" && pwd)
[ -n "$STORE_DIR" ] || STORE_DIR=$RUN_DIR/store
mkdir -p "$STORE_DIR" "$RUN_DIR/home" "$RUN_DIR/logs" "$RUN_DIR/tmp"
STORE_DIR=$(cd "$STORE_DIR" && pwd)
if [ -f "$RUN_DIR/pids" ]; then
    # Left behind by a crash (SIGKILL of the whole group)? Then it is stale.
    for pid in $(sed -n 's/^[a-z]*=//p' "$RUN_DIR/pids"); do
        if [ -r "/proc/$pid/cmdline" ] && tr '\0' ' ' <"/proc/$pid/cmdline" | grep -qF -- "$RUN_DIR"; then
            die "a JVM of a previous start is still running in $RUN_DIR (pid $pid); stop.sh $RUN_DIR"
        fi
    done
    rm -f "$RUN_DIR/pids"
fi

# ---------------------------------------------------------------- ports

# Ports below the kernel's ephemeral range (32768+) so that no outgoing
# connection holds them. The broker also binds listenPort-2 (the "VIP"
# channel) and listenPort+1 (HA), so a block of four is checked.
port_in_use() {
    # any TCP socket (listening or connected) with this local port
    [ -n "$(ss -Htan "sport = :$1" 2>/dev/null)" ]
}

pick_port() { # pick_port <first-offset> <last-offset>: prints base port
    local lo=$1 hi=$2 base off ok
    for _ in $(seq 1 200); do
        base=$((20000 + RANDOM % 12000))
        ok=1
        for off in $(seq "$lo" "$hi"); do
            if port_in_use $((base + off)); then ok=0; break; fi
        done
        if [ "$ok" = 1 ]; then echo "$base"; return 0; fi
    done
    die "no free port found"
}

wait_listening() { # wait_listening <pid> <port> <what>
    local pid=$1 port=$2 what=$3 deadline=$((SECONDS + START_TIMEOUT_SECS))
    while [ $SECONDS -lt $deadline ]; do
        kill -0 "$pid" 2>/dev/null || return 1
        if [ -n "$(ss -Htln "sport = :$port" 2>/dev/null)" ]; then return 0; fi
        sleep 0.2
    done
    log "$what did not listen on $port within ${START_TIMEOUT_SECS}s"
    return 1
}

# ---------------------------------------------------------------- JVMs

JAVA_OPTS=(
    -server
    # Serial GC: the heaps are small and the machine has two cores, which the
    # tests and clients need more than a concurrent collector does.
    -XX:+UseSerialGC
    # Only Netty's pooled buffers live off-heap (transientStorePool is off).
    -XX:MaxDirectMemorySize=256m
    -XX:-OmitStackTraceInFastThrow
    -XX:-UsePerfData
    "-XX:ErrorFile=$RUN_DIR/logs/hs_err_%p.log"
    -Djava.net.preferIPv4Stack=true
    # No TLS: the default "permissive" mode generates a self-signed
    # certificate at start, over a second per JVM on a small machine.
    -Dtls.server.mode=disabled
    # Keep every file the JVMs write inside the run dir, never under $HOME.
    "-Duser.home=$RUN_DIR/home"
    "-Djava.io.tmpdir=$RUN_DIR/tmp"
    "-Drocketmq.client.logRoot=$RUN_DIR/logs"
    "-Drmq.log.dir=$RUN_DIR/logs"
    # ROCKETMQ_HOME: only conf/logback_{namesrv,broker}.xml is read from it.
    "-Drocketmq.home.dir=$HERE"
)
if [ "${JAVA_MAJOR%%.*}" -ge 9 ] 2>/dev/null; then
    # 4.9.x unmaps commitlog files through DirectByteBuffer.cleaner() by
    # reflection, which newer JDKs refuse without these.
    JAVA_OPTS+=(
        --add-opens java.base/java.nio=ALL-UNNAMED
        --add-opens java.base/jdk.internal.ref=ALL-UNNAMED
        --add-opens java.base/sun.nio.ch=ALL-UNNAMED
        --add-exports java.base/sun.nio.ch=ALL-UNNAMED
    )
fi
# shellcheck disable=SC2206 # word splitting of the user's option strings is intended
EXTRA_OPTS=(${EXTRA_JAVA_OPTS:-})
# shellcheck disable=SC2206
NS_HEAP=($NAMESRV_JAVA_HEAP)
# shellcheck disable=SC2206
BR_HEAP=($BROKER_JAVA_HEAP)
CLASSPATH_LIB="$LIB_DIR/*"

NS_PID=""
BR_PID=""

launch() { # launch <logname> <java args...>: starts a JVM, sets LAUNCHED_PID
    local out=$RUN_DIR/logs/$1.out
    shift
    if [ "$DETACH" = 1 ]; then
        # own session: survives the caller's terminal and process group
        setsid "$JAVA" "$@" </dev/null >"$out" 2>&1 &
    else
        "$JAVA" "$@" </dev/null >"$out" 2>&1 &
    fi
    LAUNCHED_PID=$!
}

write_pids() {
    printf 'namesrv=%s\nbroker=%s\n' "$NS_PID" "$BR_PID" >"$RUN_DIR/pids"
}

stop_all() {
    if [ -f "$RUN_DIR/pids" ]; then
        "$HERE/stop.sh" "$RUN_DIR" || true
    fi
}

cleanup_foreground() {
    stop_all
    if [ "$CREATED_RUN_DIR" = 1 ] && [ "$KEEP_RUN_DIR" = 0 ]; then
        rm -rf "$RUN_DIR"
    fi
}

start_namesrv() {
    NS_PORT=$(pick_port 0 0) || return 1
    cat >"$RUN_DIR/namesrv.properties" <<EOF
listenPort=$NS_PORT
kvConfigPath=$RUN_DIR/home/namesrv/kvConfig.json
EOF
    launch namesrv "${JAVA_OPTS[@]}" "${NS_HEAP[@]}" "${EXTRA_OPTS[@]}" \
        -cp "$CLASSPATH_LIB" org.apache.rocketmq.namesrv.NamesrvStartup \
        -c "$RUN_DIR/namesrv.properties"
    NS_PID=$LAUNCHED_PID
    write_pids
    wait_listening "$NS_PID" "$NS_PORT" "name server"
}

start_broker() {
    BR_PORT=$(pick_port -2 1) || return 1
    {
        cat <<EOF
# generated by tests/java-broker/start.sh
brokerClusterName=DefaultCluster
brokerName=broker-a
brokerId=0
brokerRole=ASYNC_MASTER
flushDiskType=ASYNC_FLUSH
namesrvAddr=127.0.0.1:$NS_PORT
brokerIP1=127.0.0.1
listenPort=$BR_PORT
storePathRootDir=$STORE_DIR
storePathCommitLog=$STORE_DIR/commitlog
autoCreateTopicEnable=true
autoCreateSubscriptionGroup=true
defaultTopicQueueNums=8
maxMessageSize=4194304
# small files for tests: 32 MiB commitlog files, 30k-entry consume queue
# files, a ~4 MiB index file instead of the default ~400 MiB one
mappedFileSizeCommitLog=33554432
mappedFileSizeConsumeQueue=600000
maxHashSlotNum=50000
maxIndexNum=200000
# a loaded 2-core machine can queue a send for more than the default 200 ms
waitTimeMillsInSendQueue=1000
EOF
        if [ -n "$EXTRA_CONF" ]; then
            echo "# from $EXTRA_CONF"
            cat "$EXTRA_CONF"
            echo
        fi
        for kv in "${EXTRA_SETS[@]+"${EXTRA_SETS[@]}"}"; do
            echo "$kv"
        done
    } >"$RUN_DIR/broker.conf"
    launch broker "${JAVA_OPTS[@]}" "${BR_HEAP[@]}" "${EXTRA_OPTS[@]}" \
        -cp "$CLASSPATH_LIB" org.apache.rocketmq.broker.BrokerStartup \
        -c "$RUN_DIR/broker.conf"
    BR_PID=$LAUNCHED_PID
    write_pids
    wait_listening "$BR_PID" "$BR_PORT" "broker" || return 1
    # BrokerStartup logs "boot success" after its first registration with
    # the name server, so from then on clients can route to it.
    local deadline=$((SECONDS + START_TIMEOUT_SECS))
    while [ $SECONDS -lt $deadline ]; do
        kill -0 "$BR_PID" 2>/dev/null || return 1
        grep -q "boot success" "$RUN_DIR/logs/broker.log" 2>/dev/null && return 0
        sleep 0.2
    done
    log "broker did not report boot success within ${START_TIMEOUT_SECS}s"
    return 1
}

show_logs() {
    local f
    for f in "$RUN_DIR"/logs/*.out "$RUN_DIR"/logs/*.log; do
        [ -s "$f" ] || continue
        log "---- tail of $f"
        tail -n 30 "$f" >&2
    done
}

if [ "$DETACH" = 0 ]; then
    trap 'cleanup_foreground; exit 0' TERM INT HUP
fi

# A port can be taken between the check and the JVM's bind: retry with new
# ports a few times.
started=0
for attempt in 1 2 3; do
    if start_namesrv && start_broker; then
        started=1
        break
    fi
    log "start attempt $attempt failed"
    show_logs
    stop_all
    rm -f "$RUN_DIR/pids"
done
if [ "$started" = 0 ]; then
    [ "$DETACH" = 0 ] && cleanup_foreground
    die "could not start RocketMQ $VERSION (run dir $RUN_DIR)"
fi

log "RocketMQ $VERSION up: namesrv pid $NS_PID, broker pid $BR_PID, run dir $RUN_DIR"
echo "READY namesrv=127.0.0.1:$NS_PORT broker=127.0.0.1:$BR_PORT store=$STORE_DIR"

if [ "$DETACH" = 1 ]; then
    log "detached; stop with: $HERE/stop.sh $RUN_DIR"
    exit 0
fi

# Foreground: wait until signalled, or until a JVM dies on its own.
set +e
wait -n "$NS_PID" "$BR_PID"
log "a JVM exited unexpectedly"
show_logs
cleanup_foreground
exit 1
