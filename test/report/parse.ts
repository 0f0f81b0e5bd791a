// Small readers for the renderer tests: CSV, Markdown tables and PNG headers, written
// independently of lib/report so the tests check the files, not the writer's own code.
import { inflateSync } from 'node:zlib';

/** RFC 4180 CSV: quoted fields, doubled quotes, commas and newlines inside quotes. */
export function parseCsv(text: string): string[][] {
  const rows: string[][] = [];
  let row: string[] = [];
  let field = '';
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const ch = text[i];
    if (quoted) {
      if (ch === '"' && text[i + 1] === '"') (field += '"'), i++;
      else if (ch === '"') quoted = false;
      else field += ch;
    } else if (ch === '"') quoted = true;
    else if (ch === ',') row.push(field), (field = '');
    else if (ch === '\n') row.push(field), rows.push(row), (row = []), (field = '');
    else field += ch;
  }
  if (field !== '' || row.length) row.push(field), rows.push(row);
  return rows;
}

export interface MdTable {
  heading: string;
  header: string[];
  rows: string[][];
}

/** Every pipe table in a Markdown document, with the nearest heading above it. */
export function markdownTables(md: string): MdTable[] {
  const split = (line: string) =>
    line
      .trim()
      .replace(/^\|/, '')
      .replace(/\|$/, '')
      .split(/(?<!\\)\|/)
      .map((c) => c.trim().replace(/\\\|/g, '|'));
  const out: MdTable[] = [];
  let heading = '';
  const lines = md.split('\n');
  for (let i = 0; i < lines.length; i++) {
    if (/^#+ /.test(lines[i])) heading = lines[i].replace(/^#+ /, '');
    if (lines[i].startsWith('|') && lines[i + 1]?.startsWith('| :---')) {
      const t: MdTable = { heading, header: split(lines[i]), rows: [] };
      for (i += 2; i < lines.length && lines[i].startsWith('|'); i++) t.rows.push(split(lines[i]));
      out.push(t);
    }
  }
  return out;
}

export interface PngInfo {
  width: number;
  height: number;
  bitDepth: number;
  colorType: number;
  /** The decompressed image data: filter byte + scanline, per row. */
  data: Buffer;
}

/** Reads the PNG signature, IHDR and the inflated IDAT stream. */
export function readPng(buf: Buffer): PngInfo {
  const sig = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
  if (!buf.subarray(0, 8).equals(sig)) throw new Error('not a PNG signature');
  let off = 8;
  let info: Omit<PngInfo, 'data'> | undefined;
  const idat: Buffer[] = [];
  while (off < buf.length) {
    const len = buf.readUInt32BE(off);
    const type = buf.toString('latin1', off + 4, off + 8);
    const body = buf.subarray(off + 8, off + 8 + len);
    if (type === 'IHDR') {
      info = {
        width: body.readUInt32BE(0),
        height: body.readUInt32BE(4),
        bitDepth: body[8],
        colorType: body[9],
      };
    } else if (type === 'IDAT') idat.push(body);
    else if (type === 'IEND') break;
    off += 12 + len;
  }
  if (!info) throw new Error('PNG without IHDR');
  return { ...info, data: inflateSync(Buffer.concat(idat)) };
}
