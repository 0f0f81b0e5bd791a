// Locates ../shared/data (real models and text, present on dev machines and CI).
// Tests that need it use describeShared / testShared, which skip with a message
// when it is absent.
import * as fs from 'node:fs';
import * as path from 'node:path';

export const SHARED_DATA = path.resolve(__dirname, '..', '..', '..', 'shared', 'data');
export const hasSharedData = fs.existsSync(path.join(SHARED_DATA, 'PROVENANCE.md'));

export function sharedPath(...parts: string[]): string {
  return path.join(SHARED_DATA, ...parts);
}

let warned = false;
function warn(): void {
  if (!warned && !hasSharedData) {
    warned = true;
    // eslint-disable-next-line no-console
    console.warn(`skipping tests that need ../shared/data: not found at ${SHARED_DATA}`);
  }
}

export const describeShared: jest.Describe = hasSharedData ? describe : (warn(), describe.skip);
export const testShared: jest.It = hasSharedData ? test : (warn(), test.skip);
