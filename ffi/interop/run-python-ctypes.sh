#!/usr/bin/env bash
# The genuine rocketmq-client-python==2.0.0 from PyPI (ctypes over librocketmq), in a fresh venv,
# loading our librocketmq.so through ctypes.util.find_library (SONAME librocketmq.so), for a
# produce / consume / transaction round trip against the embedded broker.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
lib=$("$root/ffi/build-lib.sh" | tail -1)
venv="${CARGO_TARGET_DIR:-$root/target}/python-ctypes-venv"
if ! [ -x "$venv/bin/python" ]; then
    python3 -m venv "$venv"
fi
"$venv/bin/pip" install --quiet --disable-pip-version-check "rocketmq-client-python==2.0.0"
cd "$here"
# find_library('rocketmq') looks through the compiler's search path (LIBRARY_PATH), reads the
# SONAME, and dlopen finds that name through LD_LIBRARY_PATH.
LIBRARY_PATH="$lib/lib" LD_LIBRARY_PATH="$lib/lib" timeout 300 "$venv/bin/python" python_ctypes_roundtrip.py
