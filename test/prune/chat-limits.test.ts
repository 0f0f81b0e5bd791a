// Chat templates are code from tokenizer_config.json: runaway ones (huge ranges, endless
// loops, exploding strings) stop with ChatTemplateLimitError naming the file, promptly
// and in bounded memory; real templates render exactly as @huggingface/jinja renders them.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

import { FormatError } from '../../lib/errors';
import { ChatTemplateLimitError, compileChatTemplate, defaultChatLimits } from '../../lib/prune/chat-limits';
import { llamaConfig, llamaTensors, TinyLlamaSpec, writeHFDir } from '../formats/fixtures';
import { runCli } from '../support/cli';

// eslint-disable-next-line @typescript-eslint/no-require-imports
const { Template } = require('@huggingface/jinja') as { Template: new (s: string) => { render(c: Record<string, unknown>): string } };

const FILE = '/models/m/tokenizer_config.json';
const messages = [
  { role: 'system', content: 'You are terse.' },
  { role: 'user', content: 'Name a colour.' },
  { role: 'assistant', content: 'Blue.' },
];
const context = { messages, add_generation_prompt: true, bos_token: '<s>', eos_token: '</s>' };

/** Renders `source` with the default limits; the error it stops with (or the output). */
function render(source: string): { error?: unknown; out?: string; ms: number; heapMB: number } {
  const heap0 = process.memoryUsage().heapUsed;
  const t0 = Date.now();
  try {
    const out = compileChatTemplate(source, FILE).render(context);
    return { out, ms: Date.now() - t0, heapMB: (process.memoryUsage().heapUsed - heap0) / 2 ** 20 };
  } catch (error) {
    return { error, ms: Date.now() - t0, heapMB: (process.memoryUsage().heapUsed - heap0) / 2 ** 20 };
  }
}

describe('real templates render as @huggingface/jinja renders them', () => {
  const chatml =
    "{% for message in messages %}{{'<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n'}}{% endfor %}" +
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}";
  const llama2 =
    "{% if messages[0]['role'] == 'system' %}{% set loop_messages = messages[1:] %}{% set system_message = messages[0]['content'] %}" +
    '{% else %}{% set loop_messages = messages %}{% set system_message = false %}{% endif %}' +
    '{% for message in loop_messages %}' +
    "{% if (message['role'] == 'user') != (loop.index0 % 2 == 0) %}{{ raise_exception('Conversation roles must alternate') }}{% endif %}" +
    "{% if loop.index0 == 0 and system_message != false %}{% set content = '<<SYS>>\\n' + system_message + '\\n<</SYS>>\\n\\n' + message['content'] %}" +
    "{% else %}{% set content = message['content'] %}{% endif %}" +
    "{% if message['role'] == 'user' %}{{ bos_token + '[INST] ' + content.strip() + ' [/INST]' }}" +
    "{% elif message['role'] == 'assistant' %}{{ ' '  + content.strip() + ' ' + eos_token }}{% endif %}{% endfor %}";
  const tools =
    "{% for m in messages %}{{ m.role | upper }}: {{ m.content | replace('.', '!') }}\n{{ m | tojson(indent=2) | indent(4) }}\n" +
    "{% for i in range(loop.index) %}-{% endfor %}{{ (m.content.split(' ') | join('_')) }}\n{% endfor %}";

  test.each([
    ['ChatML', chatml],
    ['Llama 2', llama2],
    ['filters, range, tojson, indent, join', tools],
  ])('%s', (_name, source) => {
    const r = render(source);
    expect(r.error).toBeUndefined();
    expect(r.out).toBe(new Template(source).render(context));
    expect(r.out!.length).toBeGreaterThan(40);
  });

  test('errors the template raises itself propagate unchanged (not as limit errors)', () => {
    const r = render("{{ raise_exception('Conversation roles must alternate') }}");
    expect(r.error).not.toBeInstanceOf(ChatTemplateLimitError);
    expect((r.error as Error).message).toBe('Conversation roles must alternate');
  });
});

describe('runaway templates stop with ChatTemplateLimitError naming the file', () => {
  test.each([
    ['range(1000000000) (aborted V8 with 2.1 GB before)', '{% for i in range(1000000000) %}x{% endfor %}', /range\(\) of 1000000000 items/],
    ['nested loops of allowed ranges (10^10 steps)', '{% for i in range(100000) %}{% for j in range(100000) %}{{ j }}{% endfor %}{% endfor %}', /evaluation steps|took more than|values created/],
    ['nested loops with empty bodies (no node evaluated per iteration)', '{% for m in messages %}{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}{% endfor %}', /evaluation steps|took more than/],
    ['a macro that calls itself (passed to itself)', '{% macro f(g, n) %}{{ g(g, n + 1) }}{% endmacro %}{{ f(f, 0) }}', /Maximum call stack size exceeded/],
    ['a loop over every character of a long string', "{% set ns = namespace(s='abcd') %}{% for i in range(16) %}{% set ns.s = ns.s ~ ns.s %}{% endfor %}{% for c in ns.s %}{% endfor %}", /a loop over 262144 items \(at most 100000\)/],
    ['a string doubled 40 times', "{% set ns = namespace(s='ab') %}{% for i in range(40) %}{% set ns.s = ns.s ~ ns.s %}{% endfor %}{{ ns.s }}", /a value grew past/],
    ['replace with a long string between every character', "{% set ns = namespace(s='abcd') %}{% for i in range(18) %}{% set ns.s = ns.s ~ ns.s %}{% endfor %}{{ ns.s.replace('', ns.s) }}", /replace would make more than/],
    ['the replace filter likewise', "{% set ns = namespace(s='abcd') %}{% for i in range(18) %}{% set ns.s = ns.s ~ ns.s %}{% endfor %}{{ ns.s | replace('a', ns.s) }}", /replace would make more than/],
    ['indent by a billion spaces', "{{ 'a\\nb\\nc' | indent(1000000000) }}", /the indent filter would make more than/],
    ['tojson with a billion-space indent', '{{ messages | tojson(indent=1000000000) }}', /the tojson filter would make more than/],
    ['nested lists of one shared big string (billion laughs)', "{% set ns = namespace(s='abcd') %}{% for i in range(18) %}{% set ns.s = ns.s ~ ns.s %}{% endfor %}{% set a = [ns.s, ns.s, ns.s, ns.s, ns.s, ns.s, ns.s, ns.s, ns.s, ns.s] %}{% set b = [a, a, a, a, a, a, a, a, a, a] %}{{ b | tojson }}", /a value grew past/],
  ])('%s', (_name, source, message) => {
    const r = render(source);
    expect(r.error).toBeInstanceOf(ChatTemplateLimitError);
    expect(r.error).toBeInstanceOf(FormatError);
    expect((r.error as FormatError).file).toBe(FILE);
    expect((r.error as Error).message).toMatch(new RegExp(`^${FILE}: chat_template stopped: `));
    expect((r.error as Error).message).toMatch(message);
    // The deadline is checked between steps; one step (a loop's setup) may run past it,
    // by up to about a second on this busy two-core machine.
    expect(r.ms).toBeLessThan(defaultChatLimits(0).maxMillis + 2000);
    expect(r.heapMB).toBeLessThan(512);
  });

  test('limits can be set per use (a 100-step budget)', () => {
    const t = compileChatTemplate('{% for i in range(1000) %}{{ i }}{% endfor %}', FILE, { ...defaultChatLimits(0), maxSteps: 100 });
    expect(() => t.render({})).toThrow(/more than 100 evaluation steps/);
  });
});

describe('shears prune with a runaway chat template', () => {
  const SPEC: TinyLlamaSpec = { hidden: 16, heads: 4, kvHeads: 2, inter: 24, layers: 1, vocab: 32 };
  let dir: string;
  beforeAll(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'shears-chat-limits-'));
  });
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

  const modelWithConfig = (name: string, config: string): string => {
    const d = path.join(dir, name);
    writeHFDir(d, llamaConfig(SPEC), llamaTensors(SPEC, 'F32'));
    fs.writeFileSync(path.join(d, 'tokenizer_config.json'), config);
    return d;
  };
  const prune = async (model: string) => {
    const calib = path.join(dir, 'chat.jsonl');
    fs.writeFileSync(calib, `${JSON.stringify({ messages: [{ role: 'user', content: 'hi' }] })}\n`);
    const out = path.join(dir, `out-${path.basename(model)}`);
    const t0 = Date.now();
    const r = await runCli(['prune', '--model', model, '--method', 'wanda', '--sparsity', '0.5', '--calib', calib, '--out', out]);
    return { ...r, ms: Date.now() - t0, wrote: fs.existsSync(out) };
  };

  test('range(1000000000): a non-zero exit within 5 s naming tokenizer_config.json, nothing written', async () => {
    const m = modelWithConfig('range', JSON.stringify({ bos_token: '<s>', chat_template: '{% for i in range(1000000000) %}{{ i }}{% endfor %}' }));
    const r = await prune(m);
    expect(r.code).not.toBe(0);
    expect(r.ms).toBeLessThan(5000);
    expect(r.err).toMatch(/tokenizer_config\.json: chat_template stopped: range\(\) of 1000000000 items/);
    expect(r.wrote).toBe(false);
  }, 60_000);

  test('an invalid tokenizer_config.json: a FormatError naming it (was an untyped SyntaxError)', async () => {
    const m = modelWithConfig('badjson', '{"chat_template": "{{ x }}",');
    const r = await prune(m);
    expect(r.code).not.toBe(0);
    expect(r.err).toMatch(/tokenizer_config\.json: tokenizer_config\.json is not valid JSON/);
    expect(r.wrote).toBe(false);
  }, 60_000);
});
