// Renders a vega-lite spec to SVG with vega, in a worker thread.
//
// vega and vega-lite are ESM-only with top-level await, so only a real `import()` loads
// them. In this CommonJS build tsc keeps `import()` as it is, but under jest (ts-jest
// compiles it to require(), and jest's VM module support needs a node flag and has
// been seen to fail on the second test file of a worker) and other module sandboxes it
// breaks. A worker thread is plain Node whatever loaded shears, so the import always
// works. The two packages are imported one after the other, not through Promise.all.
import { pathToFileURL } from 'node:url';
import { Worker } from 'node:worker_threads';

const WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
(async () => {
  const vega = await import(workerData.vegaUrl);
  const vegaLite = await import(workerData.vegaLiteUrl);
  const view = new vega.View(vega.parse(vegaLite.compile(workerData.spec).spec), { renderer: 'none' });
  try {
    parentPort.postMessage({ svg: await view.toSVG() });
  } finally {
    view.finalize();
  }
})().catch((e) => parentPort.postMessage({ error: String((e && e.stack) || e) }));
`;

/** The SVG document of a vega-lite specification (plain JSON), rendered without a browser. */
export function renderVegaLiteSvg(spec: Record<string, unknown>): Promise<string> {
  const workerData = {
    spec,
    // Absolute URLs: the worker's own code has no folder to resolve package names from.
    vegaUrl: pathToFileURL(require.resolve('vega')).href,
    vegaLiteUrl: pathToFileURL(require.resolve('vega-lite')).href,
  };
  return new Promise((resolve, reject) => {
    const worker = new Worker(WORKER_SOURCE, { eval: true, workerData });
    let settled = false;
    const done = (err: Error | null, svg?: string) => {
      if (settled) return;
      settled = true;
      void worker.terminate();
      if (err) reject(err);
      else resolve(svg as string);
    };
    worker.once('message', (m: { svg?: string; error?: string }) =>
      m.svg !== undefined
        ? done(null, m.svg)
        : done(new Error(`vega could not render the report figure: ${m.error}`)),
    );
    worker.once('error', (e) => done(new Error(`vega worker failed: ${e.message}`, { cause: e })));
    worker.once('exit', (code) => done(new Error(`vega worker exited (code ${code}) before rendering`)));
  });
}
