// One drawn line of a chart: a series of one run, smoothed (`main`) or the faint raw line
// behind it. Each keeps its own smoother and decimator, so a new point costs only the tail.
// The decimator's typed arrays are what gets drawn (lineDrawing.ts): no per-point objects.

import type { ChartDefinition, ChartOptions, ChartTheme, EngineRun } from './chartProtocol';
import type { ColumnIndexCache, ColumnLayout } from './decimate';
import { IncrementalDecimator } from './decimate';
import type { SeriesName, SeriesStore } from './series';
import { SERIES } from './series';
import { IncrementalSmoother } from './smoothing';

/** One drawn line: a series of one run, smoothed (`main`) or the raw line behind it. */
export interface LineKey {
  readonly run: number;
  readonly series: SeriesName;
  readonly kind: 'main' | 'raw';
}

export interface LineStyle {
  /** The tooltip's name for the line. */
  readonly label: string;
  readonly colour: string;
  readonly dash: readonly number[];
  lineWidth: number;
  /** Markers at every point while a line is short, and on eval lines. */
  pointRadius: number;
}

export interface Line {
  readonly key: LineKey;
  readonly runId: string;
  readonly style: LineStyle;
  readonly decimator: IncrementalDecimator;
  smoother: IncrementalSmoother | undefined;
  /** Lowest store index changed since this line was last drawn. */
  dirtyFrom: number;
}

/** `#rrggbb`, `#rgb` or `rgb()` with an alpha; anything else unchanged. */
export function withAlpha(colour: string, alpha: number): string {
  const hex = /^#([0-9a-f]{3}|[0-9a-f]{6})([0-9a-f]{2})?$/i.exec(colour.trim());
  if (hex?.[1] !== undefined) {
    const digits = hex[1].length === 3 ? [...hex[1]].map((d) => d + d).join('') : hex[1];
    const [r, g, b] = [0, 2, 4].map((i) => parseInt(digits.slice(i, i + 2), 16));
    return `rgba(${r}, ${g}, ${b}, ${alpha})`;
  }
  const rgb = /^rgba?\(\s*([\d.]+)[,\s]+([\d.]+)[,\s]+([\d.]+)/i.exec(colour.trim());
  return rgb !== null ? `rgba(${rgb[1]}, ${rgb[2]}, ${rgb[3]}, ${alpha})` : colour;
}

export function lineColour(key: LineKey, theme: ChartTheme, compare: boolean): string {
  const base = compare ? (theme.runs[key.run % theme.runs.length] ?? theme.foreground) : theme.series[key.series];
  return key.kind === 'raw' ? withAlpha(base, 0.28) : base;
}

const isEval = (series: SeriesName): boolean => SERIES[series].split === 'eval';

/**
 * Thinner strokes once a line has several points per pixel column: the drawn zigzag then
 * fills its column's range anyway, and rasterising a 2 px stroke up and down every column
 * costs more than all the rest of a chart's drawing.
 */
export function lineWidthFor(key: LineKey, drawnPoints: number, columns: number): number {
  if (key.kind === 'raw') return 1;
  return drawnPoints > columns ? 1 : 2;
}

/** Markers while a line is short (a lone point between gaps must still show). */
export function pointRadiusFor(key: LineKey, drawnPoints: number): number {
  if (key.kind === 'raw') return 0;
  if (drawnPoints <= 40) return 3;
  return isEval(key.series) ? 2 : 0;
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
          style: {
            label: compare ? `${run.label} · ${seriesLabel}` : seriesLabel,
            colour: lineColour(key, theme, compare),
            // Eval lines are dashed beside a train line of the same run colour in compare mode.
            dash: compare && isEval(series) ? [6, 3] : [],
            lineWidth: kind === 'raw' ? 1 : 2,
            pointRadius: 0,
          },
          decimator: new IncrementalDecimator(),
          smoother: kind === 'main' && smoothing > 0 ? new IncrementalSmoother(smoothing) : undefined,
          dirtyFrom: 0,
        });
      }
    });
  }
  return lines;
}

/** Brings one line's decimated points up to date (`indexes`: this pass's column edges). */
export function updateLine(
  line: Line,
  store: SeriesStore | undefined,
  layout: ColumnLayout | undefined,
  options: ChartOptions,
  indexes?: ColumnIndexCache,
): void {
  if (store === undefined || store.length === 0 || layout === undefined) {
    line.decimator.reset();
    line.dirtyFrom = Number.POSITIVE_INFINITY;
    return;
  }
  let dirty = line.dirtyFrom;
  line.dirtyFrom = Number.POSITIVE_INFINITY;
  let ys: Float64Array = store.y;
  if (line.smoother !== undefined) {
    dirty = line.smoother.update(store.y, store.length, dirty);
    ys = line.smoother.values;
  }
  const xs = store.xs(options.xAxis);
  // A store holds each step once, in order: its steps need no checking.
  if (options.xAxis === 'step') indexes?.knownSorted(xs, store.length);
  line.decimator.update(xs, ys, store.length, dirty, layout, indexes);
  const drawn = line.decimator.out.length;
  line.style.lineWidth = lineWidthFor(line.key, drawn, layout.columns);
  line.style.pointRadius = pointRadiusFor(line.key, drawn);
}
