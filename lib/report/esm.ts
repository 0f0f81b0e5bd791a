// vega and vega-lite are ESM-only and use top-level await, so they can only be loaded
// with a real dynamic import(). tsc (module node16) keeps `import()` in this CommonJS
// build, but ts-jest compiles it to require(), which fails on ESM; hiding the import in
// a Function keeps it real everywhere (under jest that needs node
// --experimental-vm-modules, see the package.json test script). The module is named by
// an absolute file URL so nothing depends on where the Function's code "lives".
// They are imported one after the other: loading both at once through Promise.all has
// been seen to fail on their shared modules.
import { pathToFileURL } from 'node:url';

// eslint-disable-next-line @typescript-eslint/no-implied-eval
const dynamicImport = new Function('url', 'return import(url)') as (url: string) => Promise<unknown>;

function importPackage(name: string): Promise<unknown> {
  return dynamicImport(pathToFileURL(require.resolve(name)).href);
}

async function importBoth() {
  const vega = (await importPackage('vega')) as typeof import('vega', { with: { 'resolution-mode': 'import' } });
  const vegaLite = (await importPackage('vega-lite')) as typeof import('vega-lite', { with: { 'resolution-mode': 'import' } });
  return { vega, vegaLite };
}

export type VegaModules = Awaited<ReturnType<typeof importBoth>>;

let loaded: Promise<VegaModules> | undefined;

/** Loads vega and vega-lite once per process. */
export function loadVega(): Promise<VegaModules> {
  if (!loaded) {
    loaded = importBoth().catch((e: unknown) => {
      loaded = undefined;
      const hint =
        e instanceof Error && /experimental-vm-modules|dynamic import callback/i.test(e.message)
          ? ' (under jest, run node with --experimental-vm-modules)'
          : '';
      throw new Error(`cannot load vega/vega-lite for the report figure${hint}: ${String(e)}`, {
        cause: e,
      });
    });
  }
  return loaded;
}
