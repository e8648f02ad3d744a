// Fault tests at full length (`npm run bench:faults`): the fault test files of
// `npm test` (test/fault-*.test.ts: routers in network namespaces, flows
// checked byte by byte; see docs/reliability.md), run with the lengths that
// are too long for every CI run:
//
//   kill       kill -9 of a router under 20 flows (as in npm test)
//   cut        a link cut for 60 s (npm test: 33 s)
//   satellite  300 ms and 5% loss each way, 8 flows of 1 MiB each way (npm test: 4 of 128 KiB)
//   pause      a router SIGSTOPped for 60 s (npm test: 10 s)
//   site-pause        a local site's site process SIGSTOPped for 60 s, default timers
//                     (test/site-pause.test.ts; npm test: 4 s with scaled timers)
//   supervisor-pause  that site's supervisor SIGSTOPped for 60 s (npm test: 4 s)
//
// The router cases need root and iproute2, as the tests do; the site cases run
// local sites and need neither. Builds nothing (run `npm run build` first: the
// tests run dist/). The tests print their figures; they are collected, with the
// pass or failure of each, in bench/results/faults-latest.json.
// Options: --only kill|cut|satellite|pause|site-pause|supervisor-pause
// (repeatable), --cut-seconds N, --pause-seconds N, --site-pause-seconds N,
// --satellite-kib N, --satellite-flows N, --satellite-seed N.
import { spawn } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';

const REPO = resolve(import.meta.dirname, '..');
const args = process.argv.slice(2);
const option = (name, fallback) => {
  const at = args.indexOf(name);
  return at >= 0 && args[at + 1] !== undefined ? args[at + 1] : fallback;
};
const only = args.flatMap((a, i) => (a === '--only' ? [args[i + 1]] : []));

const cutSeconds = Number(option('--cut-seconds', 60));
const pauseSeconds = Number(option('--pause-seconds', 60));
const sitePauseSeconds = Number(option('--site-pause-seconds', 60));
const satelliteKib = Number(option('--satellite-kib', 1024));
const satelliteFlows = Number(option('--satellite-flows', 8));
const satelliteSeed = Number(option('--satellite-seed', 12));

const cases = [
  { name: 'kill', file: 'test/fault-router-kill.test.ts', env: {} },
  { name: 'cut', file: 'test/fault-link-cut.test.ts', env: { KSKUP_FAULT_CUT_SECONDS: String(cutSeconds) } },
  {
    name: 'satellite',
    file: 'test/fault-satellite.test.ts',
    env: {
      KSKUP_FAULT_SATELLITE_KIB: String(satelliteKib),
      KSKUP_FAULT_SATELLITE_FLOWS: String(satelliteFlows),
      KSKUP_FAULT_SATELLITE_SEED: String(satelliteSeed),
      // Generous: at roughly 100 KiB/s both ways, 8 MiB each way takes minutes.
      KSKUP_FAULT_SATELLITE_TIMEOUT_S: String(Math.max(60, Math.ceil((satelliteFlows * satelliteKib * 2) / 20))),
    },
  },
  { name: 'pause', file: 'test/fault-router-pause.test.ts', env: { KSKUP_FAULT_PAUSE_SECONDS: String(pauseSeconds) } },
  // One file, two tests: each case runs its own (-t), on sites of its own.
  { name: 'site-pause', file: 'test/site-pause.test.ts', test: 'site process:', env: { KSKUP_FAULT_SITE_PAUSE_SECONDS: String(sitePauseSeconds) } },
  { name: 'supervisor-pause', file: 'test/site-pause.test.ts', test: 'supervisor:', env: { KSKUP_FAULT_SITE_PAUSE_SECONDS: String(sitePauseSeconds) } },
].filter((c) => only.length === 0 || only.includes(c.name));

if (cases.length === 0) {
  console.error(`bench/faults.mjs: --only takes kill, cut, satellite, pause, site-pause or supervisor-pause; got ${only.join(', ')}`);
  process.exit(2);
}

/** Runs one test file under vitest with `env`; resolves with its exit code and the lines the test printed. */
function runCase(c) {
  return new Promise((resolveRun) => {
    const started = Date.now();
    const child = spawn(process.execPath, [join(REPO, 'node_modules/vitest/vitest.mjs'), 'run', c.file, ...(c.test ? ['-t', c.test] : []), '--testTimeout', '900000', '--hookTimeout', '120000'], {
      cwd: REPO,
      env: { ...process.env, ...c.env, NO_COLOR: '1' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const lines = [];
    const take = (stream, out) => {
      let partial = '';
      stream.setEncoding('utf8').on('data', (text) => {
        out.write(text);
        partial += text;
        const complete = partial.split('\n');
        partial = complete.pop() ?? '';
        lines.push(...complete);
      });
    };
    take(child.stdout, process.stdout);
    take(child.stderr, process.stderr);
    // Stopping the bench stops the run, whose own clean-up removes the namespaces.
    const stop = () => child.kill('SIGTERM');
    process.once('SIGINT', stop);
    child.once('exit', (code) => {
      process.off('SIGINT', stop);
      // The figures: what the tests print of their flows and timings.
      const figures = lines.map((l) => l.replace(/\x1b\[[0-9;]*m/g, '')).filter((l) => /after the|after SIGSTOP|after a |satellite wire|link up|every flow had|^site-pause|^supervisor-pause/.test(l)).map((l) => l.trim());
      resolveRun({ name: c.name, file: c.file, env: c.env, passed: code === 0, seconds: Math.round((Date.now() - started) / 1000), figures });
    });
  });
}

const results = [];
for (const c of cases) {
  console.log(`\n=== ${c.name}: ${c.file}${c.test ? ` -t '${c.test}'` : ''} ${Object.entries(c.env).map(([k, v]) => `${k}=${v}`).join(' ')}`);
  results.push(await runCase(c));
}
mkdirSync(join(REPO, 'bench/results'), { recursive: true });
const out = join(REPO, 'bench/results/faults-latest.json');
writeFileSync(out, JSON.stringify({ date: new Date().toISOString(), results }, null, 2) + '\n');
console.log('\n=== summary');
for (const r of results) console.log(`${r.passed ? 'PASS' : 'FAIL'} ${r.name} (${r.seconds} s)\n${r.figures.filter((f) => !/^seed \d+/.test(f)).map((f) => `  ${f}`).join('\n')}`);
console.log(`results: ${out}`);
process.exitCode = results.every((r) => r.passed) ? 0 : 1;
