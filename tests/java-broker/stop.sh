#!/usr/bin/env bash
# Stop the name server + broker that start.sh started in RUN_DIR.
set -euo pipefail

usage() {
    cat <<'USAGE'
Usage: stop.sh [--kill] [--timeout SECS] RUN_DIR

Stops the JVMs listed in RUN_DIR/pids (written by start.sh): the broker first
with SIGTERM (its shutdown hook flushes the store and persists consumer
offsets and configs; it takes ~6 s), then the name server with SIGKILL: in
this setup it keeps nothing on disk (routes live in memory and come back
when the broker registers), and its graceful stop would only add ~3 s of
waiting to every restart. A broker still alive after the timeout (default
30 s) gets SIGKILL.

  --kill          SIGKILL both at once instead (simulates a crash; the store
                  is then recovered as after an abnormal shutdown)
  --timeout SECS  graceful-stop timeout per JVM
USAGE
}

KILL=0
TIMEOUT=30
RUN_DIR=""
while [ $# -gt 0 ]; do
    case "$1" in
        --kill) KILL=1; shift ;;
        --timeout) TIMEOUT=$2; shift 2 ;;
        -h|--help) usage; exit 0 ;;
        -*) echo "stop.sh: unknown option $1" >&2; exit 2 ;;
        *) RUN_DIR=$1; shift ;;
    esac
done
[ -n "$RUN_DIR" ] || { usage >&2; exit 2; }
PIDS=$RUN_DIR/pids
[ -f "$PIDS" ] || { echo "stop.sh: no $PIDS, nothing to stop" >&2; exit 0; }

# Alive and still one of ours: a pid could have been reused since start.sh
# wrote the file, so the command line must mention the run dir. A zombie
# (exited, not yet reaped by start.sh) counts as dead.
ours() {
    local pid=$1
    [ -n "$pid" ] && [ -r "/proc/$pid/cmdline" ] || return 1
    [ "$(awk '{print $3}' "/proc/$pid/stat" 2>/dev/null)" != Z ] || return 1
    tr '\0' ' ' <"/proc/$pid/cmdline" | grep -qF -- "$RUN_DIR"
}

stop_one() { # stop_one <pid> <name> [KILL]
    local pid=$1 name=$2 deadline
    ours "$pid" || return 0
    if [ "$KILL" = 1 ] || [ "${3:-}" = KILL ]; then
        kill -KILL "$pid" 2>/dev/null || true
        while ours "$pid"; do sleep 0.05; done
        return 0
    fi
    kill -TERM "$pid" 2>/dev/null || return 0
    deadline=$((SECONDS + TIMEOUT))
    while ours "$pid"; do
        if [ $SECONDS -ge $deadline ]; then
            echo "stop.sh: $name (pid $pid) still running after ${TIMEOUT}s, sending SIGKILL" >&2
            kill -KILL "$pid" 2>/dev/null || true
            break
        fi
        sleep 0.1
    done
}

NS_PID=$(sed -n 's/^namesrv=//p' "$PIDS")
BR_PID=$(sed -n 's/^broker=//p' "$PIDS")
# broker first, so it can unregister while the name server is still up
stop_one "$BR_PID" broker
stop_one "$NS_PID" "name server" KILL
rm -f "$PIDS"
