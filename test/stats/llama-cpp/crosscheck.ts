// The imatrix cross-check against llama.cpp (not part of the test suite; run.sh runs it):
// `shears stats` writes the demo model's statistics as .dat and .gguf; llama.cpp's own
// loader (./load-imatrix, linked to node-llama-cpp's libllama-common.so) reads each, and
// its counts and per-column means (what llama-quantize uses: GGUF sums / counts, legacy
// sums / ncall) are compared with shears' reader. Prints one JSON line per file.
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';

import { openImportance } from '../../../lib/stats/importance';
import { stats } from '../../../lib/stats/run';

interface LlamaCppImatrix {
  is_legacy: boolean;
  has_metadata: boolean;
  chunk_count: number;
  chunk_size: number;
  datasets: string[];
  entries: Record<string, { counts: number[]; sums: number[] }>;
}

async function main(work: string): Promise<void> {
  const model = path.join(__dirname, '../../../assets/demo-model');
  for (const name of ['demo.dat', 'demo.gguf']) {
    const out = path.join(work, name);
    fs.rmSync(out, { force: true });
    await stats({ model, calib: path.join(model, 'calib.txt'), calibSamples: 16, seqLen: 128, out });
    const ll = JSON.parse(execFileSync(path.join(work, 'load-imatrix'), [out], { maxBuffer: 1 << 28 }).toString()) as LlamaCppImatrix;
    const src = openImportance(out);
    try {
      let maxRel = 0;
      for (const e of src.layers('llama').byWeight.values()) {
        const l = ll.entries[e.source];
        const s = e.read();
        if (l.counts.length !== 1 || l.counts[0] !== s.count) throw new Error(`${e.source}: llama.cpp counts ${l.counts}, shears ${s.count}`);
        s.sumSq.forEach((v, j) => (maxRel = Math.max(maxRel, Math.abs(l.sums[j] / l.counts[0] - v / s.count) / Math.max(v / s.count, 1e-30))));
      }
      const { entries, ...meta } = ll;
      console.log(JSON.stringify({ file: name, llama_cpp: { ...meta, entries: Object.keys(entries).length }, max_rel_diff_of_means: maxRel }));
    } finally {
      src.close();
    }
  }
}

main(process.argv[2]).catch((e) => {
  console.error(e);
  process.exit(1);
});
