// A temporary folder per test file, removed after it, and (optionally) a test
// PKI in it: the set-up most router test files share.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll } from 'vitest';
import { createTestPki, type TestPki } from './test-pki.js';

export interface TestFolder {
  /** Valid from beforeAll on. */
  readonly path: string;
  /** Valid from beforeAll on when made with `withPki`. */
  readonly pki: TestPki;
}

export function useTestFolder(prefix: string, options: { withPki?: boolean } = {}): TestFolder {
  const folder: { path: string; pki: TestPki | undefined } = { path: '', pki: undefined };
  beforeAll(async () => {
    folder.path = await mkdtemp(join(tmpdir(), `kskup-${prefix}-`));
    if (options.withPki) folder.pki = await createTestPki(join(folder.path, 'pki'));
  });
  afterAll(async () => {
    if (folder.path) await rm(folder.path, { recursive: true, force: true });
  });
  return {
    get path() {
      return folder.path;
    },
    get pki() {
      if (!folder.pki) throw new Error('useTestFolder: made without withPki');
      return folder.pki;
    },
  };
}
