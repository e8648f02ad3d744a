// Reads a V8 .cpuprofile (what `node --cpu-prof` writes) and aggregates self
// time by function (name + file + line), optionally only for samples inside a
// time window (microseconds on the profile's clock, CLOCK_MONOTONIC on Linux:
// the same clock as process.hrtime in any process of the machine).
import { readFileSync } from 'node:fs';

/** Shortens a script URL: the router's dist/ copy, node_modules/<pkg>/..., node:internal/... */
export function shortUrl(url) {
  if (!url) return '';
  let u = url.replace(/^file:\/\//, '');
  const nm = u.lastIndexOf('/node_modules/');
  if (nm >= 0) return u.slice(nm + 1);
  const dist = u.lastIndexOf('/dist/');
  if (dist >= 0) return u.slice(dist + 1);
  return u;
}

/** A coarse owner of a frame: the router's own code, a package, Node internals, or V8's pseudo-frames. */
export function category(frame) {
  const url = frame.url ?? '';
  if (!url) {
    if (frame.functionName === '(idle)') return '(idle)';
    if (frame.functionName === '(garbage collector)') return '(garbage collector)';
    if (frame.functionName === '(program)') return '(program: native, not attributed)';
    return 'native / builtin';
  }
  const nm = /\/node_modules\/((?:@[^/]+\/)?[^/]+)\//.exec(url);
  if (nm) return `package ${nm[1]}`;
  if (url.startsWith('node:')) return 'node internals';
  if (/\/dist\//.test(url)) return 'kskup router code';
  return 'other';
}

export function loadProfile(file) {
  return JSON.parse(readFileSync(file, 'utf8'));
}

/**
 * Self time per function, in ms, for samples whose timestamp is in [fromUs, toUs)
 * (whole profile when not given). A sample's duration is the time until the next one.
 */
export function selfTimes(profile, { fromUs = -Infinity, toUs = Infinity } = {}) {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const samples = profile.samples ?? [];
  const deltas = profile.timeDeltas ?? [];
  const totals = new Map();
  const categories = new Map();
  let t = profile.startTime;
  let total = 0;
  for (let i = 0; i < samples.length; i++) {
    t += deltas[i] ?? 0;
    const duration = i + 1 < deltas.length ? deltas[i + 1] : 0;
    if (t < fromUs || t >= toUs) continue;
    const node = byId.get(samples[i]);
    if (!node) continue;
    const frame = node.callFrame;
    const key = `${frame.functionName || '(anonymous)'}\u0000${frame.url}\u0000${frame.lineNumber}`;
    let entry = totals.get(key);
    if (!entry) {
      entry = {
        functionName: frame.functionName || '(anonymous)',
        url: shortUrl(frame.url),
        line: frame.lineNumber >= 0 ? frame.lineNumber + 1 : null,
        category: category(frame),
        selfUs: 0,
      };
      totals.set(key, entry);
    }
    entry.selfUs += duration;
    categories.set(entry.category, (categories.get(entry.category) ?? 0) + duration);
    total += duration;
  }
  const idle = categories.get('(idle)') ?? 0;
  const functions = [...totals.values()]
    .sort((a, b) => b.selfUs - a.selfUs)
    .map((e) => ({ ...e, selfMs: e.selfUs / 1000, percent: total ? (100 * e.selfUs) / total : 0, percentBusy: total - idle ? (100 * e.selfUs) / (total - idle) : 0 }));
  return {
    totalMs: total / 1000,
    busyMs: (total - idle) / 1000,
    functions,
    categories: [...categories.entries()]
      .sort((a, b) => b[1] - a[1])
      .map(([name, us]) => ({ name, ms: us / 1000, percent: total ? (100 * us) / total : 0 })),
  };
}

/** The first and last sample time of a profile, in µs. */
export function timeSpan(profile) {
  let t = profile.startTime;
  for (const d of profile.timeDeltas ?? []) t += d;
  return { startUs: profile.startTime, endUs: t };
}

export function formatTop(result, count = 25) {
  const rows = result.functions.slice(0, count).map((f, i) => {
    const where = f.url ? `${f.url}${f.line ? `:${f.line}` : ''}` : '';
    return `${String(i + 1).padStart(3)}. ${f.selfMs.toFixed(1).padStart(8)} ms ${f.percent.toFixed(1).padStart(5)}%  ${f.functionName}  ${where}`;
  });
  const cats = result.categories.map((c) => `${c.name} ${c.percent.toFixed(1)}%`).join(', ');
  return [`    total ${result.totalMs.toFixed(0)} ms sampled, busy ${result.busyMs.toFixed(0)} ms; by owner: ${cats}`, ...rows].join('\n');
}
