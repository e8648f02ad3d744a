// The soak's plot (docs/soak.svg): heap after GC, Buffers (arrayBuffers), RSS and active handles of every
// process over time, one line per process, with the faults marked and the warm-up
// shaded. A Vega-Lite spec rendered to SVG by Vega's headless renderer (no browser,
// no canvas): https://vega.github.io/vega-lite/usage/compile.html
import * as vega from 'vega';
import { compile } from 'vega-lite';

const MIB = 2 ** 20;

/** SVG text for a soak result (the object bench/soak.mjs writes as JSON). */
export async function renderSoakPlot(result) {
  const rows = [];
  for (const sample of result.samples) {
    for (const [process, p] of Object.entries(sample.processes)) {
      const minute = sample.t / 60;
      if (typeof p.heapAfterGc === 'number') rows.push({ minute, process, panel: 'heap after GC (MiB)', value: p.heapAfterGc / MIB });
      if (typeof p.rss === 'number') rows.push({ minute, process, panel: 'RSS (MiB)', value: p.rss / MIB });
      if (typeof p.arrayBuffers === 'number') rows.push({ minute, process, panel: 'buffers outside the heap (MiB)', value: p.arrayBuffers / MIB });
      if (typeof p.handles === 'number') rows.push({ minute, process, panel: 'active handles and requests', value: p.handles });
    }
  }
  const faults = result.faults.filter((f) => f.kind === 'pause' || f.kind === 'relink').map((f) => ({ minute: f.at / 60, fault: f.kind === 'pause' ? `pause ${f.site}` : `relink ${f.link}` }));
  const warmup = result.settings.warmupMinutes;
  const panel = (title) => ({
    title,
    width: 720,
    height: 180,
    layer: [
      { data: { values: [{ from: 0, to: warmup }] }, mark: { type: 'rect', opacity: 0.08, color: 'black' }, encoding: { x: { field: 'from', type: 'quantitative' }, x2: { field: 'to' } } },
      { data: { values: faults }, mark: { type: 'rule', strokeDash: [4, 3], color: 'grey' }, encoding: { x: { field: 'minute', type: 'quantitative' }, tooltip: { field: 'fault' } } },
      {
        data: { values: rows.filter((r) => r.panel === title) },
        mark: { type: 'line', point: false },
        encoding: {
          x: { field: 'minute', type: 'quantitative', title: 'minutes' },
          y: { field: 'value', type: 'quantitative', title },
          color: { field: 'process', type: 'nominal' },
        },
      },
    ],
  });
  const spec = {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title: { text: `kskup soak, ${result.settings.minutes} min, ${result.date.slice(0, 10)}`, subtitle: 'dashed: faults (pause, relink); shaded: warm-up' },
    background: 'white',
    vconcat: ['heap after GC (MiB)', 'buffers outside the heap (MiB)', 'RSS (MiB)', 'active handles and requests'].map(panel),
  };
  const view = new vega.View(vega.parse(compile(spec).spec), { renderer: 'none' });
  const svg = await view.toSVG();
  view.finalize();
  return svg;
}
