// Rendering chat-format calibration rows with the model's own chat template (the
// `chat_template` of an HF tokenizer_config.json), through @huggingface/jinja. Models
// without a template get the plain "role: content" rendering. Rendering is bounded
// (lib/prune/chat-limits.ts): a runaway template is a typed error naming the file.
import * as fs from 'node:fs';

import { CalibrationError, ChatMessage, ChatRenderer } from '../calibration/read';
import { LoadedModel } from '../model/types';
import { readJsonFile } from '../formats/json-bounds';
import { ChatTemplateLimitError, CompiledChatTemplate, compileChatTemplate } from './chat-limits';

export function chatRenderer(model: LoadedModel): ChatRenderer | undefined {
  const src = model.tokenizer;
  if (src.kind !== 'hf' || !src.tokenizerConfigPath || !fs.existsSync(src.tokenizerConfigPath)) return undefined;
  const file = src.tokenizerConfigPath;
  const cfg = readJsonFile(file, 'tokenizer_config.json');
  // A string, or (newer tokenizer configs) a list of named templates: use "default".
  let template = cfg.chat_template;
  if (Array.isArray(template))
    template = (template as { name?: unknown; template?: unknown }[]).find((x) => x && x.name === 'default')?.template;
  if (typeof template !== 'string') return undefined;
  const source = template;
  const token = (v: unknown) => (typeof v === 'string' ? v : (v as { content?: string } | undefined)?.content ?? '');
  // Compiled on first use: a calibration file without chat rows never needs it.
  let t: CompiledChatTemplate | undefined;
  return (messages: ChatMessage[]) => {
    try {
      t ??= compileChatTemplate(source, file);
      return t.render({ messages, add_generation_prompt: false, bos_token: token(cfg.bos_token), eos_token: token(cfg.eos_token) });
    } catch (e) {
      if (e instanceof ChatTemplateLimitError) throw e;
      throw new CalibrationError(`the chat_template of ${file} failed on a chat row: ${(e as Error).message}`);
    }
  };
}
