// Helpers to run one operation on both backends and compare the outcomes exactly.
export type Outcome<T> = { ok: true; value: T } | { ok: false; code: string; message: string };

/** Resolves the call's value or its error (thrown synchronously or rejected). */
export async function outcome<T>(fn: () => Promise<T>): Promise<Outcome<T>> {
  try {
    return { ok: true, value: await fn() };
  } catch (e) {
    const err = e as { code?: string; message?: string };
    return { ok: false, code: String(err.code), message: String(err.message) };
  }
}

function asBytes(a: ArrayBufferView): Uint8Array {
  return new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
}

/** Byte-for-byte equality; names the first differing element on failure. */
export function expectSameBits(actual: ArrayBufferView, expected: ArrayBufferView, what: string): void {
  const a = asBytes(actual), b = asBytes(expected);
  expect(a.length).toBe(b.length);
  if (Buffer.compare(a, b) === 0) return;
  let i = 0;
  while (a[i] === b[i]) i++;
  const elem = (actual as unknown as { BYTES_PER_ELEMENT?: number }).BYTES_PER_ELEMENT ?? 1;
  throw new Error(`${what}: first difference at byte ${i} (element ${Math.floor(i / elem)}): cuda ${a[i]} vs cpu ${b[i]}`);
}

/** Float32 values equal within `ulps` units in the last place (same sign). */
export function expectWithinUlps(actual: Float32Array, expected: Float32Array, ulps: number, what: string): void {
  const a = new Int32Array(actual.buffer, actual.byteOffset, actual.length);
  const b = new Int32Array(expected.buffer, expected.byteOffset, expected.length);
  expect(a.length).toBe(b.length);
  for (let i = 0; i < a.length; i++) {
    if (Math.abs(a[i] - b[i]) > ulps)
      throw new Error(`${what}: element ${i} differs by more than ${ulps} ulp: cuda ${actual[i]} vs cpu ${expected[i]}`);
  }
}
