#!/usr/bin/env bash
# npm run test:asan [-- <jest path patterns or options>]
#
# Builds the addon with AddressSanitizer + UBSan into build-asan/ (never build/:
# node-gyp-build would load it from build/Release) and runs the native-heavy test
# suites against it. Node itself is not instrumented, so the sanitizer runtimes are
# preloaded; the loader is pointed at the ASan build with SHEARS_ADDON. Fails when
# jest fails or when any sanitizer report appears in the output.
set -euo pipefail
cd "$(dirname "$0")/.."

BUILD_DIR=build-asan
ADDON="$PWD/$BUILD_DIR/Release/shears.node"
LOG="$BUILD_DIR/test-asan.log"
# Every suite that drives the native code (all but test/cuda, test/report and test/loader);
# test/fuzz holds the fuzzer's regression cases.
DEFAULT_SUITES=(test/kernels test/sparsegpt test/forward test/formats test/prune test/tokenizer
  test/models test/eval test/calibration test/sweep test/demo-model test/smoke test/fuzz)

node "$(node -p "require.resolve('cmake-js/bin/cmake-js')")" compile --out "$BUILD_DIR" --CDSHEARS_SANITIZE=ON

runtime() {
  local lib
  lib=$("${CXX:-g++}" -print-file-name="$1")
  # -print-file-name echoes the bare name when the compiler has no such library.
  if [ ! -f "$lib" ]; then echo "test:asan: ${CXX:-g++} has no $1 (install the compiler's sanitizer runtimes)" >&2; exit 2; fi
  echo "$lib"
}
ASAN_LIB=$(runtime libasan.so)
UBSAN_LIB=$(runtime libubsan.so)
# Read ldd's whole output first: grep -q quitting early would fail the pipe under pipefail.
deps=$(ldd "$ADDON")
if [[ $deps != *libasan* ]]; then
  echo "test:asan: $ADDON is not linked against libasan (stale build folder? remove $BUILD_DIR)" >&2
  exit 2
fi

if [ "$#" -gt 0 ]; then suites=("$@"); else suites=("${DEFAULT_SUITES[@]}"); fi

# detect_leaks=0: V8 and Node keep allocations alive until exit by design.
# allow_user_segv_handler=1: V8's WebAssembly trap handler installs its own SIGSEGV handler.
export ASAN_OPTIONS="detect_leaks=0:halt_on_error=1:allow_user_segv_handler=1:print_summary=1${ASAN_OPTIONS:+:$ASAN_OPTIONS}"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1:print_summary=1${UBSAN_OPTIONS:+:$UBSAN_OPTIONS}"
export SHEARS_ADDON="$ADDON"

echo "test:asan: $ADDON with LD_PRELOAD=$ASAN_LIB $UBSAN_LIB; log in $LOG"
set +e
# --runInBand: the tests run in this very process, which carries the preload; the
# timeout is raised for this run only (instrumented kernels are several times slower).
LD_PRELOAD="$ASAN_LIB $UBSAN_LIB" node node_modules/jest/bin/jest.js --ci --runInBand --testTimeout=900000 \
  "${suites[@]}" 2>&1 | tee "$LOG"
status=${PIPESTATUS[0]}
set -e

reports=$(grep -cE 'ERROR: (Address|Leak)Sanitizer|SUMMARY: (Address|UndefinedBehavior)Sanitizer|: runtime error: ' "$LOG" || true)
if [ "$reports" -gt 0 ]; then
  echo "test:asan: FAILED: $reports sanitizer report line(s) in $LOG" >&2
  exit 1
fi
if [ "$status" -ne 0 ]; then
  echo "test:asan: FAILED: jest exited with $status (no sanitizer report in $LOG)" >&2
  exit "$status"
fi
echo "test:asan: passed, no sanitizer report"
