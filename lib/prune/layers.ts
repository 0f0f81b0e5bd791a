// Which weight matrices a pruning run touches. By default every linear layer inside
// every transformer block (attention q/k/v/o, MLP gate/up/down or fc1/fc2); embeddings,
// the LM head and norms only when a user names them with --include. Globs match the
// canonical tensor names (lib/model/types.ts): `*` matches within one dot-separated
// part, `**` across parts, and the trailing ".weight" may be left out, e.g.
// "blocks.*.mlp.*", "blocks.0.attn.q" or "**.attn.q.weight".
import { CaptureName } from '../forward/captures';
import { ModelConfig, Tensor } from '../model/types';

const LLAMA_LINEARS = ['attn.q', 'attn.k', 'attn.v', 'attn.o', 'mlp.gate', 'mlp.up', 'mlp.down'];
const FC_LINEARS = ['attn.q', 'attn.k', 'attn.v', 'attn.o', 'mlp.fc1', 'mlp.fc2'];

export interface LinearLayer {
  /** Canonical weight name, e.g. blocks.3.mlp.down.weight. */
  name: string;
  block: number;
  /** The captured block input that feeds it (layers with the same input share statistics). */
  input: CaptureName;
}

export function globToRegExp(glob: string): RegExp {
  let re = '';
  for (let i = 0; i < glob.length; i++) {
    const c = glob[i];
    if (c === '*' && glob[i + 1] === '*') {
      re += '.*';
      i++;
    } else if (c === '*') re += '[^.]*';
    else if (c === '?') re += '[^.]';
    else re += c.replace(/[\\^$+.()|{}[\]]/g, '\\$&');
  }
  return new RegExp(`^${re}$`);
}

function inputOf(part: string): CaptureName {
  if (part === 'attn.o') return 'oIn';
  if (part.startsWith('attn.')) return 'attnIn';
  if (part === 'mlp.down' || part === 'mlp.fc2') return 'downIn';
  return 'mlpIn';
}

/** The linear layers of block i that exist in the model. */
export function blockLinears(config: ModelConfig, tensors: Map<string, Tensor>, i: number): LinearLayer[] {
  const parts = config.architecture === 'llama' ? LLAMA_LINEARS : FC_LINEARS;
  return parts
    .map((p) => ({ name: `blocks.${i}.${p}.weight`, block: i, input: inputOf(p) }))
    .filter((l) => tensors.has(l.name));
}

/**
 * Layers to prune, in block order. include: when given, only names matching one of
 * the globs (and, unlike the default, embeddings/LM head/norms too if named);
 * exclude: names matching one of these are left out.
 */
export function selectLayers(
  config: ModelConfig,
  tensors: Map<string, Tensor>,
  opts: { include?: string[]; exclude?: string[] } = {},
): { blocks: LinearLayer[][]; extra: string[] } {
  const inc = (opts.include ?? []).map(globToRegExp);
  const exc = (opts.exclude ?? []).map(globToRegExp);
  const matches = (r: RegExp, name: string) => r.test(name) || (name.endsWith('.weight') && r.test(name.slice(0, -'.weight'.length)));
  const keep = (name: string) => (inc.length === 0 || inc.some((r) => matches(r, name))) && !exc.some((r) => matches(r, name));
  const blocks: LinearLayer[][] = [];
  const inBlocks = new Set<string>();
  for (let i = 0; i < config.numLayers; i++) {
    const ls = blockLinears(config, tensors, i);
    ls.forEach((l) => inBlocks.add(l.name));
    blocks.push(ls.filter((l) => keep(l.name)));
  }
  // Matrices outside the blocks' linear layers only when explicitly included.
  const extra =
    inc.length === 0
      ? []
      : [...tensors.keys()].filter((n) => !inBlocks.has(n) && tensors.get(n)!.shape.length === 2 && keep(n)).sort();
  return { blocks, extra };
}
