#!/usr/bin/env bash
# Builds librocketmq (debug) and runs the C API test under AddressSanitizer against the
# embedded broker. Exits non-zero on any failure.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
lib=$("$root/ffi/build-lib.sh" | tail -1)
out="${CARGO_TARGET_DIR:-$root/target}/c-tests"

# Every function rocketmq-client-cpp's C headers declare (and the one it exports undeclared) is
# exported by our librocketmq.so.
missing=$(comm -23 "$here/librocketmq-symbols.txt" \
    <(nm -D --defined-only "$lib/lib/librocketmq.so" | awk '$2 == "T" { print $3 }' | sort -u))
if [ -n "$missing" ]; then
    echo "librocketmq.so lacks: $missing" >&2
    exit 1
fi
echo "all $(wc -l <"$here/librocketmq-symbols.txt") librocketmq functions are exported"
mkdir -p "$out"
cc=${CC:-gcc}
"$cc" -std=c11 -Wall -Wextra -Werror -g -O1 -fsanitize=address,undefined -fno-omit-frame-pointer \
    -I"$lib/include" "$here/test_librocketmq.c" -o "$out/test_librocketmq" \
    -L"$lib/lib" -lrocketmq -Wl,-rpath,"$lib/lib" -lpthread
# The same program must also compile as C++ against the headers (extern "C" guards).
if command -v g++ >/dev/null; then
    echo '#include "CProducer.h"
#include "CPushConsumer.h"
#include "CPullConsumer.h"
#include "CLitePullConsumer.h"
#include "CEmbeddedBroker.h"
#include "CTopicAdmin.h"
#include "CErrorMessage.h"
int main() { return GetRocketMQAbiVersion() == ROCKETMQ_RS_ABI_VERSION ? 0 : 1; }' >"$out/cxx_headers.cpp"
    g++ -Wall -Werror -I"$lib/include" "$out/cxx_headers.cpp" -o "$out/cxx_headers" -L"$lib/lib" -lrocketmq -Wl,-rpath,"$lib/lib"
    "$out/cxx_headers"
fi
# Leak checking is on: everything a handle allocated is freed when it is destroyed. What lives
# for the process (the two runtimes, the handle registries) is still reachable at exit, so it is
# no leak. Full stacks (the default fast unwinder stops at the first Rust frame without a frame
# pointer) make a report point at the allocating line.
ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1:fast_unwind_on_malloc=0:malloc_context_size=40} \
    timeout 600 "$out/test_librocketmq"
