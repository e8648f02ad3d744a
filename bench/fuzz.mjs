// The long fuzz run (`npm run bench:fuzz -- --minutes N [--seed S] [--path P] [--only NAME]`):
// the property-based tests of `npm test` (test/fuzz-*.test.ts: AMQP frames to
// the normal, inter-router and edge listeners, config files, token files, the
// claims endpoint's HTTP requests, management requests), each run for its share
// of N minutes instead of its bounded number of cases.
//
// The seed is printed first and by every property; a failure prints
// fast-check's seed and path. To replay it: --seed S --path P --only NAME,
// where NAME picks the test files (e.g. amqp-frames, config, claims-http).
// Exit code: vitest's (0 when every property held).
import { spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { resolve } from 'node:path';

const REPO = resolve(import.meta.dirname, '..');
const args = process.argv.slice(2);
const option = (name) => {
  const at = args.indexOf(`--${name}`);
  return at < 0 ? undefined : args[at + 1];
};
const minutes = Number(option('minutes') ?? 10);
if (!(minutes > 0)) {
  console.error('bench:fuzz: --minutes must be a positive number');
  process.exit(2);
}
const seed = option('seed') ?? String((Date.now() ^ Math.floor(Math.random() * 0x100000000)) | 0);
const path = option('path');
const only = option('only');

const files = readdirSync(resolve(REPO, 'test'))
  .filter((file) => /^fuzz-.*\.test\.ts$/.test(file) && (!only || file.includes(only)))
  .map((file) => `test/${file}`);
if (files.length === 0) {
  console.error(`bench:fuzz: no test/fuzz-*.test.ts matches --only ${only}`);
  process.exit(2);
}
// One property per file, but three in the AMQP frames file (one per listener).
const properties = files.reduce((count, file) => count + (file.includes('amqp-frames') ? 3 : 1), 0);
const seconds = Math.max(10, Math.floor((minutes * 60) / properties));

console.log(`bench:fuzz: seed ${seed}${path ? `, path ${path}` : ''}; ${properties} properties in ${files.length} files, ${seconds} s each`);
const build = spawnSync('npm', ['run', 'build'], { cwd: REPO, stdio: 'inherit' });
if (build.status !== 0) process.exit(build.status ?? 1);
const run = spawnSync('npx', ['vitest', 'run', ...files], {
  cwd: REPO,
  stdio: 'inherit',
  env: { ...process.env, KSKUP_FUZZ_SECONDS: String(seconds), KSKUP_FUZZ_SEED: seed, ...(path && { KSKUP_FUZZ_PATH: path }) },
});
console.log(`bench:fuzz: seed ${seed}: ${run.status === 0 ? 'every property held' : 'a property failed (its seed and path are above)'}`);
process.exit(run.status ?? 1);
