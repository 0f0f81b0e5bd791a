// stories260K end to end through the public loaders: both files generate the story
// PROVENANCE.md quotes and give its perplexity, identically.
import * as fs from 'node:fs';

import { ForwardModel, generate, loadModel, loadTokenizer, perplexity } from '../../lib';
import { describeShared, sharedPath } from '../support/shared-data';

// PROVENANCE.md: llama2.c's expected_stdout for `run stories260K.bin -z tok512.bin -t 0.0`.
const QUOTED =
  'Once upon a time, there was a little girl named Lily. She loved to play outside in the park. One day, ' +
  'she saw a big, red ball. She wanted to play with it, but it was too high.\nLily\'s mom said,';

describeShared('stories260K (.bin and .gguf)', () => {
  const files = () => [sharedPath('models', 'stories260K', 'stories260K.bin'), sharedPath('models', 'stories260K', 'stories260K.gguf')];

  test('greedy generation from BOS is the quoted story, from both files', async () => {
    const texts: string[] = [];
    for (const f of files()) {
      const m = await loadModel(f);
      try {
        const tok = await loadTokenizer(m.tokenizer, { vocabSize: m.config.vocabSize });
        const ids = await generate(new ForwardModel(m), [1], 90, { eos: null });
        texts.push(tok.decode([1, ...ids]));
      } finally {
        m.close();
      }
    }
    expect(texts[0].startsWith(QUOTED)).toBe(true);
    expect(texts[1]).toBe(texts[0]);
  });

  test('perplexity 4.0381 on the first 256 ids of tinystories_val.txt, identical from both files', async () => {
    const text = fs.readFileSync(sharedPath('text', 'tinystories', 'tinystories_val.txt'), 'utf8');
    const results: number[] = [];
    for (const f of files()) {
      const m = await loadModel(f);
      try {
        const tok = await loadTokenizer(m.tokenizer, { vocabSize: m.config.vocabSize });
        const ids = tok.encode(text, { bos: true }).slice(0, 256);
        expect(ids.slice(0, 12)).toEqual([1, 301, 427, 309, 426, 301, 427, 309, 394, 265, 262, 415]);
        results.push((await perplexity(new ForwardModel(m), ids, { seqLen: 256 })).perplexity);
      } finally {
        m.close();
      }
    }
    expect(Math.abs(results[0] - 4.0381) / 4.0381).toBeLessThan(1e-3);
    expect(results[1]).toBe(results[0]);
  });
});
