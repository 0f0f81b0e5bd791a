// Chat-format calibration rows ({"messages": [...]}) through prune(): rendered with the
// model's chat template when its tokenizer_config.json has one, as "role: content"
// lines otherwise, and the report says which.
import * as fs from 'node:fs';
import * as path from 'node:path';

import { loadModel } from '../../lib/formats/load';
import { prune } from '../../lib/prune/run';
import { bitsEqual } from '../formats/helpers';
import { describeShared, sharedPath } from '../support/shared-data';
import { tempDir } from './helpers';

// stories260K as an HF folder (sparsity 0 writes an unchanged copy with a converted tokenizer).
let hf: string | undefined;
async function hfCopy(): Promise<string> {
  if (!hf) {
    hf = path.join(tempDir(), 'hf');
    await prune({ model: sharedPath('models', 'stories260K', 'stories260K.bin'), method: 'magnitude', sparsity: 0, out: hf });
  }
  return hf;
}

describeShared('chat calibration (stories260K as an HF folder)', () => {
  let hf: string;
  let chat: string;
  beforeAll(async () => {
    const dir = tempDir();
    hf = await hfCopy();
    const story = fs.readFileSync(sharedPath('text', 'tinystories', 'tinystories_val.txt'), 'utf8').split('\n').filter((l) => l.length > 40);
    const rows = story.slice(0, 40).map((l, i) => JSON.stringify({ messages: [{ role: 'user', content: `Tell me story ${i}` }, { role: 'assistant', content: l }] }));
    rows.push(JSON.stringify({ id: 'no text' }), JSON.stringify({ text: '   ' }));
    chat = path.join(dir, 'chat.jsonl');
    fs.writeFileSync(chat, `${rows.join('\n')}\n`);
  });

  const run = async (model: string) => {
    const out = path.join(tempDir(), 'out');
    const report = await prune({ model, method: 'wanda', sparsity: 0.5, calib: chat, calibSamples: 4, seqLen: 32, calibSampling: 'contiguous', out });
    return { report, out };
  };

  test('without a template: plain rendering, skipped rows reported', async () => {
    const { report } = await run(hf);
    expect(report.calibration!.notes).toEqual(
      expect.arrayContaining(['chat rows rendered as "role: content" lines (the model has no chat template)', '2 rows without usable text were skipped']),
    );
  });

  test("with a chat_template: rendered by it (and the masks follow the text)", async () => {
    const templated = path.join(tempDir(), 'hf-template');
    fs.cpSync(hf, templated, { recursive: true });
    const cfgPath = path.join(templated, 'tokenizer_config.json');
    const cfg = JSON.parse(fs.readFileSync(cfgPath, 'utf8'));
    cfg.chat_template = '{% for m in messages %}{{ m.role | upper }} SAYS: {{ m.content }}\n{% endfor %}';
    fs.writeFileSync(cfgPath, JSON.stringify(cfg));
    const a = await run(templated);
    expect(a.report.calibration!.notes).toContain("chat rows rendered with the model's chat template");
    const b = await run(hf);
    const ma = await loadModel(a.out);
    const mb = await loadModel(b.out);
    try {
      // Different calibration text, different Wanda statistics: some mask differs.
      const differs = a.report.layers.some((l) => !bitsEqual(ma.tensors.get(l.name)!.data, mb.tensors.get(l.name)!.data));
      expect(differs).toBe(true);
    } finally {
      ma.close();
      mb.close();
    }
  });
});

describeShared('chat templates that cannot be used', () => {
  let hf: string;
  let chat: string;
  let plain: string;
  beforeAll(async () => {
    const dir = tempDir();
    hf = await hfCopy();
    chat = path.join(dir, 'chat.jsonl');
    const row = (i: number) => JSON.stringify({ messages: [{ role: 'user', content: `Once upon a time there was a cat number ${i}. `.repeat(3) }] });
    fs.writeFileSync(chat, `${Array.from({ length: 10 }, (_, i) => row(i)).join('\n')}\n`);
    plain = path.join(dir, 'plain.txt');
    fs.writeFileSync(plain, `${'Once upon a time there was a little dog who liked to run in the park. '.repeat(5)}\n`.repeat(4));
  });
  const withTemplate = (template: unknown) => {
    const m = path.join(tempDir(), 'm');
    fs.cpSync(hf, m, { recursive: true });
    const cfgPath = path.join(m, 'tokenizer_config.json');
    fs.writeFileSync(cfgPath, JSON.stringify({ ...JSON.parse(fs.readFileSync(cfgPath, 'utf8')), chat_template: template }));
    return m;
  };
  const run = (model: string, calib: string) =>
    prune({ model, method: 'wanda', sparsity: 0.5, calib, calibSamples: 2, seqLen: 32, out: path.join(tempDir(), 'out') });

  test('a template that does not parse: an error naming the calibration line and tokenizer_config.json', async () => {
    const m = withTemplate('{% for m in messages %}{{ m.content }');
    await expect(run(m, chat)).rejects.toThrow(/chat\.jsonl: line 1: the chat_template of .*tokenizer_config\.json failed on a chat row/);
  });
  test('...which does not matter when no row is a chat', async () => {
    const r = await run(withTemplate('{% for m in messages %}{{ m.content }'), plain);
    expect(r.calibration!.notes.join(' ')).not.toMatch(/chat/);
  });
  test('a list of named templates: "default" is used', async () => {
    const r = await run(withTemplate([{ name: 'tool_use', template: 'x' }, { name: 'default', template: '{% for m in messages %}{{ m.content }}{% endfor %}' }]), chat);
    expect(r.calibration!.notes).toContain("chat rows rendered with the model's chat template");
  });
});
