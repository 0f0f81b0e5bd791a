// The name a sweep's report titles show: a GGUF's own general.name, else the base name
// of the model's folder or file (issue 9 item 18).
import type { LoadedModel } from '../../lib/model/types';
import { modelDisplayName } from '../../lib/sweep/settings';

const gguf = (name: unknown) => ({ format: 'gguf', meta: { gguf: [{ key: 'general.name', type: 'string', value: name }] } }) as unknown as LoadedModel;
const hf = { format: 'hf', meta: {} } as unknown as LoadedModel;

test('a GGUF names itself; whitespace is collapsed and a long name cut', () => {
  expect(modelDisplayName(gguf('Tiny  Llama\n7B'), '/models/x.gguf')).toBe('Tiny Llama 7B');
  expect(modelDisplayName(gguf('   '), '/models/x.Q8_0.gguf')).toBe('x.Q8_0');
  const long = modelDisplayName(gguf('n'.repeat(10_000)), '/m.gguf');
  expect(long).toHaveLength(120);
  expect(long.endsWith('…')).toBe(true);
});

test('otherwise the folder or file base name, never the absolute path', () => {
  expect(modelDisplayName(hf, '/home/u/models/demo-model/')).toBe('demo-model');
  expect(modelDisplayName(hf, 'stories260K.bin')).toBe('stories260K');
});
