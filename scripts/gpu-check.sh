#!/usr/bin/env bash
# One-shot check of the CUDA backend on a machine with a GPU (about 10 minutes):
#   1. environment (nvidia-smi, nvcc, node, cmake)
#   2. the Node-free differential self-test (CUDA backend vs CPU backend, bit for bit),
#      built with plain cmake for CUDA_ARCHITECTURES (default 90, the H200) and run
#   3. when node and node_modules are present: the CPU addon, the CUDA variant
#      (build-cuda/), jest test/cuda with the device, and the kernel benchmark on the
#      cuda backend if bench/kernels.ts takes --backend
#   4. compute-sanitizer memcheck over the self-test's small cases, if installed
# Logs go to $OUT (default ./gpu-out), at most 8 files; steps.txt has each step's exit
# code and duration. A failed step does not stop the ones after it.
# The self-test needs no Node and no node_modules (the compute code is N-API-free).
set -x
cd "$(dirname "$0")/.." || exit 1
ROOT="$PWD"
OUT="${OUT:-$ROOT/gpu-out}"
mkdir -p "$OUT"
ARCH="${CUDA_ARCHITECTURES:-90}"
export PATH="/usr/local/cuda/bin:$PATH"
SELFTEST_DIR="${SELFTEST_DIR:-/tmp/shears-selftest-build}"
JOBS="$(nproc 2>/dev/null || echo 4)"
: > "$OUT/steps.txt"

# step NAME LOGFILE COMMAND...: runs the command, appends its output to $OUT/LOGFILE,
# records "NAME rc=N Ns" in steps.txt, and never stops the script.
step() {
  local name="$1" log="$OUT/$2"
  shift 2
  local t0=$SECONDS
  echo "===== $name: $*" >> "$log"
  "$@" >> "$log" 2>&1
  local rc=$?
  echo "$name rc=$rc $((SECONDS - t0))s" | tee -a "$OUT/steps.txt"
  return $rc
}

env_info() {
  date -u
  uname -a
  nvidia-smi || echo "nvidia-smi not available"
  nvcc --version || echo "nvcc not found"
  cmake --version | head -1
  command -v ninja && ninja --version
  command -v node && node --version
  command -v compute-sanitizer || true
}
step env env.log env_info

# 2. Self-test without Node (the compute code includes no N-API header: plain cmake).
GEN=()
command -v ninja > /dev/null && GEN=(-G Ninja)
step selftest-configure build.log cmake -S "$ROOT" -B "$SELFTEST_DIR" "${GEN[@]}" -DSHEARS_CUDA=ON \
  -DCMAKE_CUDA_COMPILER="$(command -v nvcc)" -DCMAKE_CUDA_ARCHITECTURES="$ARCH" &&
  step selftest-build build.log cmake --build "$SELFTEST_DIR" --target shears_cuda_selftest -j "$JOBS"
if [ -x "$SELFTEST_DIR/shears_cuda_selftest" ]; then
  step selftest selftest.log "$SELFTEST_DIR/shears_cuda_selftest"
  tail -15 "$OUT/selftest.log"
fi

# 3. The addon, jest and the benchmark (need Node and node_modules).
if command -v node > /dev/null && [ -d "$ROOT/node_modules/cmake-js" ] && [ -d "$ROOT/node_modules/jest" ]; then
  step build-cpu build.log node node_modules/cmake-js/bin/cmake-js compile
  step build-cuda build.log env CUDA_ARCHITECTURES="$ARCH" node scripts/build-cuda.js
  step load-cuda jest.log node -e "const m=require('./build-cuda/Release/shears.node'); const b=m.backends(); console.log(JSON.stringify(b)); process.exit(b.cudaAvailable?0:1)"
  step jest-cuda jest.log npx jest test/cuda --ci
  tail -30 "$OUT/jest.log"
  if grep -q -- '--backend' bench/kernels.ts 2> /dev/null; then
    step build-ts bench.log npx tsc -p tsconfig.build.json
    step bench-cuda bench.log npm run --silent bench:kernels -- --json --backend cuda
    step bench-cpu bench.log npm run --silent bench:kernels -- --json --backend cpu
  else
    echo "bench rc=skipped: bench/kernels.ts has no --backend flag" | tee -a "$OUT/steps.txt"
  fi
else
  echo "node steps rc=skipped: node or node_modules (cmake-js, jest) missing" | tee -a "$OUT/steps.txt"
fi

# 4. Memory errors in the kernels (small cases only: the sanitizer is slow).
if command -v compute-sanitizer > /dev/null && [ -x "$SELFTEST_DIR/shears_cuda_selftest" ]; then
  step memcheck sanitizer.log timeout 240 compute-sanitizer --tool memcheck --error-exitcode 3 \
    "$SELFTEST_DIR/shears_cuda_selftest" --no-large
  tail -5 "$OUT/sanitizer.log"
fi

set +x
echo "===== steps"
cat "$OUT/steps.txt"
