// The chart engine: holds every run's series in typed arrays, smooths and decimates them per
// pixel column, and draws the decimated points itself over Chart.js's axes. It runs in a Web Worker (the
// page's canvases transferred as OffscreenCanvas), so a run logging 10 points a second never
// costs the page's main thread more than forwarding a message; without workers the page
// runs the same engine itself.
//
// Work is incremental: an append re-smooths only the new points and re-decimates only the last
// pixel column, and charts scrolled out of view wait until they come back.

import type { Route } from '../../src/shared/protocol/dispatch';
import { dispatch, on } from '../../src/shared/protocol/dispatch';
import type { MessageType } from '../../src/shared/protocol/message';
import type { Line } from './chartLines';
import { createLines } from './chartLines';
import { shown } from './lineMath';
import { warmUp } from './warmUp';
import { WARM_UP_ROUNDS, warmUpChart } from './chartWarmUp';
import { ChartSlot } from './chartSlot';
import type { DrawContext } from './chartSlot';
import type {
  ChartArea,
  ChartId,
  ChartOptions,
  ChartSetup,
  ChartTheme,
  DrawnLine,
  EngineReport,
  EngineRun,
  HoverReport,
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
import { ColumnIndexCache } from './decimate';
import type { SeriesDelta, SeriesName } from './series';
import { RunSeriesData } from './series';
import { IncrementalSmoother } from './smoothing';

/** Drawn lines are copied into every report while they total at most this many points. */
export const LINES_IN_REPORT_LIMIT = 20_000;

export type EnginePost = <T>(message: MessageType<T>, payload: T, transfer: Transferable[]) => void;

/** One display frame at 60 Hz. */
const FRAME_MS = 1000 / 60;

const now = (): number => (typeof performance !== 'undefined' ? performance.now() : Date.now());

export class ChartEngine {
  private readonly slots = new Map<ChartId, ChartSlot>();
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
  private readonly indexes = new ColumnIndexCache();
  /** Set-up work left for the end of the set-up's task, unless data came with it. */
  private warmUpDue = false;

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
    if (this.warmUpDue) {
      this.warmUpDue = false;
      this.prepareForData();
    }
    if (!this.scheduled) {
      this.scheduled = true;
      // Rest at least as long as the last pass took: on a slow or busy machine the engine
      // then uses at most half a core and draws less often, instead of falling behind.
      // After a frame or more of quiet (a new backlog, the first point in a while) the pass
      // runs at once; while data keeps coming it waits for the next frame, so a burst is
      // drawn once.
      const t = now();
      const rest = this.lastPassEnd + this.lastPassMs - t;
      if (rest > 0) {
        setTimeout(() => this.schedule(() => this.render()), rest);
      } else if (t - this.lastPassEnd >= FRAME_MS) {
        setTimeout(() => this.render(), 0);
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
      this.slots.set(setup.id, new ChartSlot(definition, setup.canvas, setup.width, setup.height, setup.visible));
    }
    // Charts on screen get their axes now, before any data: Chart.js's first chart is its
    // slowest, and the page is still waiting for the host's backlog.
    for (const slot of this.slots.values()) {
      if (slot.visible) this.prepare(slot);
    }
    this.warmUpDue = true;
  }

  /**
   * While the page waits for the host's backlog: the hidden charts are set up at the size
   * they will be shown at, so that a first frame only fits each chart's axes, and the
   * compiler is warmed on synthetic data. Skipped when data came with the set-up (a short
   * run, read at once): drawing it is then what counts.
   */
  private prepareForData(): void {
    warmUp();
    for (const slot of this.slots.values()) {
      if (!slot.visible) this.prepare(slot);
    }
    for (let round = 0; round < WARM_UP_ROUNDS && this.theme !== undefined; round++) warmUpChart(round, this.theme, this.options, this.dpr);
  }

  /** A chart's axes and buffers, before its data. */
  private prepare(slot: ChartSlot): void {
    if (this.theme !== undefined && slot.width > 0 && slot.height > 0) slot.showEmpty(this.theme, this.options, this.dpr);
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
    this.warmUpDue = false;
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
    if (dpr !== this.dpr) {
      this.dpr = dpr;
      this.rebuildAllLines();
    }
    slot.resize(width, height);
  }

  private setVisible(visible: Partial<Record<ChartId, boolean>>): void {
    for (const [id, value] of Object.entries(visible) as [ChartId, boolean][]) {
      const slot = this.slots.get(id);
      if (slot !== undefined) slot.visible = value;
    }
  }

  private pointer(id: ChartId, type: 'mousemove' | 'mouseout', x: number, y: number): void {
    this.slots.get(id)?.setPointer(type === 'mousemove' ? { x, y } : undefined);
  }

  /** New lines for every chart (new runs, smoothing on or off, another axis or theme). */
  private rebuildAllLines(): void {
    for (const slot of this.slots.values()) {
      if (this.theme === undefined) {
        slot.lines = [];
        continue;
      }
      slot.lines = createLines(slot.definition, this.runs, this.compare, this.theme, this.options.smoothing);
      slot.restyle(this.theme, this.options, this.dpr);
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
      // Column edges are found anew each pass: the data may have changed in place.
      this.indexes.clear();
      const context = this.drawContext();
      for (const slot of this.slots.values()) {
        if (context !== undefined && slot.dirty && (slot.visible || this.capture) && slot.width > 0 && slot.height > 0 && this.hasData(slot)) {
          slot.draw(extent, context);
          drawn.push(slot.definition.id);
        } else if (context !== undefined && slot.pointerOnly) {
          // Only the read-out moved: the same axes, lines drawn again over them.
          slot.redraw(context);
        }
      }
    } catch (err) {
      this.fail(err);
    }
    this.lastPassEnd = now();
    this.lastPassMs = this.lastPassEnd - start;
    this.report(drawn, this.lastPassMs);
  }

  private drawContext(): DrawContext | undefined {
    const theme = this.theme;
    if (theme === undefined) return undefined;
    return {
      theme,
      options: this.options,
      dpr: this.dpr,
      store: (line: Line) => this.data.get(line.runId)?.stores.get(line.key.series),
      indexes: this.indexes,
    };
  }

  private hasData(slot: ChartSlot): boolean {
    // A chart on screen is drawn even without data (its empty axes, or data that went away);
    // hidden ones were only set up ahead of their data.
    return slot.lines.some((line) => (this.data.get(line.runId)?.stores.get(line.key.series)?.length ?? 0) > 0) || (slot.hasChart && slot.visible);
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
    let hover: HoverReport | undefined;
    for (const slot of this.slots.values()) {
      if (slot.area !== undefined) areas[slot.definition.id] = slot.area;
      if (slot.dirty && this.hasData(slot)) waiting.push(slot.definition.id);
      hover ??= slot.hover;
      for (const line of slot.lines) points += line.decimator.out.length;
    }
    const transfer: Transferable[] = [];
    let lines: DrawnLine[] | undefined;
    if (this.capture || points <= LINES_IN_REPORT_LIMIT) {
      lines = [];
      for (const slot of this.slots.values()) {
        for (const line of slot.lines) {
          const out = line.decimator.out;
          const logScale = this.options.logScale;
          const drawnLine: DrawnLine = {
            run: line.runId,
            series: line.key.series,
            kind: line.key.kind,
            x: out.xs.slice(0, out.length),
            y: out.ys.slice(0, out.length).map((y) => (shown(y, logScale) ? y : Number.NaN)),
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
      ...(hover !== undefined ? { hover } : {}),
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
