// Running kskup and skupper-router side by side in one bench invocation: the
// order of the paths in each run, and the kskup / skupper-router ratios. On a
// shared machine only such ratios, measured minutes apart, mean something.
import { median } from './common.mjs';

/**
 * The order of the paths in run `run` (0-based). It rotates by one every run, so
 * that slow drifts of the machine hit all paths alike. kskup and skrouterd are
 * one slot of the rotation, measured one right after the other, and which of the
 * two goes first alternates from run to run.
 * @param {string[]} paths  in table order
 * @param {number} run
 * @returns {string[]}
 */
export function runOrder(paths, run) {
  const pair = paths.includes('kskup') && paths.includes('skrouterd');
  const slots = pair ? paths.filter((p) => p !== 'skrouterd').map((p) => (p === 'kskup' ? ['kskup', 'skrouterd'] : [p])) : paths.map((p) => [p]);
  const rotated = slots.map((_, i) => slots[(i + run) % slots.length]);
  return rotated.flatMap((slot) => (slot.length === 2 && run % 2 === 1 ? [...slot].reverse() : slot));
}

/**
 * kskup / skupper-router per metric: the ratio in each run (the two were measured
 * one right after the other in that run), and the median of those ratios. Runs
 * where either side has no value (or skupper-router's is 0) give null.
 * @param {{ values: Record<string, number> }[]} kskup  one record per run
 * @param {{ values: Record<string, number> }[]} skrouterd  one record per run, same order
 * @param {{ key: string, better: 'higher' | 'lower', noRatio?: boolean }[]} metrics
 * @returns {Record<string, { perRun: (number | null)[], median: number | null, better: string }>}
 */
export function sideBySideRatios(kskup, skrouterd, metrics) {
  const ratios = {};
  for (const metric of metrics) {
    if (metric.noRatio) continue;
    const perRun = kskup.map((k, i) => {
      const a = k.values[metric.key];
      const b = skrouterd[i]?.values[metric.key];
      return typeof a === 'number' && typeof b === 'number' && b !== 0 ? a / b : null;
    });
    const mid = median(perRun);
    ratios[metric.key] = { perRun: perRun.map((r) => (r === null ? null : Number(r.toFixed(3)))), median: mid === null ? null : Number(mid.toFixed(3)), better: metric.better };
  }
  return ratios;
}
