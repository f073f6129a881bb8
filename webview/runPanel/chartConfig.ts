// Chart.js set up for the chart engine: only the pieces used are registered (a small bundle),
// every option is a plain value (Chart.js resolves scriptable options per point, which costs
// more than drawing), and a platform that takes pointer events forwarded from the page,
// because in a worker there is no DOM for Chart.js to listen to.

import type { ChartConfiguration, ChartDataset, ChartEvent } from 'chart.js';
import { BasicPlatform, Chart, LinearScale, LineController, LineElement, LogarithmicScale, PointElement, Tooltip } from 'chart.js';
import type { ChartOptions, ChartTheme } from './chartProtocol';
import { formatClock, formatNumber } from './format';
import type { SeriesName, XAxisMode } from './series';
import { SERIES } from './series';

Chart.register(LineController, LineElement, PointElement, LinearScale, LogarithmicScale, Tooltip);

export interface ChartPoint {
  x: number;
  y: number | null;
}

/** One drawn line: a series of one run, smoothed (`main`) or the raw line behind it. */
export interface LineKey {
  readonly run: number;
  readonly series: SeriesName;
  readonly kind: 'main' | 'raw';
}

export type LineDataset = ChartDataset<'line', ChartPoint[]> & { key: LineKey };
export type LineChart = Chart<'line', ChartPoint[]>;

type Listener = (event: ChartEvent) => void;

/**
 * Chart.js's platform for canvases without a DOM (OffscreenCanvas), plus the listeners it
 * would otherwise attach to the canvas, so the page's forwarded pointer events reach
 * Chart.js's own hover and tooltip handling.
 */
export class ForwardedEventsPlatform extends BasicPlatform {
  private readonly listeners = new Map<string, Listener>();

  override addEventListener(_chart: Chart, type: string, listener: Listener): void {
    this.listeners.set(type, listener);
  }

  override removeEventListener(_chart: Chart, type: string): void {
    this.listeners.delete(type);
  }

  dispatch(chart: Chart, type: 'mousemove' | 'mouseout', x: number, y: number): void {
    this.listeners.get(type)?.({ type, chart, native: null, x, y } as ChartEvent);
  }
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

export function lineDataset(key: LineKey, label: string, theme: ChartTheme, compare: boolean): LineDataset {
  const colour = lineColour(key, theme, compare);
  return {
    key,
    label,
    data: [],
    borderColor: colour,
    backgroundColor: colour,
    pointBackgroundColor: colour,
    pointBorderColor: colour,
    borderWidth: key.kind === 'raw' ? 1 : 2,
    // Eval lines are dashed beside a train line of the same run colour in compare mode.
    borderDash: compare && isEval(key.series) ? [6, 3] : [],
    pointRadius: 0,
    pointHoverRadius: key.kind === 'raw' ? 0 : 4,
    pointHitRadius: key.kind === 'raw' ? 0 : 4,
    // A NaN loss is a real event worth seeing as a hole in the curve, not bridged over.
    spanGaps: false,
    tension: 0,
    // Let points at the edge of the plot draw whole instead of being cut in half.
    clip: 6,
  };
}

/**
 * Thinner strokes once a line has several points per pixel column: the drawn zigzag then
 * fills its column's range anyway, and rasterising a 2 px stroke up and down every column
 * costs the worker more than all of Chart.js's own work.
 */
export function borderWidthFor(key: LineKey, drawnPoints: number, columns: number): number {
  if (key.kind === 'raw') return 1;
  return drawnPoints > columns ? 1 : 2;
}

/** Markers while a line is short (a lone point between gaps must still show). */
export function pointRadiusFor(key: LineKey, drawnPoints: number): number {
  if (key.kind === 'raw') return 0;
  if (drawnPoints <= 40) return 3;
  return isEval(key.series) ? 2 : 0;
}

const X_TITLES: Readonly<Record<XAxisMode, string>> = { step: 'step', epoch: 'epoch', wall: 'time' };

export function chartConfiguration(theme: ChartTheme, options: ChartOptions, dpr: number): ChartConfiguration<'line', ChartPoint[]> {
  return {
    type: 'line',
    platform: ForwardedEventsPlatform,
    data: { datasets: [] },
    options: chartOptions(theme, options, dpr),
  };
}

export function chartOptions(theme: ChartTheme, options: ChartOptions, dpr: number): NonNullable<ChartConfiguration<'line', ChartPoint[]>['options']> {
  const font = { family: theme.fontFamily, size: 11 };
  const ticks = { color: theme.muted, font, maxRotation: 0, autoSkipPadding: 12 };
  const mode = options.xAxis;
  return {
    // Live runs update several times a second; animating every update only costs time.
    animation: false,
    // The engine sizes the canvas from the page's measurements.
    responsive: false,
    devicePixelRatio: dpr,
    maintainAspectRatio: false,
    // Points arrive as {x, y} objects sorted by x: Chart.js can skip parsing and sorting.
    parsing: false,
    normalized: true,
    events: ['mousemove', 'mouseout'],
    interaction: { mode: 'nearest', axis: 'x', intersect: false },
    scales: {
      x: {
        type: 'linear',
        title: { display: true, text: X_TITLES[mode], color: theme.muted, font },
        ticks: {
          ...ticks,
          ...(mode === 'step' ? { precision: 0 } : {}),
          callback(value) {
            const v = Number(value);
            if (mode === 'wall') {
              const { min, max } = this;
              return formatClock(v, max - min);
            }
            return formatNumber(v);
          },
        },
        grid: { color: theme.grid },
        border: { color: theme.grid },
      },
      y: {
        type: options.logScale ? 'logarithmic' : 'linear',
        ...(options.logScale ? {} : { grace: '5%' }),
        ticks: { ...ticks, callback: (value) => formatNumber(Number(value)) },
        grid: { color: theme.grid },
        border: { color: theme.grid },
      },
    },
    plugins: {
      // Titles and legends are the page's own elements (one run legend for all charts).
      legend: { display: false },
      tooltip: {
        filter: (item) => (item.dataset as LineDataset).key.kind === 'main',
        callbacks: {
          title: (items) => {
            const x = items[0]?.parsed.x;
            if (x === undefined || x === null) return '';
            return mode === 'wall' ? formatClock(x, 0) : `${X_TITLES[mode]} ${formatNumber(x)}`;
          },
          label: (item) => `${item.dataset.label ?? ''}: ${formatNumber(Number(item.parsed.y))}`,
        },
      },
    },
  };
}
