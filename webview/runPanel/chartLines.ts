// One drawn line of a chart: a series of one run, smoothed (`main`) or the faint raw line
// behind it. Each keeps its own smoother and decimator, so a new point costs only the tail,
// and writes Chart.js's points in place from the first one that changed.

import type { ChartPoint, LineDataset, LineKey } from './chartConfig';
import { borderWidthFor, lineDataset, pointRadiusFor } from './chartConfig';
import type { ChartDefinition, ChartOptions, ChartTheme, EngineRun } from './chartProtocol';
import type { ColumnLayout } from './decimate';
import { IncrementalDecimator } from './decimate';
import type { SeriesStore } from './series';
import { SERIES } from './series';
import { IncrementalSmoother } from './smoothing';

export interface Line {
  readonly key: LineKey;
  readonly runId: string;
  readonly dataset: LineDataset;
  readonly decimator: IncrementalDecimator;
  smoother: IncrementalSmoother | undefined;
  /** Lowest store index changed since this line was last drawn. */
  dirtyFrom: number;
}

/** The lines of one chart: every series of every run, raw lines first (drawn underneath). */
export function createLines(
  definition: ChartDefinition,
  runs: readonly EngineRun[],
  compare: boolean,
  theme: ChartTheme,
  smoothingWeight: number,
): Line[] {
  const smoothing = definition.smoothable ? smoothingWeight : 0;
  const kinds: Array<'raw' | 'main'> = smoothing > 0 ? ['raw', 'main'] : ['main'];
  const lines: Line[] = [];
  for (const kind of kinds) {
    runs.forEach((run, index) => {
      for (const series of definition.series) {
        const key: LineKey = { run: index, series, kind };
        const seriesLabel = SERIES[series].label;
        lines.push({
          key,
          runId: run.runId,
          dataset: lineDataset(key, compare ? `${run.label} · ${seriesLabel}` : seriesLabel, theme, compare),
          decimator: new IncrementalDecimator(),
          smoother: kind === 'main' && smoothing > 0 ? new IncrementalSmoother(smoothing) : undefined,
          dirtyFrom: 0,
        });
      }
    });
  }
  return lines;
}

/** Brings one line's points up to date; returns whether its point style changed. */
export function updateLine(line: Line, store: SeriesStore | undefined, layout: ColumnLayout | undefined, options: ChartOptions): boolean {
  const data = line.dataset.data;
  if (store === undefined || store.length === 0 || layout === undefined) {
    data.length = 0;
    line.decimator.reset();
    line.dirtyFrom = Number.POSITIVE_INFINITY;
    return false;
  }
  let dirty = line.dirtyFrom;
  line.dirtyFrom = Number.POSITIVE_INFINITY;
  let ys: Float64Array = store.y;
  if (line.smoother !== undefined) {
    dirty = line.smoother.update(store.y, store.length, dirty);
    ys = line.smoother.values;
  }
  const changedFrom = line.decimator.update(store.xs(options.xAxis), ys, store.length, dirty, layout);
  const out = line.decimator.out;
  for (let i = changedFrom; i < out.length; i++) {
    const y = out.ys[i] as number;
    // A log axis cannot show zero or less: those points become gaps rather than errors.
    const point: ChartPoint = { x: out.xs[i] as number, y: Number.isFinite(y) && (!options.logScale || y > 0) ? y : null };
    data[i] = point;
  }
  data.length = out.length;
  line.dataset.borderWidth = borderWidthFor(line.key, out.length, layout.columns);
  const radius = pointRadiusFor(line.key, out.length);
  if (line.dataset.pointRadius === radius) return false;
  line.dataset.pointRadius = radius;
  return true;
}
