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

/**
 * Chart.js's charts hold no dataset: the y axis is fitted to the lines through its suggested
 * minimum and maximum (the lowest and highest values drawn), so grace, nice ticks and the log
 * scale work as if it held them all, without Chart.js resolving options for any data element.
 */
export type RangeChart = Chart<'line', never[]>;

const X_TITLES: Readonly<Record<XAxisMode, string>> = { step: 'step', epoch: 'epoch', wall: 'time' };

export function chartConfiguration(theme: ChartTheme, options: ChartOptions, dpr: number): ChartConfiguration<'line', never[]> {
  return {
    type: 'line',
    platform: BasicPlatform,
    data: { datasets: [] },
    options: chartOptions(theme, options, dpr),
  };
}

export function chartOptions(theme: ChartTheme, options: ChartOptions, dpr: number): NonNullable<ChartConfiguration<'line', never[]>['options']> {
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
