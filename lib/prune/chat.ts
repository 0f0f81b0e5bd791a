// Rendering chat-format calibration rows with the model's own chat template (the
// `chat_template` of an HF tokenizer_config.json), through @huggingface/jinja. Models
// without a template get the plain "role: content" rendering.
import * as fs from 'node:fs';

import { CalibrationError, ChatMessage, ChatRenderer } from '../calibration/read';
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
  // A string, or (newer tokenizer configs) a list of named templates: use "default".
  let template = cfg.chat_template;
  if (Array.isArray(template))
    template = (template as { name?: unknown; template?: unknown }[]).find((x) => x && x.name === 'default')?.template;
  if (typeof template !== 'string') return undefined;
  const source = template;
  const token = (v: unknown) => (typeof v === 'string' ? v : (v as { content?: string } | undefined)?.content ?? '');
  // Compiled on first use: a calibration file without chat rows never needs it.
  let t: { render(context: Record<string, unknown>): string } | undefined;
  return (messages: ChatMessage[]) => {
    try {
      t ??= new Template(source);
      return t.render({ messages, add_generation_prompt: false, bos_token: token(cfg.bos_token), eos_token: token(cfg.eos_token) });
    } catch (e) {
      throw new CalibrationError(`the chat_template of ${src.tokenizerConfigPath} failed on a chat row: ${(e as Error).message}`);
    }
  };
}
