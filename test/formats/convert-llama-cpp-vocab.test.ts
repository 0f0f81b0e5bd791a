// Writing GGUF from a SentencePiece vocabulary without byte tokens warns that llama.cpp
// can run it on token ids only (node-llama-cpp 3.21.1 aborts on BabyLlama's 105-token vocabulary);
// a vocabulary with them (stories260K) writes without that warning.
import * as fs from 'node:fs';
import * as path from 'node:path';

import { runCli } from '../support/cli';
import { describeShared, sharedPath } from '../support/shared-data';
import { buildLlama2cLegacy, buildLlama2cTokenizer, TINY } from './fixtures';
import { tempDir } from './helpers';

const NOTE = /no byte tokens \(<0x00>\.\.<0xFF>\): shears reads this GGUF and llama\.cpp loads it and runs it on token ids, but llama\.cpp's tokenizer aborts/;

test('a vocabulary without byte tokens: written, with the llama.cpp warning', async () => {
  const dir = tempDir();
  fs.writeFileSync(path.join(dir, 'model.bin'), buildLlama2cLegacy(TINY, 16));
  fs.writeFileSync(path.join(dir, `tok${TINY.vocab}.bin`), buildLlama2cTokenizer(TINY.vocab));
  const r = await runCli(['convert', '--model', path.join(dir, 'model.bin'), '--out', path.join(dir, 'out.gguf')]);
  expect(r.code).toBe(0);
  expect(r.err).toMatch(NOTE);
  expect(fs.existsSync(path.join(dir, 'out.gguf'))).toBe(true);
});

describeShared('a vocabulary with byte tokens', () => {
  test('stories260K: no llama.cpp warning', async () => {
    const out = path.join(tempDir(), 's.gguf');
    const r = await runCli(['convert', '--model', sharedPath('models', 'stories260K', 'stories260K.bin'), '--out', out]);
    expect(r.code).toBe(0);
    expect(r.err).not.toMatch(NOTE);
  });
});
