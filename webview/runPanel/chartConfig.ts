// Chart.js set up for the chart engine: it draws the axes, grid and ticks, and the engine draws
// the lines itself over them (chartSlot.ts, lineDrawing.ts), from typed arrays. Only the pieces used
// are registered (a small bundle), every option is a plain value, and Chart.js listens to no
// events: in a worker there is no DOM, and hovering is the engine's own read-out.

import type { ChartConfiguration } from 'chart.js';
import { BasicPlatform, Chart, LinearScale, LineController, LineElement, LogarithmicScale, PointElement } from 'chart.js';
import type { ChartOptions, ChartTheme } from './chartProtocol';
import { formatClock, formatNumber } from './format';
import type { XAxisMode } from './series';

Chart.register(LineController, LineElement, PointElement, LinearScale, LogarithmicScale);

export interface ChartPoint {
  x: number;
  y: number;
}

/**
 * Chart.js's only dataset: two invisible points at the lowest and highest values drawn, so its
 * y axis fits the lines (grace, nice ticks, log scale) as if it held them all.
 */
export type RangeChart = Chart<'line', ChartPoint[]>;

export function rangeDataset(): ChartConfiguration<'line', ChartPoint[]>['data']['datasets'][number] {
  return { data: [], showLine: false, pointRadius: 0, pointHoverRadius: 0, pointHitRadius: 0, borderWidth: 0 };
}

const X_TITLES: Readonly<Record<XAxisMode, string>> = { step: 'step', epoch: 'epoch', wall: 'time' };

export function chartConfiguration(theme: ChartTheme, options: ChartOptions, dpr: number): ChartConfiguration<'line', ChartPoint[]> {
  return {
    type: 'line',
    platform: BasicPlatform,
    data: { datasets: [rangeDataset()] },
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
    // The range points are {x, y} objects sorted by x: Chart.js can skip parsing and sorting.
    parsing: false,
    normalized: true,
    events: [],
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
    },
  };
}
