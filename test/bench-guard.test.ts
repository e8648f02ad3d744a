// The decision of the performance guard (bench/guard.mjs, npm run bench:guard):
//
//   measured kskup/direct ratios ──checkRatios()──> pass, or fail naming the
//   committed ratios (bench/baseline.json)          figure, measured ratio, limit
//
// - a throughput ratio may fall to baseline / 3, round-trip ratios may rise to
//   baseline x 3: a 2.9x move passes and a 3.1x move fails, for each figure;
// - a figure that was not measured fails, never passes;
// - a baseline file that cannot be used names the file and the attribute;
// - the guard script itself refuses an unknown flag (exit 2) and an unusable
//   baseline (exit 2) before it measures anything.
// The measurement is not tested here: it is the CI step `npm run bench:guard`.
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';

const BENCH = resolve(import.meta.dirname, '..', 'bench');
const run = promisify(execFile);

type Key = 'throughput' | 'rttP50' | 'rttP99';
interface Check {
  key: Key;
  measured: number | null;
  baseline: number;
  limit: number;
  pass: boolean;
  message: string;
}
const guard = (await import(pathToFileURL(join(BENCH, 'lib', 'guard-check.mjs')).href)) as {
  COLLAPSE_FACTOR: number;
  checkRatios: (measured: Partial<Record<Key, number | null>>, baseline: Record<Key, number>) => { pass: boolean; checks: Check[]; failures: string[] };
  parseBaseline: (text: string, file: string) => { ratios: Record<Key, number> };
  busyMachineNote: (otherCores: number, cores: number) => string | null;
};

const BASELINE: Record<Key, number> = { throughput: 0.08, rttP50: 6, rttP99: 4 };
const LABELS: Record<Key, string> = { throughput: 'iperf3 1 stream', rttP50: '64-byte round trip p50', rttP99: '64-byte round trip p99' };

/** The baseline's ratios, with one figure moved `times`-fold the wrong way (throughput down, round trips up). */
function worse(key: Key, times: number): Record<Key, number> {
  return { ...BASELINE, [key]: key === 'throughput' ? BASELINE[key] / times : BASELINE[key] * times };
}

describe('guard decision: kskup/direct ratios against the baseline', () => {
  it('the baseline itself passes, with a message per figure', () => {
    const verdict = guard.checkRatios(BASELINE, BASELINE);
    expect(verdict.pass).toBe(true);
    expect(verdict.failures).toEqual([]);
    expect(verdict.checks.map((c) => c.key)).toEqual(['throughput', 'rttP50', 'rttP99']);
    expect(guard.COLLAPSE_FACTOR).toBe(3);
  });

  it.each(['throughput', 'rttP50', 'rttP99'] as const)('%s: 2.9x worse passes, 3.1x worse fails naming the figure, the ratio and the limit', (key) => {
    const slight = guard.checkRatios(worse(key, 2.9), BASELINE);
    expect(slight.pass, slight.failures.join('; ')).toBe(true);

    const collapse = guard.checkRatios(worse(key, 3.1), BASELINE);
    expect(collapse.pass).toBe(false);
    expect(collapse.failures).toHaveLength(1);
    const check = collapse.checks.find((c) => c.key === key)!;
    const limit = key === 'throughput' ? BASELINE[key] / 3 : BASELINE[key] * 3;
    expect(check.limit).toBeCloseTo(limit, 12);
    const measured = worse(key, 3.1)[key];
    expect(collapse.failures[0]).toBe(
      `collapse: ${LABELS[key]}, kskup/direct ratio ${Number(measured.toPrecision(3))} is ${key === 'throughput' ? 'below' : 'above'} its limit ${Number(limit.toPrecision(3))} (baseline ${BASELINE[key]} ${key === 'throughput' ? '/' : 'x'} 3)`,
    );
  });

  it.each(['throughput', 'rttP50', 'rttP99'] as const)('%s: any move the good way passes, however far', (key) => {
    const better = { ...BASELINE, [key]: key === 'throughput' ? BASELINE[key] * 10 : BASELINE[key] / 10 };
    expect(guard.checkRatios(better, BASELINE).pass).toBe(true);
  });

  it('exactly at the limit passes; every collapsed figure is reported', () => {
    expect(guard.checkRatios({ throughput: BASELINE.throughput / 3, rttP50: BASELINE.rttP50 * 3, rttP99: BASELINE.rttP99 * 3 }, BASELINE).pass).toBe(true);
    const all = guard.checkRatios({ throughput: 0.001, rttP50: 100, rttP99: 100 }, BASELINE);
    expect(all.failures.map((f) => f.split(',')[0])).toEqual(['collapse: iperf3 1 stream', 'collapse: 64-byte round trip p50', 'collapse: 64-byte round trip p99']);
  });

  it.each([
    ['missing', undefined],
    ['null', null],
    ['zero', 0],
    ['NaN', Number.NaN],
    ['Infinity', Number.POSITIVE_INFINITY],
  ])('a figure that was not measured (%s) fails', (_name, value) => {
    const verdict = guard.checkRatios({ ...BASELINE, rttP99: value }, BASELINE);
    expect(verdict.pass).toBe(false);
    expect(verdict.failures).toEqual([expect.stringMatching(/^64-byte round trip p99, kskup\/direct ratio: not measured .*never a pass$/)]);
  });

  it('a busy machine is named beside a failure, a quiet one is not', () => {
    expect(guard.busyMachineNote(0.4, 2)).toBeNull();
    expect(guard.busyMachineNote(1.5, 2)).toMatch(/other processes used 1.5 of 2 cores while measuring.*rerun/);
  });
});

describe('guard baseline file', () => {
  const good = { ratios: BASELINE, measured: { date: '2026-12-01' } };

  it('reads the ratios', () => {
    expect(guard.parseBaseline(JSON.stringify(good), 'b.json').ratios).toEqual(BASELINE);
  });

  it.each([
    ['not JSON', '{ratios', /^b\.json: not valid JSON: /],
    ['not an object', '[1]', /^b\.json: expected a JSON object with "ratios"$/],
    ['no ratios', '{}', /^b\.json: "ratios" must be an object of throughput, rttP50, rttP99$/],
    ['a ratio that is not a number', JSON.stringify({ ratios: { ...BASELINE, rttP50: '6' } }), /^b\.json: "ratios\.rttP50" must be a positive number \(kskup\/direct\), not "6"$/],
    ['a negative ratio and a missing one', JSON.stringify({ ratios: { throughput: -1, rttP50: 6 } }), /^b\.json: "ratios\.throughput" must be .*not -1; "ratios\.rttP99" must be .*not undefined$/],
    ['an unknown figure', JSON.stringify({ ratios: { ...BASELINE, tput8: 0.1 } }), /^b\.json: "ratios\.tput8" is not a guarded figure/],
  ])('%s: refused, naming the file and attribute', (_name, text, message) => {
    expect(() => guard.parseBaseline(text, 'b.json')).toThrow(message);
  });

  it('the committed bench/baseline.json is usable', async () => {
    const { readFile } = await import('node:fs/promises');
    const text = await readFile(join(BENCH, 'baseline.json'), 'utf8');
    const { ratios } = guard.parseBaseline(text, 'bench/baseline.json');
    expect(ratios.throughput).toBeLessThan(1);
    expect(ratios.rttP50).toBeGreaterThan(1);
  });
});

describe('bench/guard.mjs refuses bad input before measuring', () => {
  const dir = mkdtempSync(join(os.tmpdir(), 'kskup-guard-test-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  async function guardExit(args: string[]): Promise<{ code: number; stderr: string }> {
    try {
      await run(process.execPath, [join(BENCH, 'guard.mjs'), ...args], { timeout: 20_000 });
      return { code: 0, stderr: '' };
    } catch (error) {
      const e = error as { code: number; stderr: string };
      return { code: e.code, stderr: e.stderr };
    }
  }

  it('an unknown flag: exit 2, naming it, with the usage', async () => {
    const { code, stderr } = await guardExit(['--baselin', 'x.json']);
    expect(code).toBe(2);
    expect(stderr).toMatch(/^bench\/guard\.mjs: unknown option --baselin\nusage: npm run bench:guard/);
  });

  it('a baseline file with a bad ratio: exit 2, naming file and attribute', async () => {
    const file = join(dir, 'bad.json');
    writeFileSync(file, JSON.stringify({ ratios: { ...BASELINE, rttP99: 0 } }));
    const { code, stderr } = await guardExit(['--baseline', file]);
    expect(code).toBe(2);
    expect(stderr).toContain('bad.json: "ratios.rttP99" must be a positive number (kskup/direct), not 0');
    expect(stderr).not.toContain('measurement');
  });

  it('a baseline file that does not exist: exit 2', async () => {
    const { code, stderr } = await guardExit(['--baseline', join(dir, 'none.json')]);
    expect(code).toBe(2);
    expect(stderr).toMatch(/none\.json: no such baseline file \(make one with --update-baseline\)/);
  });
});
