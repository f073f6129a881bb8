// What e2e, render tests and the benchmark read from the run panel page. The DOM's data-*
// attributes (data-train-loss-points, data-run-status, ...) mirror the point counts for tests
// that can only query the DOM; this accessor gives the drawn points themselves, as the chart
// engine last reported them.

import type { ChartBackend, ChartClient } from './chartClient';
import type { ChartArea, ChartId, ChartTheme, DrawnLine, HoverReport, PlotArea } from './chartProtocol';
import type { SeriesName, SeriesPoint } from './series';
import { SERIES_NAMES } from './series';
import type { RunPanelView } from './view';

export type ChartData = Record<SeriesName, SeriesPoint[]>;

export interface RunPanelTestHooks {
  /**
   * The points each series of the panel's (first) run draws: smoothed and decimated as drawn,
   * x in the current axis unit, null for gaps. Mirrors the engine's last report, which carries
   * the lines while they are small (see captureChartData for large runs and hidden charts).
   */
  chartData(): ChartData;
  /** The same per run, by run id (compare mode). */
  chartDataByRun(): Record<string, ChartData>;
  /** The faint unsmoothed lines drawn behind the smoothed ones while smoothing is on. */
  rawChartData(): ChartData;
  /** Draws every chart that has data, even off screen, and returns chartDataByRun(). */
  captureChartData(): Promise<Record<string, ChartData>>;
  /** The loss chart's plot area in page CSS pixels, to crop screenshots. */
  lossPlotArea(): PlotArea;
  /** Any chart's plot area in page CSS pixels, with the x and y ranges it shows. */
  plotArea(chart: ChartId): ChartArea | undefined;
  /** Series colours (single run) as resolved from the theme's CSS variables. */
  seriesColours(): Readonly<Record<SeriesName, string>>;
  /** Run colours in compare mode, in legend order. */
  runColours(): readonly string[];
  /** Charts the engine has drawn at least once. */
  drawnCharts(): ChartId[];
  /** Resolves once the charts show everything sent so far. */
  whenDrawn(): Promise<void>;
  /** `worker` when the charts are drawn off the main thread, `page` otherwise. */
  chartBackend(): ChartBackend;
  /** Engine time (ms) of the last drawing pass. */
  lastEngineMs(): number;
  /** Host messages the page ignored because they did not validate. */
  rejectedMessages(): number;
  /** The hover read-out the engine last drew, if the pointer is over a line. */
  hover(): HoverReport | undefined;
}

declare global {
  interface Window {
    __medvlmRunPanel?: RunPanelTestHooks;
  }
}

export interface HookSources {
  readonly client: ChartClient;
  readonly view: RunPanelView;
  readonly theme: () => ChartTheme;
  readonly primary: () => string | undefined;
  readonly rejected: () => number;
  readonly capture: () => Promise<void>;
}

function emptyData(): ChartData {
  return Object.fromEntries(SERIES_NAMES.map((name) => [name, []])) as unknown as ChartData;
}

function byRun(lines: readonly DrawnLine[], kind: DrawnLine['kind']): Record<string, ChartData> {
  const out: Record<string, ChartData> = {};
  for (const line of lines) {
    if (line.kind !== kind) continue;
    const data = (out[line.run] ??= emptyData());
    const points: SeriesPoint[] = [];
    for (let i = 0; i < line.x.length; i++) {
      const y = line.y[i] as number;
      points.push({ x: line.x[i] as number, y: Number.isFinite(y) ? y : null });
    }
    data[line.series] = points;
  }
  return out;
}

export function createTestHooks(sources: HookSources): RunPanelTestHooks {
  const { client, view } = sources;
  const pageArea = (id: ChartId): ChartArea | undefined => {
    const area = client.lastReport?.areas[id];
    const surface = view.surfaces.find((s) => s.id === id);
    if (area === undefined || surface === undefined) return undefined;
    const rect = surface.canvas.getBoundingClientRect();
    return { ...area, left: rect.left + area.left, top: rect.top + area.top, right: rect.left + area.right, bottom: rect.top + area.bottom };
  };
  return {
    chartData: () => byRun(client.lines, 'main')[sources.primary() ?? ''] ?? emptyData(),
    chartDataByRun: () => byRun(client.lines, 'main'),
    rawChartData: () => byRun(client.lines, 'raw')[sources.primary() ?? ''] ?? emptyData(),
    captureChartData: async () => {
      await sources.capture();
      return byRun(client.lines, 'main');
    },
    lossPlotArea: () => pageArea('loss') ?? { left: 0, top: 0, right: 0, bottom: 0 },
    plotArea: pageArea,
    seriesColours: () => sources.theme().series,
    runColours: () => sources.theme().runs,
    drawnCharts: () => Object.keys(client.lastReport?.areas ?? {}) as ChartId[],
    whenDrawn: () => client.whenDrawn(),
    chartBackend: () => client.backend,
    lastEngineMs: () => client.lastReport?.busyMs ?? 0,
    rejectedMessages: sources.rejected,
    hover: () => client.lastReport?.hover,
  };
}
