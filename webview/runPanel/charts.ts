// The run panel's two Chart.js line charts: loss (train and eval) and learning rate.
// Only the Chart.js pieces used are registered, which keeps the bundle small.

import type { ChartConfiguration, ChartDataset } from 'chart.js';
import { Chart, Legend, LinearScale, LineController, LineElement, PointElement, Tooltip } from 'chart.js';
import { cssVar } from '../shared/theme';
import { formatNumber } from './format';
import type { RunSeries, SeriesName, SeriesPoint } from './series';

Chart.register(LineController, LineElement, PointElement, LinearScale, Legend, Tooltip);

export interface ChartTheme {
  readonly foreground: string;
  readonly muted: string;
  readonly grid: string;
  readonly fontFamily: string;
  readonly series: Readonly<Record<SeriesName, string>>;
}

/** Fallbacks are VS Code's Dark Modern values, for a page opened outside VS Code. */
export function readChartTheme(): ChartTheme {
  return {
    foreground: cssVar('--vscode-editor-foreground', '#cccccc'),
    muted: cssVar('--vscode-descriptionForeground', '#9d9d9d'),
    grid: cssVar('--vscode-editorWidget-border', 'rgba(128, 128, 128, 0.35)'),
    fontFamily: cssVar('--vscode-font-family', 'sans-serif'),
    series: {
      trainLoss: cssVar('--vscode-charts-blue', '#3794ff'),
      evalLoss: cssVar('--vscode-charts-orange', '#d18616'),
      learningRate: cssVar('--vscode-charts-purple', '#b180d7'),
    },
  };
}

const LABELS: Readonly<Record<SeriesName, string>> = {
  trainLoss: 'train loss',
  evalLoss: 'eval loss',
  learningRate: 'learning rate',
};

type LineDataset = ChartDataset<'line', SeriesPoint[]> & { readonly seriesName: SeriesName };
type LineChart = Chart<'line', SeriesPoint[]>;

/** Points stay visible while a series is short (a lone point between gaps must still show). */
const pointRadiusFor = (count: number, minimum: number): number => (count <= 40 ? 3 : minimum);

function dataset(name: SeriesName, theme: ChartTheme): LineDataset {
  const colour = theme.series[name];
  return {
    seriesName: name,
    label: LABELS[name],
    data: [],
    borderColor: colour,
    backgroundColor: colour,
    pointBackgroundColor: colour,
    pointBorderColor: colour,
    borderWidth: 2,
    // Scriptable, because Chart.js caches plain option values once resolved.
    pointRadius: (ctx) => pointRadiusFor(ctx.dataset.data.length, name === 'evalLoss' ? 2 : 0),
    pointHoverRadius: 5,
    // A NaN loss is a real event worth seeing as a hole in the curve, not bridged over.
    spanGaps: false,
    tension: 0,
    // Let points at the edge of the plot draw whole instead of being cut in half.
    clip: 6,
  };
}

function config(names: readonly SeriesName[], theme: ChartTheme, yTitle: string): ChartConfiguration<'line', SeriesPoint[]> {
  const axis = (title: string) => ({
    type: 'linear' as const,
    title: { display: true, text: title, color: theme.muted, font: { family: theme.fontFamily } },
    ticks: { color: theme.muted, font: { family: theme.fontFamily }, callback: (v: number | string) => formatNumber(Number(v)) },
    grid: { color: theme.grid },
    border: { color: theme.grid },
  });
  return {
    type: 'line',
    data: { datasets: names.map((name) => dataset(name, theme)) },
    options: {
      // Live runs update several times a second; animating every update only costs CPU.
      animation: false,
      responsive: true,
      maintainAspectRatio: false,
      interaction: { mode: 'nearest', axis: 'x', intersect: false },
      // Grace keeps the highest and lowest values off the plot's border.
      scales: { x: { ...axis('step'), ticks: { ...axis('step').ticks, precision: 0 } }, y: { ...axis(yTitle), grace: '5%' } },
      plugins: {
        legend: { labels: { color: theme.foreground, font: { family: theme.fontFamily }, boxHeight: 2 } },
        tooltip: { callbacks: { label: (item) => `${item.dataset.label ?? ''}: ${formatNumber(Number(item.parsed.y))}` } },
      },
    },
  };
}

export interface PlotArea {
  readonly left: number;
  readonly top: number;
  readonly right: number;
  readonly bottom: number;
}

export class RunCharts {
  private readonly loss: LineChart;
  private readonly lr: LineChart;

  constructor(lossCanvas: HTMLCanvasElement, lrCanvas: HTMLCanvasElement, private theme: ChartTheme) {
    this.loss = new Chart(lossCanvas, config(['trainLoss', 'evalLoss'], theme, 'loss'));
    this.lr = new Chart(lrCanvas, config(['learningRate'], theme, 'learning rate'));
  }

  /** Copies the series into the charts; Chart.js then owns its arrays, the store keeps its own. */
  update(series: RunSeries): void {
    for (const chart of [this.loss, this.lr]) {
      for (const ds of chart.data.datasets as LineDataset[]) {
        ds.data = series.series(ds.seriesName).slice();
      }
      chart.update('none');
    }
  }

  setTheme(theme: ChartTheme): void {
    this.theme = theme;
    for (const [chart, names, title] of [
      [this.loss, ['trainLoss', 'evalLoss'], 'loss'],
      [this.lr, ['learningRate'], 'learning rate'],
    ] as const) {
      const fresh = config(names, theme, title);
      chart.options = fresh.options ?? {};
      for (const ds of chart.data.datasets as LineDataset[]) {
        const colour = theme.series[ds.seriesName];
        Object.assign(ds, { borderColor: colour, backgroundColor: colour, pointBackgroundColor: colour, pointBorderColor: colour });
      }
      chart.update('none');
    }
  }

  /** The points each series currently draws, read back from the charts themselves. */
  chartData(): Record<SeriesName, SeriesPoint[]> {
    const out: Partial<Record<SeriesName, SeriesPoint[]>> = {};
    for (const chart of [this.loss, this.lr]) {
      for (const ds of chart.data.datasets as LineDataset[]) {
        out[ds.seriesName] = ds.data.map((p) => ({ x: p.x, y: p.y }));
      }
    }
    return out as Record<SeriesName, SeriesPoint[]>;
  }

  colours(): Readonly<Record<SeriesName, string>> {
    return this.theme.series;
  }

  /** The loss chart's plot area in page (CSS pixel) coordinates, for screenshot checks. */
  lossPlotArea(): PlotArea {
    const rect = this.loss.canvas.getBoundingClientRect();
    const area = this.loss.chartArea;
    return { left: rect.left + area.left, top: rect.top + area.top, right: rect.left + area.right, bottom: rect.top + area.bottom };
  }
}
