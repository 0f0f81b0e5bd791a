// vega and vega-lite are ESM-only and use top-level await. With tsconfig module
// node16 this CommonJS build keeps `import()` as a real dynamic import (under jest that
// needs node --experimental-vm-modules). They are imported one after the other: loading
// both at once through Promise.all has been seen to fail on their shared modules.

async function importBoth() {
  const vega = await import('vega');
  const vegaLite = await import('vega-lite');
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
