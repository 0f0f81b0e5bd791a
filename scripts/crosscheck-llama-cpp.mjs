// Optional cross-check (not part of the test suite): the perplexity llama.cpp gives a
// GGUF written by shears, on the same token ids `shears eval --tokens` reads. It needs
// node-llama-cpp (about 730 MB of prebuilt llama.cpp binaries), so it runs from a
// throwaway folder:
//   mkdir /tmp/nlc && cd /tmp/nlc && npm init -y && npm install node-llama-cpp@3.21.1
//   cp <shears>/scripts/crosscheck-llama-cpp.mjs . && node crosscheck-llama-cpp.mjs MODEL.gguf IDS.json
// IDS.json: a JSON array of token ids (one window: BOS first). Prints the mean NLL of
// the next-token predictions and the perplexity, teacher-forced through one sequence.
import fs from 'node:fs';

import { getLlama } from 'node-llama-cpp';

const [modelPath, idsPath] = process.argv.slice(2);
if (!modelPath || !idsPath) {
  console.error('usage: node crosscheck-llama-cpp.mjs MODEL.gguf IDS.json');
  process.exit(2);
}
const ids = JSON.parse(fs.readFileSync(idsPath, 'utf8'));
const llama = await getLlama({ gpu: false, build: 'never' });
const model = await llama.loadModel({ modelPath });
const ctx = await model.createContext({ contextSize: Math.max(512, ids.length), threads: 1 });
const seq = ctx.getSequence();
let nll = 0;
let n = 0;
const it = seq.evaluateWithMetadata([ids[0]], { probabilities: true }, { temperature: 0 });
let res = await it.next();
for (let i = 1; i < ids.length; i++) {
  nll -= Math.log(res.value.probabilities.get(ids[i]) ?? 0);
  n++;
  if (i + 1 < ids.length) res = await it.next(ids[i]);
}
await it.return();
console.log(JSON.stringify({ llama_cpp_mean_nll: nll / n, llama_cpp_perplexity: Math.exp(nll / n), predictions: n }));
