// The drawing's share of the warm-up (warmUp.ts has the data's): a synthetic run drawn into
// scratch charts, off screen, while the page still waits for the host's backlog. V8 runs new
// code in its interpreter, several times slower than once compiled, and compiles it for the
// objects it has seen: the first real frame (every chart on screen fitting its axes in
// Chart.js, then painting hundreds of thousands of points) is only quick once the same code
// has run on objects made the same way. So this goes through the engine's own paths (store,
// lines, slot, Chart.js, painting) rather than calling the loops on hand-made arguments.

import { computeExtent } from './axisExtent';
import type { Line } from './chartLines';
import { createLines } from './chartLines';
import type { ChartOptions, ChartTheme, EngineRun } from './chartProtocol';
import { CHARTS } from './chartProtocol';
import { ChartSlot } from './chartSlot';
import { ColumnIndexCache } from './decimate';
import type { SeriesColumn } from './series';
import { RunSeriesData } from './series';

/** Points per series: tens per pixel column, as in a long run. */
const POINTS = 16_384;

function columns(series: SeriesColumn['series'], from: number, count: number, every: number, run: number): SeriesColumn {
  const step = new Float64Array(count);
  for (let i = 0; i < count; i++) step[i] = from + i * every;
  return {
    series,
    step,
    epoch: step.map((s) => s / 1000),
    t: step.map((s) => 1_764_000_000 + s * 2.5),
    y: step.map((s) => 0.4 + run * 0.1 + 2 * Math.exp(-s / 5000) + 0.1 * Math.sin(s * 0.37 + run) * Math.cos(s * 0.011)),
  };
}

/** Warm-up rounds, each a scratch chart drawn, after a live step, and on a wider axis. */
export const WARM_UP_ROUNDS = 2;

/** Draws round `round` of the synthetic run into a scratch chart, then lets it go. */
export function warmUpChart(round: number, theme: ChartTheme, options: ChartOptions, dpr: number): void {
  const definition = CHARTS[0];
  if (typeof OffscreenCanvas === 'undefined' || definition === undefined) return;
  const indexes = new ColumnIndexCache();
  const runs: EngineRun[] = [0, 1].map((i) => ({ runId: `warm-up-${i}`, label: `warm-up ${i}`, live: true }));
  const data = runs.map((run, i) => {
    const set = new RunSeriesData();
    set.apply({
      runId: run.runId,
      reset: true,
      attempt: 1,
      columns: [columns('trainLoss', 1, POINTS, 1, i), columns('evalLoss', 100, POINTS / 100, 100, i)],
      extent: { maxSteps: POINTS * 1.25, epochsPerStep: 0.001 },
    });
    return set;
  });
  const store = (line: Line) => data[line.key.run]?.stores.get(line.key.series);
  const slot = new ChartSlot(definition, new OffscreenCanvas(1, 1), 420 + 61 * round, round % 2 === 0 ? 170 : 280, true);
  slot.lines = createLines(definition, runs, round % 2 === 1, theme, options.smoothing);
  const context = { theme, options, dpr, store, indexes };
  const extent = computeExtent(
    runs.map((run, i) => ({ data: data[i], live: run.live })),
    options.xAxis,
    undefined,
  );
  slot.draw(extent, context);
  // A live step (only the tail redone), then a wider axis (the axes fitted again).
  data.forEach((set, i) => {
    for (const [series, from] of set.apply({ runId: runs[i]?.runId ?? '', reset: false, attempt: 1, columns: [columns('trainLoss', POINTS + 1, 1, 1, i)] })) {
      for (const line of slot.lines) if (line.key.run === i && line.key.series === series) line.dirtyFrom = Math.min(line.dirtyFrom, from);
    }
  });
  indexes.clear();
  slot.draw(extent, context);
  indexes.clear();
  slot.draw(extent === undefined ? undefined : { ...extent, xMax: extent.xMax * 1.5 }, context);
  slot.dispose();
}
