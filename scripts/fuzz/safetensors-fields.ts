// Structure-aware safetensors mutations: the u64 header length, and the JSON header's
// tensor entries (dtype, shape, data_offsets), re-encoded with a consistent length.
import { interestingJsonNumber, interestingU64 } from './interesting';
import type { Mutated } from './mutate-bytes';
import { mutateJsonValue, short, stringifyJson } from './mutate-json';
import type { Rng } from './rng';

type Entry = { dtype?: unknown; shape?: unknown; data_offsets?: unknown };

function parseHeader(b: Buffer): { header: Record<string, unknown>; data: Buffer } | undefined {
  if (b.length < 8) return undefined;
  const n = Number(b.readBigUInt64LE(0));
  if (n > b.length - 8) return undefined;
  try {
    const header = JSON.parse(b.toString('utf8', 8, 8 + n)) as unknown;
    if (!header || typeof header !== 'object' || Array.isArray(header)) return undefined;
    return { header: header as Record<string, unknown>, data: b.subarray(8 + n) };
  } catch {
    return undefined;
  }
}

function encode(header: Record<string, unknown>, data: Buffer): Buffer {
  let json = stringifyJson(header);
  json += ' '.repeat((8 - (json.length % 8)) % 8);
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(BigInt(Buffer.byteLength(json)));
  return Buffer.concat([len, Buffer.from(json), data]);
}

const DTYPES: unknown[] = ['F32', 'F16', 'BF16', 'F64', 'I64', 'I32', 'I8', 'U8', 'BOOL', 'F8_E4M3', 'Q4_0', 'f32', '', 7, null, ['F32']];

function mutateEntry(name: string, e: Entry, header: Record<string, unknown>, dataSize: number, r: Rng): string {
  const shape = Array.isArray(e.shape) ? (e.shape as unknown[]) : [];
  const offs = Array.isArray(e.data_offsets) ? (e.data_offsets as number[]) : [0, 0];
  switch (r.int(0, 6)) {
    case 0:
      e.dtype = r.pick(DTYPES);
      return `${name}.dtype := ${short(e.dtype)}`;
    case 1: {
      const i = r.int(0, Math.max(0, shape.length - 1));
      const v = r.chance(0.8) ? interestingJsonNumber(r, shape[i] as number) : r.pick<unknown>(['4', null, [2]]);
      const s = shape.slice();
      s[i] = v;
      e.shape = s;
      return `${name}.shape[${i}] := ${short(v)}`;
    }
    case 2: {
      e.shape = r.pick<unknown[]>([[], [0], [2 ** 32, 2 ** 32], [65536, 65536, 65536], [...shape, 1], shape.slice(1), [-1, ...shape.slice(1)], [1, 1, 1, 1, 1, 1, 1, 1, 1]]);
      return `${name}.shape := ${short(e.shape)}`;
    }
    case 3: {
      const i = r.int(0, 1);
      const v = r.pick([0, 1, -8, offs[i] + 1, offs[i] - 1, offs[1 - i], dataSize, dataSize + 4, 2 ** 32, 2 ** 53, 1e300, 0.5]);
      const o = offs.slice();
      o[i] = v;
      e.data_offsets = o;
      return `${name}.data_offsets[${i}] := ${v}`;
    }
    case 4:
      e.data_offsets = r.pick<unknown>([[offs[1], offs[0]], [0], [0, 0, 0], 'x', null, { begin: 0 }]);
      return `${name}.data_offsets := ${short(e.data_offsets)}`;
    case 5: {
      const other = r.pick(Object.keys(header).filter((k) => k !== '__metadata__'));
      e.data_offsets = (header[other] as Entry)?.data_offsets;
      return `${name}.data_offsets := those of ${other}`;
    }
    default: {
      const to = r.pick([`${name}.x`, name.replace(/\d+/, '7'), name.replace(/\d+/, '4294967296'), '', 'model.layers.999999999.mlp.up_proj.weight']);
      delete header[name];
      header[to] = e;
      return `rename ${name} -> ${to}`;
    }
  }
}

export function mutateSafetensors(b: Buffer, r: Rng): Mutated | undefined {
  const parsed = parseHeader(b);
  if (!parsed) return undefined;
  const { header, data } = parsed;
  if (r.chance(0.15)) {
    const out = Buffer.from(b);
    const v = interestingU64(r, out.readBigUInt64LE(0), out.length);
    out.writeBigUInt64LE(v, 0);
    return { data: out, desc: `safetensors header length := ${v}` };
  }
  const names = Object.keys(header).filter((k) => k !== '__metadata__');
  let desc: string;
  if (names.length > 0 && r.chance(0.75)) {
    const name = r.pick(names);
    const e = header[name];
    desc = e && typeof e === 'object' ? mutateEntry(name, e as Entry, header, data.length, r) : `${name} is not an object`;
  } else desc = mutateJsonValue(header, r);
  return { data: encode(header, data), desc: `safetensors header ${desc}` };
}
