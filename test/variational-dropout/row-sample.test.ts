// The layer-input sample variational dropout trains on: every row while there is room, then a
// seeded uniform reservoir of at most maxRows rows, whole rows only.
import { RowSample } from '../../lib/methods/variational-dropout/row-sample';

// Row r of a batch starting at row `first` holds [first + r, -(first + r), ...]: its identity.
const batch = (first: number, rows: number, width: number) => Float32Array.from({ length: rows * width }, (_, i) => (Math.floor(i / width) + first) * (i % 2 ? -1 : 1));

test('keeps every row in order while there is room', async () => {
  const s = new RowSample(3, 100);
  await s.add(batch(0, 10, 3), 10);
  await s.add(batch(10, 70, 3), 70);
  const { x, rows } = s.rows();
  expect(rows).toBe(80);
  expect(s.seen).toBe(80);
  expect(Array.from(x)).toEqual(Array.from(batch(0, 80, 3)));
});

test('a seeded reservoir of whole rows past maxRows', async () => {
  const run = async (seed: number) => {
    const s = new RowSample(4, 50, seed);
    for (let b = 0; b < 20; b++) await s.add(batch(b * 25, 25, 4), 25);
    return s;
  };
  const a = await run(1);
  expect(a.seen).toBe(500);
  const { x, rows } = a.rows();
  expect(rows).toBe(50);
  const ids = new Set<number>();
  for (let r = 0; r < rows; r++) {
    const row = Array.from(x.subarray(r * 4, r * 4 + 4));
    expect(row).toEqual([row[0], -row[0], row[0], -row[0]]);
    ids.add(row[0]);
  }
  expect(ids.size).toBe(50); // no row twice
  expect([...ids].some((id) => id >= 250)).toBe(true); // later rows get in
  expect(Array.from((await run(1)).rows().x)).toEqual(Array.from(x));
  expect(Array.from((await run(2)).rows().x)).not.toEqual(Array.from(x));
  await expect(a.add(new Float32Array(5), 2)).rejects.toThrow(/5 values, expected 2 rows x 4/);
});
