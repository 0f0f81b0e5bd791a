// SVG to PNG with resvg, using a font file shipped in an npm package (DejaVu Sans) and
// no system fonts, so the image is the same on every machine, with or without fonts.
import * as path from 'node:path';
import { CHART_FONT } from './chart';

/** The DejaVu Sans files from the dejavu-fonts-ttf package (Bitstream Vera licence). */
export function chartFontFiles(): string[] {
  const dir = path.join(path.dirname(require.resolve('dejavu-fonts-ttf/package.json')), 'ttf');
  return ['DejaVuSans.ttf', 'DejaVuSans-Bold.ttf'].map((f) => path.join(dir, f));
}

/** Rasterises `svg` at `scale` times its own size. */
export function svgToPng(svg: string, scale = 2): Buffer {
  // Loaded here, not at module load, so `require('shears')` does not load resvg's addon.
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const { Resvg } = require('@resvg/resvg-js') as typeof import('@resvg/resvg-js');
  const resvg = new Resvg(svg, {
    fitTo: { mode: 'zoom', value: scale },
    background: 'white',
    font: {
      fontFiles: chartFontFiles(),
      loadSystemFonts: false,
      defaultFontFamily: CHART_FONT,
      sansSerifFamily: CHART_FONT,
    },
  });
  return resvg.render().asPng();
}
