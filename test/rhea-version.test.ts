// kskup's router reaches into rhea's internals (router/amqp/frame-output.ts,
// router/peer/rhea-tuning.ts), so rhea is pinned: package.json names one exact
// release, the one installed, and the one the code says it was written for.
// Moving to another release means reading its changes against those modules
// and updating all three together.
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { RHEA_VERSION } from '../router/peer/rhea-tuning.js';

const require = createRequire(import.meta.url);
const root = resolve(import.meta.dirname, '..');

describe('rhea is pinned', () => {
  it('package.json, package-lock.json and the installed rhea are the release the router is written for', () => {
    const manifest = JSON.parse(readFileSync(resolve(root, 'package.json'), 'utf8')) as { dependencies: Record<string, string> };
    const lock = JSON.parse(readFileSync(resolve(root, 'package-lock.json'), 'utf8')) as { packages: Record<string, { version?: string; dependencies?: Record<string, string> }> };
    expect(manifest.dependencies.rhea).toBe(RHEA_VERSION);
    expect(lock.packages['']?.dependencies?.rhea).toBe(RHEA_VERSION);
    expect(lock.packages['node_modules/rhea']?.version).toBe(RHEA_VERSION);
    expect((require('rhea/package.json') as { version: string }).version).toBe(RHEA_VERSION);
  });
});
