// The chart engine: holds every run's series in typed arrays, smooths and decimates them per
// pixel column, and feeds Chart.js only the decimated points. It runs in a Web Worker (the
// page's canvases transferred as OffscreenCanvas), so a run logging 10 points a second never
// costs the page's main thread more than forwarding a message; without workers the page
// runs the same engine itself.
//
// Work is incremental: an append re-smooths only the new points and re-decimates only the last
// pixel column, and charts scrolled out of view wait until they come back.

import type { Route } from '../../src/shared/protocol/dispatch';
import { dispatch, on } from '../../src/shared/protocol/dispatch';
import type { MessageType } from '../../src/shared/protocol/message';
import { Chart } from 'chart.js';
import type { ForwardedEventsPlatform, LineChart } from './chartConfig';
import { chartConfiguration, chartOptions } from './chartConfig';
import type { Line } from './chartLines';
import { createLines, updateLine } from './chartLines';
import type {
  ChartArea,
  ChartDefinition,
  ChartId,
  ChartOptions,
  ChartSetup,
  ChartTheme,
  DrawnLine,
  EngineReport,
  EngineRun,
} from './chartProtocol';
import {
  BatchMessage,
  CaptureMessage,
  CHARTS,
  DataMessage,
  EngineErrorMessage,
  OptionsMessage,
  PointerMessage,
  ReportMessage,
  ResizeMessage,
  RunsMessage,
  SetupMessage,
  ThemeMessage,
  VisibilityMessage,
} from './chartProtocol';
import type { Extent } from './axisExtent';
import { computeExtent, sameExtent } from './axisExtent';
import type { ColumnLayout } from './decimate';
import type { SeriesDelta, SeriesName } from './series';
import { RunSeriesData } from './series';
import { IncrementalSmoother } from './smoothing';

/** Drawn lines are copied into every report while they total at most this many points. */
export const LINES_IN_REPORT_LIMIT = 20_000;

export type EnginePost = <T>(message: MessageType<T>, payload: T, transfer: Transferable[]) => void;

interface Slot {
  readonly definition: ChartDefinition;
  readonly canvas: OffscreenCanvas | HTMLCanvasElement;
  width: number;
  height: number;
  visible: boolean;
  chart: LineChart | undefined;
  lines: Line[];
  dirty: boolean;
  /**
   * A point style (marker size, colours) changed since the last update. Chart.js shares one
   * resolved point-options object per dataset and, in its fast 'none' update mode, never
   * refreshes it: the update after a style change must run in the default mode.
   */
  restyle: boolean;
  area: ChartArea | undefined;
}

const now = (): number => (typeof performance !== 'undefined' ? performance.now() : Date.now());

export class ChartEngine {
  private readonly slots = new Map<ChartId, Slot>();
  private runs: EngineRun[] = [];
  private compare = false;
  private readonly data = new Map<string, RunSeriesData>();
  private options: ChartOptions = { smoothing: 0, logScale: false, xAxis: 'step' };
  private theme: ChartTheme | undefined;
  private dpr = 1;
  private seq = 0;
  private extent: Extent | undefined;
  private scheduled = false;
  private capture = false;
  /** Time spent handling messages since the last report. */
  private busyMs = 0;
  private lastPassEnd = 0;
  private lastPassMs = 0;
  private readonly routes: readonly Route[];

  constructor(
    private readonly post: EnginePost,
    private readonly schedule: (run: () => void) => void = (run) => setTimeout(run, 0),
  ) {
    this.routes = [
      on(SetupMessage, (m) => this.setup(m.charts, m.theme, m.dpr)),
      on(RunsMessage, (m) => this.setRuns(m.runs, m.compare)),
      on(DataMessage, (m) => this.ingest(m.delta)),
      on(OptionsMessage, (m) => this.setOptions(m.options)),
      on(ResizeMessage, (m) => this.resize(m.id, m.width, m.height, m.dpr)),
      on(VisibilityMessage, (m) => this.setVisible(m.visible)),
      on(PointerMessage, (m) => this.pointer(m.id, m.type, m.x, m.y)),
      on(ThemeMessage, (m) => this.setTheme(m.theme)),
      on(CaptureMessage, () => (this.capture = true)),
      on(BatchMessage, (m) => {
        for (const message of m.messages) this.handle(message);
      }),
    ];
  }

  /** Handles one message from the page; every message is answered by a report once drawn. */
  receive(data: unknown): void {
    const start = now();
    this.handle(data);
    this.busyMs += now() - start;
    if (!this.scheduled) {
      this.scheduled = true;
      // Rest at least as long as the last pass took: on a slow or busy machine the engine
      // then uses at most half a core and draws less often, instead of falling behind.
      const rest = this.lastPassEnd + this.lastPassMs - now();
      if (rest > 0) {
        setTimeout(() => this.schedule(() => this.render()), rest);
      } else {
        this.schedule(() => this.render());
      }
    }
  }

  private handle(data: unknown): void {
    try {
      if (dispatch(data, this.routes) === 'handled') {
        this.seq = Math.max(this.seq, (data as { payload: { seq: number } }).payload.seq);
      }
    } catch (err) {
      this.fail(err);
    }
  }

  private setup(charts: readonly ChartSetup[], theme: ChartTheme, dpr: number): void {
    this.theme = theme;
    this.dpr = dpr;
    for (const setup of charts) {
      const definition = CHARTS.find((c) => c.id === setup.id);
      if (definition === undefined) continue;
      this.slots.set(setup.id, {
        definition,
        canvas: setup.canvas,
        width: setup.width,
        height: setup.height,
        visible: setup.visible,
        chart: undefined,
        lines: [],
        dirty: true,
        restyle: true,
        area: undefined,
      });
    }
    // Charts on screen get their axes now, before any data: Chart.js's first chart is its
    // slowest, and the page is still waiting for the host's backlog.
    for (const slot of this.slots.values()) {
      if (slot.visible && slot.width > 0 && slot.height > 0) this.createChart(slot);
    }
  }

  private createChart(slot: Slot): LineChart | undefined {
    if (slot.chart === undefined && this.theme !== undefined) {
      // Chart.js draws into an OffscreenCanvas as well; its types only name HTMLCanvasElement.
      slot.chart = new Chart(slot.canvas as HTMLCanvasElement, chartConfiguration(this.theme, this.options, this.dpr));
      slot.chart.resize(slot.width, slot.height);
      slot.chart.data.datasets = slot.lines.map((line) => line.dataset);
    }
    return slot.chart;
  }

  private setRuns(runs: readonly EngineRun[], compare: boolean): void {
    const sameRuns = runs.length === this.runs.length && runs.every((run, i) => run.runId === this.runs[i]?.runId && run.label === this.runs[i]?.label);
    const liveChanged = runs.some((run, i) => run.live !== this.runs[i]?.live);
    this.runs = [...runs];
    if (!sameRuns || compare !== this.compare) {
      this.compare = compare;
      for (const run of runs) {
        if (!this.data.has(run.runId)) this.data.set(run.runId, new RunSeriesData());
      }
      this.rebuildAllLines();
    } else if (liveChanged) {
      // The axis of a run that ended fits its data exactly; a live one keeps room to grow.
      this.extent = undefined;
    }
  }

  private ingest(delta: SeriesDelta): void {
    let set = this.data.get(delta.runId);
    if (set === undefined) {
      set = new RunSeriesData();
      this.data.set(delta.runId, set);
    }
    if (delta.reset || delta.newAttempt !== undefined) {
      // Data went away: the axis is fitted again from what is left.
      this.extent = undefined;
    }
    for (const [series, from] of set.apply(delta)) {
      this.markDirty(delta.runId, series, from);
    }
  }

  private markDirty(runId: string, series: SeriesName, from: number): void {
    for (const slot of this.slots.values()) {
      if (!slot.definition.series.includes(series)) continue;
      for (const line of slot.lines) {
        if (line.runId === runId && line.key.series === series && from < line.dirtyFrom) line.dirtyFrom = from;
      }
      slot.dirty = true;
    }
  }

  private setOptions(options: ChartOptions): void {
    const previous = this.options;
    const axisChanged = options.xAxis !== previous.xAxis || options.logScale !== previous.logScale;
    this.options = { ...options };
    if (axisChanged) this.extent = undefined;
    if (axisChanged || options.smoothing > 0 !== previous.smoothing > 0) {
      this.rebuildAllLines();
    } else if (options.smoothing !== previous.smoothing) {
      // Dragging the slider: the same lines, only the smoothed ones are recomputed.
      for (const slot of this.slots.values()) {
        for (const line of slot.lines) {
          if (line.smoother === undefined) continue;
          line.smoother = new IncrementalSmoother(options.smoothing);
          line.dirtyFrom = 0;
          slot.dirty = true;
        }
      }
    }
  }

  private setTheme(theme: ChartTheme): void {
    this.theme = theme;
    this.rebuildAllLines();
  }

  private resize(id: ChartId, width: number, height: number, dpr: number): void {
    const slot = this.slots.get(id);
    if (slot === undefined || (slot.width === width && slot.height === height && dpr === this.dpr)) return;
    slot.width = width;
    slot.height = height;
    if (dpr !== this.dpr) {
      this.dpr = dpr;
      this.rebuildAllLines();
    }
    if (slot.chart !== undefined && width > 0 && height > 0) {
      slot.chart.resize(width, height);
    }
    slot.dirty = true;
  }

  private setVisible(visible: Partial<Record<ChartId, boolean>>): void {
    for (const [id, value] of Object.entries(visible) as [ChartId, boolean][]) {
      const slot = this.slots.get(id);
      if (slot !== undefined) slot.visible = value;
    }
  }

  private pointer(id: ChartId, type: 'mousemove' | 'mouseout', x: number, y: number): void {
    const chart = this.slots.get(id)?.chart;
    if (chart !== undefined) {
      (chart.platform as ForwardedEventsPlatform).dispatch(chart, type, x, y);
    }
  }

  /** New datasets for every chart (new runs, smoothing on or off, another axis or theme). */
  private rebuildAllLines(): void {
    for (const slot of this.slots.values()) {
      slot.lines = this.theme === undefined ? [] : createLines(slot.definition, this.runs, this.compare, this.theme, this.options.smoothing);
      slot.dirty = true;
      slot.restyle = true;
      if (slot.chart !== undefined && this.theme !== undefined) {
        slot.chart.options = chartOptions(this.theme, this.options, this.dpr);
        slot.chart.data.datasets = slot.lines.map((line) => line.dataset);
      }
    }
  }

  private render(): void {
    this.scheduled = false;
    const start = now();
    const drawn: ChartId[] = [];
    try {
      const extent = computeExtent(
        this.runs.map((run) => ({ data: this.data.get(run.runId), live: run.live })),
        this.options.xAxis,
        this.extent,
      );
      if (extent !== undefined && !sameExtent(extent, this.extent)) {
        for (const slot of this.slots.values()) slot.dirty = true;
      }
      this.extent = extent;
      for (const slot of this.slots.values()) {
        if (slot.dirty && (slot.visible || this.capture) && slot.width > 0 && slot.height > 0 && this.hasData(slot)) {
          this.draw(slot, extent);
          drawn.push(slot.definition.id);
        }
      }
    } catch (err) {
      this.fail(err);
    }
    this.lastPassEnd = now();
    this.lastPassMs = this.lastPassEnd - start;
    this.report(drawn, this.lastPassMs);
  }

  private hasData(slot: Slot): boolean {
    return slot.lines.some((line) => (this.data.get(line.runId)?.stores.get(line.key.series)?.length ?? 0) > 0) || slot.chart !== undefined;
  }

  private draw(slot: Slot, extent: Extent | undefined): void {
    const chart = this.createChart(slot);
    if (chart === undefined) return;
    const layout: ColumnLayout | undefined =
      extent === undefined ? undefined : { xMin: extent.xMin, xMax: extent.xMax, columns: Math.max(1, Math.round(slot.width * this.dpr)) };
    for (const line of slot.lines) {
      const store = this.data.get(line.runId)?.stores.get(line.key.series);
      if (updateLine(line, store, layout, this.options)) slot.restyle = true;
    }
    // The configured options, not `chart.options`: that is Chart.js's resolved view, which
    // after an options change stays stale until the next update and would swallow the range.
    const x = chart.config.options?.scales?.x;
    if (x !== undefined && extent !== undefined) {
      x.min = extent.xMin;
      x.max = extent.xMax;
    }
    chart.update(slot.restyle ? 'default' : 'none');
    slot.restyle = false;
    const area = chart.chartArea;
    const yScale = chart.scales.y;
    slot.area = {
      left: area.left,
      top: area.top,
      right: area.right,
      bottom: area.bottom,
      xMin: extent?.xMin ?? 0,
      xMax: extent?.xMax ?? 0,
      yMin: yScale?.min ?? 0,
      yMax: yScale?.max ?? 0,
      logScale: yScale?.type === 'logarithmic',
    };
    slot.dirty = false;
  }

  private report(drawn: ChartId[], renderMs: number): void {
    const counts: Record<string, Partial<Record<SeriesName, number>>> = {};
    for (const run of this.runs) {
      const perSeries: Partial<Record<SeriesName, number>> = {};
      for (const [series, store] of this.data.get(run.runId)?.stores ?? []) perSeries[series] = store.length;
      counts[run.runId] = perSeries;
    }
    const areas: Partial<Record<ChartId, ChartArea>> = {};
    const waiting: ChartId[] = [];
    let points = 0;
    for (const slot of this.slots.values()) {
      if (slot.area !== undefined) areas[slot.definition.id] = slot.area;
      if (slot.dirty && this.hasData(slot)) waiting.push(slot.definition.id);
      for (const line of slot.lines) points += line.dataset.data.length;
    }
    const transfer: Transferable[] = [];
    let lines: DrawnLine[] | undefined;
    if (this.capture || points <= LINES_IN_REPORT_LIMIT) {
      lines = [];
      for (const slot of this.slots.values()) {
        for (const line of slot.lines) {
          const out = line.decimator.out;
          const drawnLine: DrawnLine = {
            run: line.runId,
            series: line.key.series,
            kind: line.key.kind,
            x: out.xs.slice(0, line.dataset.data.length),
            y: Float64Array.from(line.dataset.data, (p) => (p.y === null ? Number.NaN : p.y)),
          };
          lines.push(drawnLine);
          transfer.push(drawnLine.x.buffer, drawnLine.y.buffer);
        }
      }
    }
    this.capture = false;
    const report: EngineReport = {
      seq: this.seq,
      counts,
      drawn,
      areas,
      ...(lines !== undefined ? { lines } : {}),
      waiting,
      busyMs: this.busyMs + renderMs,
    };
    this.busyMs = 0;
    this.post(ReportMessage, report, transfer);
  }

  private fail(err: unknown): void {
    const message = err instanceof Error ? `${err.message}\n${err.stack ?? ''}` : String(err);
    this.post(EngineErrorMessage, { message }, []);
  }
}
