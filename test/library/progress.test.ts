// prune() and sweep() progress events: one vocabulary of stages, 1-based block and cell
// numbers, and a label on every event, as the README's onProgress example prints them
// (issue 9 item 5).
import * as path from 'node:path';

import { prune, sweep, type PruneProgress, type SweepProgress } from '../../lib';
import { tempDir } from '../prune/helpers';
import { SPEC, tinyPrune, writeCalibTokens, writeTinyModel } from '../prune/tiny';

let model: string;
let tokens: string;
beforeAll(() => {
  const dir = tempDir();
  model = writeTinyModel(path.join(dir, 'model'));
  tokens = writeCalibTokens(path.join(dir, 'tokens.json'), 256);
});

const stagesOf = (events: { stage: string }[]) => events.map((e) => e.stage).filter((s, i, a) => i === 0 || a[i - 1] !== s);

test('prune: every event has a stage, a label and a numeric block; blocks count 1..N', async () => {
  const events: PruneProgress[] = [];
  await prune(tinyPrune(model, tokens, path.join(tempDir(), 'out'), { onProgress: (p) => events.push(p) }));
  expect(stagesOf(events)).toEqual(['load', 'calibration', 'prune', 'write', 'done']);
  for (const e of events) {
    expect(typeof e.label).toBe('string');
    expect(Number.isInteger(e.block)).toBe(true);
  }
  // What `console.log(p.stage, p.block)` prints at each stage change: no undefined.
  const printed = events.filter((e, i) => i === 0 || events[i - 1].stage !== e.stage).map((e) => `${e.stage} ${e.block}`);
  expect(printed).toEqual(['load 0', 'calibration 0', 'prune 1', `write ${SPEC.layers}`, `done ${SPEC.layers}`]);
  const pruning = events.filter((e) => e.stage === 'prune');
  expect(new Set(pruning.map((e) => e.block))).toEqual(new Set(Array.from({ length: SPEC.layers }, (_, i) => i + 1)));
  for (const e of pruning) {
    expect(e.blocks).toBe(SPEC.layers);
    // The label is the CLI's progress line: "block 2/3 pruning blocks.1.attn.q.weight".
    expect(e.label).toBe(`block ${e.block}/${SPEC.layers} ${e.phase}${e.layer ? ` ${e.layer}` : ''}`);
    if (e.layer) expect(e.layer.startsWith(`blocks.${e.block - 1}.`)).toBe(true);
  }
  expect(new Set(pruning.map((e) => e.phase))).toEqual(new Set(['statistics', 'pruning', 'forward', 'done']));
  for (const e of events.filter((x) => x.stage !== 'prune')) expect(e.label).toBe(e.stage);
});

test('sweep: stages, 1-based cells and labels that say which cell', async () => {
  const events: SweepProgress[] = [];
  await sweep({
    model,
    methods: ['magnitude', 'wanda'],
    levels: [0.5],
    calibTokens: tokens,
    calibSamples: 2,
    seqLen: 16,
    evalTokens: tokens,
    evalSeqLen: 16,
    maxWindows: 2,
    out: path.join(tempDir(), 'sweep'),
    onProgress: (p) => events.push(p),
  });
  expect(stagesOf(events)).toEqual(['prepare', 'dense', 'cell', 'report', 'done']);
  const cells = events.filter((e) => e.stage === 'cell');
  expect([...new Set(cells.map((e) => e.cell))]).toEqual([1, 2]);
  for (const e of cells) {
    expect(e.cells).toBe(2);
    expect(e.label.startsWith(`cell ${e.cell}/2 ${e.spec!.method} unstructured 0.5`)).toBe(true);
    if (e.detail) expect(e.label.endsWith(` (${e.detail})`)).toBe(true);
  }
  // Per-block detail inside a cell counts blocks from 1 too.
  const blockDetails = cells.map((e) => /^block (\d+)\/(\d+) /.exec(e.detail ?? '')).filter((m) => m !== null);
  expect(blockDetails.length).toBeGreaterThan(0);
  for (const m of blockDetails) {
    expect(Number(m![1])).toBeGreaterThanOrEqual(1);
    expect(Number(m![1])).toBeLessThanOrEqual(Number(m![2]));
  }
  for (const e of events.filter((x) => x.stage !== 'cell')) expect(e.label).toBe(e.stage);
});
