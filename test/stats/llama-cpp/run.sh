#!/usr/bin/env bash
# The imatrix cross-check against llama.cpp itself (optional; not part of `npm test`).
# node-llama-cpp ships no llama-imatrix or llama-quantize, but its libllama-common.so
# exports llama.cpp's imatrix loader and its libllama the quantizer: this builds two small
# programs against them (headers from the llama.cpp git bundle node-llama-cpp ships) and
#   1. loads the .dat and .gguf imatrices `shears stats` writes for the demo model with
#      llama.cpp's common_imatrix_load and compares them with shears' reader;
#   2. quantizes the demo model (converted to GGUF) to IQ2_XXS, which llama.cpp refuses
#      without an importance matrix, with each file;
#   3. builds llama-imatrix itself from the bundled source, runs it on the demo model, and
#      compares its .gguf and .dat with `shears stats` on the same windows (from-llama-cpp.ts).
# Usage: test/stats/llama-cpp/run.sh NODE_MODULES_WITH_NODE_LLAMA_CPP [WORKDIR]
set -euo pipefail
NM=${1:?give the node_modules folder that holds node-llama-cpp}
WORK=${2:-$(mktemp -d)}
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../../.." && pwd)
BINS=$(ls -d "$NM"/@node-llama-cpp/linux-x64/bins/*/ | head -1)
mkdir -p "$WORK/src" "$WORK/inc"
git -C "$WORK/src" init -q
git -C "$WORK/src" fetch -q "$NM/node-llama-cpp/llama/gitRelease.bundle" HEAD
for f in $(git -C "$WORK/src" ls-tree --name-only FETCH_HEAD ggml/include/ include/ common/ | grep '\.h$'); do git -C "$WORK/src" show "FETCH_HEAD:$f" > "$WORK/inc/$(basename "$f")"; done
LIBS=(-L"$BINS" -l:libllama-common.so -l:libllama.v0.4.0.so -l:libggml.v0.4.0.so -l:libggml-base.so -Wl,-rpath,"$BINS")
g++ -std=c++17 -O1 -I"$WORK/inc" "$HERE/load-imatrix.cc" -o "$WORK/load-imatrix" "${LIBS[@]}"
g++ -std=c++17 -O1 -I"$WORK/inc" "$HERE/quantize-with-imatrix.cc" -o "$WORK/quantize-with-imatrix" "${LIBS[@]}"
git -C "$WORK/src" show FETCH_HEAD:tools/imatrix/imatrix.cpp > "$WORK/imatrix.cpp"
g++ -std=c++17 -O2 -I"$WORK/inc" -DBACKENDS_DIR="\"$BINS\"" "$WORK/imatrix.cpp" "$HERE/load-backends.cc" -o "$WORK/llama-imatrix" "${LIBS[@]}"
cd "$ROOT"
node -r ./scripts/fuzz/ts-hook.js "$HERE/crosscheck.ts" "$WORK" 2>/dev/null
node -r ./scripts/fuzz/ts-hook.js -e "require('./lib/cli/main').main(['node', 'shears', 'convert', '--model', 'assets/demo-model', '--out', '$WORK/demo-f32.gguf', '--dtype', 'f32', '--force'])" > /dev/null
for im in - "$WORK/demo.dat" "$WORK/demo.gguf"; do
  rc=0; "$WORK/quantize-with-imatrix" "$WORK/demo-f32.gguf" "$WORK/q.gguf" "$im" 19 > "$WORK/q.log" 2>&1 || rc=$?
  echo "{\"quantize_IQ2_XXS_with\":\"$im\",\"rc\":$rc,\"last\":\"$(grep -E 'quant size|requires an imatrix' "$WORK/q.log" | tail -1 | tr -d '"')\"}"
done
for form in gguf dat; do
  "$WORK/llama-imatrix" -m "$WORK/demo-f32.gguf" -f assets/demo-model/calib.txt -o "$WORK/llama-cpp.$form" --output-format $form -c 128 -b 128 --chunks 16 -t 2 --no-ppl > "$WORK/imatrix-$form.log" 2>&1
done
node -r ./scripts/fuzz/ts-hook.js "$HERE/from-llama-cpp.ts" "$WORK" 2>/dev/null
