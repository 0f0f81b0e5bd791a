// The promise API runs off the JavaScript thread: timers keep firing while a large
// selection runs.
import { Matrix, pruneMatrix, selectMask } from '../../lib';

test('a timer keeps firing while a large prune runs', async () => {
  const rows = 2048;
  const cols = 4096;
  const data = new Float32Array(rows * cols);
  for (let i = 0; i < data.length; i++) data[i] = Math.sin(i * 12.9898) * 43758.5453 % 1;
  const w: Matrix = { data, dtype: 'f32', rows, cols };
  let ticks = 0;
  const timer = setInterval(() => ticks++, 1);
  const started = Date.now();
  let done = false;
  const work = (async () => {
    // several passes so that the work clearly outlasts a few timer periods
    for (let i = 0; i < 4; i++) {
      await pruneMatrix(w, {}, { sparsity: 0.5, granularity: 'matrix' });
      await selectMask(data, rows, cols, { pattern: { n: 2, m: 4 } });
    }
    done = true;
  })();
  const ticksWhileRunning = await new Promise<number>((resolve) => {
    const check = setInterval(() => {
      if (done) {
        clearInterval(check);
        resolve(ticks);
      }
    }, 5);
  });
  await work;
  clearInterval(timer);
  const elapsed = Date.now() - started;
  // With a blocked event loop the timers could not have run at all before `done`.
  expect(elapsed).toBeGreaterThan(20);
  expect(ticksWhileRunning).toBeGreaterThan(5);
});
