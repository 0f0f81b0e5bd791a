// Rendering chat-format calibration rows with the model's own chat template (the
// `chat_template` of an HF tokenizer_config.json), through @huggingface/jinja. Models
// without a template get the plain "role: content" rendering.
import * as fs from 'node:fs';

import { ChatMessage, ChatRenderer } from '../calibration/read';
import { LoadedModel } from '../model/types';

// The package ships a CommonJS build, but its types are ESM-only: load it with require.
// eslint-disable-next-line @typescript-eslint/no-require-imports
const { Template } = require('@huggingface/jinja') as {
  Template: new (source: string) => { render(context: Record<string, unknown>): string };
};

export function chatRenderer(model: LoadedModel): ChatRenderer | undefined {
  const src = model.tokenizer;
  if (src.kind !== 'hf' || !src.tokenizerConfigPath || !fs.existsSync(src.tokenizerConfigPath)) return undefined;
  const cfg = JSON.parse(fs.readFileSync(src.tokenizerConfigPath, 'utf8')) as Record<string, unknown>;
  const template = cfg.chat_template;
  if (typeof template !== 'string') return undefined;
  const token = (v: unknown) => (typeof v === 'string' ? v : (v as { content?: string } | undefined)?.content ?? '');
  const t = new Template(template);
  return (messages: ChatMessage[]) =>
    t.render({ messages, add_generation_prompt: false, bos_token: token(cfg.bos_token), eos_token: token(cfg.eos_token) });
}
