// Messages between the run panel page and its chart engine (a Web Worker drawing into the
// page's canvases through OffscreenCanvas, or the same engine on the page when workers are
// unavailable). Declared once as typed tokens like the host protocol. Both ends are this
// bundle's own code, so the guards check shape, not bounds.

import { defineMessage, isObject, isString } from '../../src/shared/protocol/message';
import type { SeriesDelta, SeriesName, XAxisMode } from './series';

export const CHART_IDS = [
  'loss',
  'learningRate',
  'gradNorm',
  'throughput',
  'gpuMemory',
  'evalMae',
  'evalMre',
  'evalIou',
  'evalSuccessRate',
] as const;
export type ChartId = (typeof CHART_IDS)[number];

export interface ChartDefinition {
  readonly id: ChartId;
  readonly title: string;
  readonly series: readonly SeriesName[];
  /** The learning rate is a schedule, not a measurement: smoothing it would only lag it. */
  readonly smoothable: boolean;
  readonly tall?: boolean;
}

export const CHARTS: readonly ChartDefinition[] = [
  { id: 'loss', title: 'Loss', series: ['trainLoss', 'evalLoss'], smoothable: true, tall: true },
  { id: 'learningRate', title: 'Learning rate', series: ['learningRate'], smoothable: false },
  { id: 'gradNorm', title: 'Grad norm', series: ['gradNorm'], smoothable: true },
  { id: 'throughput', title: 'Throughput (samples/s)', series: ['samplesPerS'], smoothable: true },
  { id: 'gpuMemory', title: 'GPU memory (GB)', series: ['gpuMemGb'], smoothable: true },
  { id: 'evalMae', title: 'Eval MAE', series: ['evalMae'], smoothable: true },
  { id: 'evalMre', title: 'Eval MRE', series: ['evalMre'], smoothable: true },
  { id: 'evalIou', title: 'Eval IoU', series: ['evalIou'], smoothable: true },
  { id: 'evalSuccessRate', title: 'Eval success rate', series: ['evalSuccessRate'], smoothable: true },
];

export interface ChartTheme {
  readonly foreground: string;
  readonly muted: string;
  readonly grid: string;
  readonly fontFamily: string;
  /** Single-run colours, per series. */
  readonly series: Readonly<Record<SeriesName, string>>;
  /** Compare-mode colours, per run in legend order. */
  readonly runs: readonly string[];
}

export interface ChartOptions {
  /** TensorBoard's smoothing weight, 0 (off) to MAX_SMOOTHING. */
  readonly smoothing: number;
  readonly logScale: boolean;
  readonly xAxis: XAxisMode;
}

export interface ChartSetup {
  readonly id: ChartId;
  readonly canvas: OffscreenCanvas | HTMLCanvasElement;
  readonly width: number;
  readonly height: number;
  readonly visible: boolean;
}

export interface EngineRun {
  readonly runId: string;
  readonly label: string;
  /** Still running: its x axis keeps room to grow. */
  readonly live: boolean;
}

export interface PlotArea {
  readonly left: number;
  readonly top: number;
  readonly right: number;
  readonly bottom: number;
}

/** A chart's plot area (canvas CSS pixels) and the value ranges it spans. */
export interface ChartArea extends PlotArea {
  readonly xMin: number;
  readonly xMax: number;
  readonly yMin: number;
  readonly yMax: number;
  readonly logScale: boolean;
}

/** A drawn line: its points as the chart holds them (after smoothing and decimation). */
export interface DrawnLine {
  readonly run: string;
  readonly series: SeriesName;
  /** `main` is the line of the series; `raw` the faint unsmoothed one behind it while smoothing. */
  readonly kind: 'main' | 'raw';
  readonly x: Float64Array;
  /** NaN for a gap. */
  readonly y: Float64Array;
}

/** The hover read-out on screen: the chart under the pointer and each line's nearest point. */
export interface HoverReport {
  readonly chart: ChartId;
  readonly title: string;
  readonly items: ReadonlyArray<{ readonly run: string; readonly series: SeriesName; readonly x: number; readonly y: number; readonly text: string }>;
}

export interface EngineReport {
  /** The last page message the engine had handled when it drew this. */
  readonly seq: number;
  /** Points held per run and series (before decimation). */
  readonly counts: Readonly<Record<string, Partial<Record<SeriesName, number>>>>;
  /** Charts drawn in this pass. */
  readonly drawn: readonly ChartId[];
  readonly areas: Partial<Record<ChartId, ChartArea>>;
  /** The lines of every drawn chart, when small enough to copy each time or when asked for. */
  readonly lines?: readonly DrawnLine[];
  /** Charts with data waiting to be drawn until they scroll into view. */
  readonly waiting: readonly ChartId[];
  /** The read-out under the pointer, while it shows one. */
  readonly hover?: HoverReport;
  /** Milliseconds the engine spent on this pass (ingest, smoothing, decimation, Chart.js). */
  readonly busyMs: number;
}

// Page -> engine. Every message carries the page's sequence number, which reports echo.
export interface Sequenced {
  readonly seq: number;
}
const isSequenced = (x: unknown): x is Record<string, unknown> & Sequenced => isObject(x) && typeof x.seq === 'number';
const shaped =
  <T>(...keys: string[]) =>
  (x: unknown): x is T =>
    isSequenced(x) && keys.every((key) => key in x);

export const SetupMessage = defineMessage<Sequenced & { charts: readonly ChartSetup[]; theme: ChartTheme; dpr: number }>(
  'engine/setup',
  shaped('charts', 'theme', 'dpr'),
);
export const RunsMessage = defineMessage<Sequenced & { runs: readonly EngineRun[]; compare: boolean }>(
  'engine/runs',
  shaped('runs', 'compare'),
);
export const DataMessage = defineMessage<Sequenced & { delta: SeriesDelta }>('engine/data', shaped('delta'));
export const OptionsMessage = defineMessage<Sequenced & { options: ChartOptions }>('engine/options', shaped('options'));
export const ResizeMessage = defineMessage<Sequenced & { id: ChartId; width: number; height: number; dpr: number }>(
  'engine/resize',
  shaped('id', 'width', 'height', 'dpr'),
);
export const VisibilityMessage = defineMessage<Sequenced & { visible: Partial<Record<ChartId, boolean>> }>(
  'engine/visibility',
  shaped('visible'),
);
export const PointerMessage = defineMessage<Sequenced & { id: ChartId; type: 'mousemove' | 'mouseout'; x: number; y: number }>(
  'engine/pointer',
  shaped('id', 'type', 'x', 'y'),
);
export const ThemeMessage = defineMessage<Sequenced & { theme: ChartTheme }>('engine/theme', shaped('theme'));
/** Draw every chart that has data, visible or not, and report its lines whatever their size. */
export const CaptureMessage = defineMessage<Sequenced>('engine/capture', isSequenced);
/** Several of the above posted at once: one structured clone and one task for a burst. */
export const BatchMessage = defineMessage<Sequenced & { messages: readonly unknown[] }>(
  'engine/batch',
  (x): x is Sequenced & { messages: unknown[] } => isSequenced(x) && Array.isArray(x.messages),
);

// Engine -> page.
export const EngineReadyMessage = defineMessage<{ readonly worker: boolean }>(
  'engine/ready',
  (x): x is { worker: boolean } => isObject(x) && typeof x.worker === 'boolean',
);
export const ReportMessage = defineMessage<EngineReport>(
  'engine/report',
  (x): x is EngineReport => isObject(x) && typeof x.seq === 'number' && isObject(x.counts) && Array.isArray(x.drawn),
);
export const EngineErrorMessage = defineMessage<{ readonly message: string }>(
  'engine/error',
  (x): x is { message: string } => isObject(x) && isString(x.message),
);
