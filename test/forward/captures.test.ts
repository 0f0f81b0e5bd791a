// The one list of capture names (lib/forward/captures.ts) against what the native
// forward pass accepts: each name, asked for alone, is filled by the native block (a
// name the native code does not read would leave its buffer all zeros), with the same
// values as when all are asked for together; and the pruning layers use only these names.
import { CAPTURE_NAMES, captureWidths } from '../../lib/forward/captures';
import { ForwardModel } from '../../lib/forward/model';
import { selectLayers } from '../../lib/prune/layers';
import { randomModel, rng } from './random-model';

const m = randomModel({ architecture: 'llama', hidden: 16, heads: 4, kvHeads: 2, intermediate: 24, seed: 5 });
const [batch, seq] = [2, 5];
const tokens = (() => {
  const r = rng(9);
  return Array.from({ length: batch * seq }, () => Math.floor(r() * m.config.vocabSize));
})();

async function block0(which: readonly (typeof CAPTURE_NAMES)[number][]) {
  const fm = new ForwardModel(m);
  const hidden = await fm.embed(tokens, batch, seq);
  const cap = fm.allocCaptures(batch * seq, which);
  await fm.runBlock(0, hidden, { batch, seq, capture: cap });
  return cap;
}

describe('capture names', () => {
  const all = block0(CAPTURE_NAMES);

  test.each(CAPTURE_NAMES.map((n) => [n]))('%s alone is filled by the native forward pass, as when all are captured', async (name) => {
    const alone = (await block0([name]))[name]!;
    expect(alone.length).toBe(batch * seq * captureWidths(m.config)[name]);
    expect(alone.some((v) => v !== 0)).toBe(true);
    expect(alone).toEqual((await all)[name]);
  });

  test('every linear layer the pruning selects reads one of them', () => {
    const { blocks } = selectLayers(m.config, m.tensors);
    const inputs = new Set(blocks.flat().map((l) => l.input));
    expect([...inputs].sort()).toEqual([...CAPTURE_NAMES].sort());
  });
});
