// Tiny random blocks for the learned-mask tests: block 0's gated matrices by canonical
// name, random inputs and the dense block's outputs on them.
import { ForwardModel } from '../../lib/forward/model';
import { LoadedModel } from '../../lib/model/types';
import { LearnBlockData } from '../../lib/queries/learn-mask';
import { rng } from '../support/random';

/** Block i's linear layers' weight names (gate only when the MLP is gated). */
export function linearNames(m: LoadedModel, i: number): string[] {
  const p = `blocks.${i}`;
  const gated = m.tensors.has(`${p}.mlp.gate.weight`);
  const mlp = gated ? ['gate', 'up', 'down'] : ['fc1', 'fc2'];
  return [...['q', 'k', 'v', 'o'].map((k) => `${p}.attn.${k}.weight`), ...mlp.map((k) => `${p}.mlp.${k}.weight`)];
}

export const uniforms = (n: number, r: () => number, lo: number, hi: number) => Float32Array.from({ length: n }, () => lo + (hi - lo) * r());

/** Block 0's data: `names` gated with theta0 = theta0(name), inputs uniform in [-1, 1], targets the dense outputs. */
export async function blockData(m: LoadedModel, names: string[], sequences: number, seq: number, seed: number, theta0: (name: string) => Float32Array): Promise<LearnBlockData> {
  const fm = new ForwardModel(m);
  const r = rng(seed);
  const inputs = uniforms(sequences * seq * m.config.hiddenSize, r, -1, 1);
  const targets = Float32Array.from(inputs);
  await fm.runBlock(0, targets, { batch: sequences, seq });
  const layers = names.map((name) => {
    const [rows, cols] = m.tensors.get(name)!.shape;
    return { name, rows, cols, theta: theta0(name) };
  });
  return { spec: fm.blockSpec(0), layers, inputs, targets, sequences, seq };
}
