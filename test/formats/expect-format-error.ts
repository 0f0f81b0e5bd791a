// The one expectation for bad model files: loadModel rejects with a FormatError (code
// E_FORMAT) that names `file` and matches `fragment`.
import { loadModel } from '../../lib/formats/load';

export async function expectFormatError(p: string, file: string, fragment: string | RegExp): Promise<Error> {
  let err: (Error & { code?: string; file?: string }) | undefined;
  try {
    const m = await loadModel(p);
    m.close();
  } catch (e) {
    err = e as Error & { code?: string; file?: string };
  }
  expect(err).toBeDefined();
  expect(err!.name).toBe('FormatError');
  expect(err!.code).toBe('E_FORMAT');
  expect(err!.file).toBe(file);
  expect(err!.message).toContain(file);
  expect(err!.message).toMatch(fragment);
  return err!;
}
