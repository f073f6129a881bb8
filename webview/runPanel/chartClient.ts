// The page's side of the chart engine: starts the engine in a Web Worker and hands it the
// canvases (OffscreenCanvas), or, where a worker cannot start, runs the same engine on the
// page. Either way the page only forwards messages, sizes, visibility and pointer moves, and
// receives a report after every drawing pass.
//
// VS Code serves a webview's files from another origin than the page, and a Worker must be
// same-origin, so the worker script is fetched (through the webview's resource loading) and
// started from a blob: URL; the page's CSP allows exactly that (worker-src blob:).

import type { Route } from '../../src/shared/protocol/dispatch';
import { dispatch, on } from '../../src/shared/protocol/dispatch';
import type { MessageType } from '../../src/shared/protocol/message';
import { envelope } from '../../src/shared/protocol/message';
import { ChartEngine } from './chartEngine';
import type { ChartId, ChartSetup, ChartTheme, DrawnLine, EngineReport, Sequenced } from './chartProtocol';
import {
  BatchMessage,
  EngineErrorMessage,
  EngineReadyMessage,
  PointerMessage,
  ReportMessage,
  ResizeMessage,
  SetupMessage,
  VisibilityMessage,
} from './chartProtocol';

export interface ChartSurface {
  readonly id: ChartId;
  /** The box that is shown or hidden as the chart gets data. */
  readonly box: HTMLElement;
  /** The element whose size the canvas fills. */
  readonly holder: HTMLElement;
  readonly canvas: HTMLCanvasElement;
}

export type ChartBackend = 'pending' | 'worker' | 'page';

const WORKER_START_TIMEOUT_MS = 5000;

type Target = (data: unknown, transfer: Transferable[]) => void;

export class ChartClient {
  private seq = 0;
  private target: Target | undefined;
  private readonly queue: Array<[unknown, Transferable[]]> = [];
  private readonly sizes = new Map<ChartId, string>();
  private readonly visible = new Map<ChartId, boolean>();
  private readonly waiters: Array<{ seq: number; lines: boolean; resolve: () => void }> = [];
  private flushQueued = false;
  private pointerFrame = 0;
  private pendingPointer: { id: ChartId; type: 'mousemove' | 'mouseout'; x: number; y: number } | undefined;
  backend: ChartBackend = 'pending';
  lastReport: EngineReport | undefined;
  /** The lines of the last report that carried them. */
  lines: readonly DrawnLine[] = [];

  constructor(
    private readonly surfaces: readonly ChartSurface[],
    private readonly onReport: (report: EngineReport) => void,
    private readonly onError: (message: string) => void,
  ) {}

  /** Starts the engine: in a worker when `workerUrl` loads, else on the page. */
  async start(workerUrl: string | undefined, theme: ChartTheme): Promise<void> {
    let worker: Worker | undefined;
    if (workerUrl !== undefined && typeof OffscreenCanvas !== 'undefined' && 'transferControlToOffscreen' in HTMLCanvasElement.prototype) {
      try {
        worker = await startWorker(workerUrl, (data) => this.receive(data));
      } catch (err) {
        // Not fatal: the page draws the charts itself, only with more main-thread work.
        console.warn(`run panel: charts drawn on the page (no worker: ${err instanceof Error ? err.message : String(err)})`);
      }
    }
    const charts: ChartSetup[] = [];
    const transfer: Transferable[] = [];
    const asShown = measureAsShown(this.surfaces);
    for (const surface of this.surfaces) {
      const { width, height } = asShown.get(surface) ?? this.measure(surface);
      const visible = this.isOnScreen(surface);
      this.sizes.set(surface.id, `${width}x${height}`);
      this.visible.set(surface.id, visible);
      if (worker !== undefined) {
        const offscreen = surface.canvas.transferControlToOffscreen();
        transfer.push(offscreen);
        charts.push({ id: surface.id, canvas: offscreen, width, height, visible });
      } else {
        charts.push({ id: surface.id, canvas: surface.canvas, width, height, visible });
      }
    }
    if (worker !== undefined) {
      const w = worker;
      this.target = (data, t) => w.postMessage(data, t);
      this.backend = 'worker';
    } else {
      const engine = new ChartEngine(
        (message, payload) => queueMicrotask(() => this.receive(envelope(message, payload))),
        (run) => requestAnimationFrame(run),
      );
      this.target = (data) => engine.receive(data);
      this.backend = 'page';
    }
    // Setup goes first with sequence 0: every queued message was numbered after it. They go
    // in one post, so the engine sees at setup whether the host's data is already there.
    this.queue.unshift([envelope(SetupMessage, { seq: 0, charts, theme, dpr: window.devicePixelRatio || 1 }), transfer]);
    this.flush();
    this.observe();
  }

  /**
   * Numbers a message for the engine and posts it at the end of the current task, together
   * with whatever else this task sends (five runs' updates arrive as five host messages but
   * cost the page one post). Queued until the engine has started.
   */
  send<T extends Sequenced>(message: MessageType<T>, payload: Omit<T, 'seq'>, transfer: Transferable[] = []): number {
    this.seq += 1;
    this.queue.push([envelope(message, { ...payload, seq: this.seq } as T), transfer]);
    if (this.target !== undefined && !this.flushQueued) {
      this.flushQueued = true;
      queueMicrotask(() => this.flush());
    }
    return this.seq;
  }

  private flush(): void {
    this.flushQueued = false;
    const target = this.target;
    if (target === undefined || this.queue.length === 0) return;
    const batch = this.queue.splice(0);
    const [only] = batch;
    if (batch.length === 1 && only !== undefined) {
      target(only[0], only[1]);
      return;
    }
    const transfer = batch.flatMap(([, t]) => t);
    target(envelope(BatchMessage, { seq: this.seq, messages: batch.map(([data]) => data) }), transfer);
  }

  /** Resolves once the engine has drawn everything sent so far (and, if asked, reported its lines). */
  whenDrawn(lines = false): Promise<void> {
    const seq = this.seq;
    if (this.lastReport !== undefined && this.lastReport.seq >= seq && (!lines || this.lastReport.lines !== undefined)) {
      return Promise.resolve();
    }
    return new Promise((resolve) => this.waiters.push({ seq, lines, resolve }));
  }

  /** A chart box was shown or hidden: tell the engine its size and whether it is on screen. */
  refresh(surface: ChartSurface): void {
    this.sendSize(surface);
    this.sendVisibility([surface]);
  }

  private receive(data: unknown): void {
    const routes: readonly Route[] = [
      on(ReportMessage, (report) => {
        this.lastReport = report;
        if (report.lines !== undefined) this.lines = report.lines;
        this.onReport(report);
        for (let i = this.waiters.length - 1; i >= 0; i--) {
          const waiter = this.waiters[i];
          if (waiter !== undefined && report.seq >= waiter.seq && (!waiter.lines || report.lines !== undefined)) {
            this.waiters.splice(i, 1);
            waiter.resolve();
          }
        }
      }),
      on(EngineErrorMessage, ({ message }) => this.onError(message)),
      on(EngineReadyMessage, () => undefined),
    ];
    dispatch(data, routes);
  }

  private measure(surface: ChartSurface): { width: number; height: number } {
    return { width: surface.holder.clientWidth, height: surface.holder.clientHeight };
  }

  private isOnScreen(surface: ChartSurface): boolean {
    if (surface.box.hidden) return false;
    const rect = surface.holder.getBoundingClientRect();
    return rect.bottom > 0 && rect.top < window.innerHeight && rect.width > 0;
  }

  private sendSize(surface: ChartSurface): void {
    // A hidden box measures 0 x 0: the engine keeps the size it will have once shown.
    if (surface.box.hidden) return;
    const { width, height } = this.measure(surface);
    const key = `${width}x${height}`;
    if (this.sizes.get(surface.id) !== key) {
      this.sizes.set(surface.id, key);
      this.send(ResizeMessage, { id: surface.id, width, height, dpr: window.devicePixelRatio || 1 });
    }
  }

  private sendVisibility(surfaces: readonly ChartSurface[], known?: ReadonlyMap<Element, boolean>): void {
    const changed: Partial<Record<ChartId, boolean>> = {};
    let any = false;
    for (const surface of surfaces) {
      const visible = known?.get(surface.holder) ?? this.isOnScreen(surface);
      if (this.visible.get(surface.id) !== visible) {
        this.visible.set(surface.id, visible);
        changed[surface.id] = visible;
        any = true;
      }
    }
    if (any) this.send(VisibilityMessage, { visible: changed });
  }

  private observe(): void {
    const byHolder = new Map<Element, ChartSurface>(this.surfaces.map((s) => [s.holder, s]));
    const resize = new ResizeObserver((entries) => {
      for (const entry of entries) {
        const surface = byHolder.get(entry.target);
        if (surface !== undefined) this.sendSize(surface);
      }
    });
    const intersection = new IntersectionObserver((entries) => {
      const known = new Map<Element, boolean>();
      const surfaces: ChartSurface[] = [];
      for (const entry of entries) {
        const surface = byHolder.get(entry.target);
        if (surface === undefined) continue;
        known.set(entry.target, entry.isIntersecting && !surface.box.hidden);
        surfaces.push(surface);
      }
      this.sendVisibility(surfaces, known);
    });
    for (const surface of this.surfaces) {
      resize.observe(surface.holder);
      intersection.observe(surface.holder);
      surface.canvas.addEventListener('pointermove', (event) => this.pointer(surface.id, 'mousemove', event.offsetX, event.offsetY), {
        passive: true,
      });
      surface.canvas.addEventListener('pointerleave', () => this.pointer(surface.id, 'mouseout', 0, 0), { passive: true });
    }
  }

  /** At most one pointer message per frame: hovering must not flood the engine. */
  private pointer(id: ChartId, type: 'mousemove' | 'mouseout', x: number, y: number): void {
    this.pendingPointer = { id, type, x, y };
    if (this.pointerFrame !== 0) return;
    this.pointerFrame = requestAnimationFrame(() => {
      this.pointerFrame = 0;
      const pending = this.pendingPointer;
      this.pendingPointer = undefined;
      if (pending !== undefined) this.send(PointerMessage, pending);
    });
  }
}

/**
 * The sizes of the hidden charts as they will be once shown (a chart appears with its first
 * data): the boxes are shown for one layout and hidden again before anything is painted. The
 * engine then sets those charts up before the data comes, not while the first frame waits.
 */
function measureAsShown(surfaces: readonly ChartSurface[]): Map<ChartSurface, { width: number; height: number }> {
  const hidden = surfaces.filter((surface) => surface.box.hidden);
  for (const surface of hidden) surface.box.hidden = false;
  const sizes = new Map(hidden.map((surface) => [surface, { width: surface.holder.clientWidth, height: surface.holder.clientHeight }]));
  for (const surface of hidden) surface.box.hidden = true;
  return sizes;
}

/** Fetches the worker script and starts it from a blob: URL; resolves once it says it is ready. */
async function startWorker(url: string, onMessage: (data: unknown) => void): Promise<Worker> {
  const response = await fetch(url);
  if (!response.ok) {
    throw new Error(`${url}: HTTP ${response.status}`);
  }
  const source = await response.text();
  const blobUrl = URL.createObjectURL(new Blob([source], { type: 'text/javascript' }));
  try {
    const worker = new Worker(blobUrl, { name: 'run panel charts' });
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('the chart worker did not start')), WORKER_START_TIMEOUT_MS);
      worker.onerror = (event) => {
        clearTimeout(timer);
        event.preventDefault();
        reject(new Error(event.message || 'the chart worker failed to load'));
      };
      worker.onmessage = (event: MessageEvent<unknown>) => {
        if (dispatch(event.data, [on(EngineReadyMessage, () => undefined)]) === 'handled') {
          clearTimeout(timer);
          resolve();
        }
      };
    });
    worker.onmessage = (event: MessageEvent<unknown>) => onMessage(event.data);
    worker.onerror = (event) => {
      event.preventDefault();
      onMessage(envelope(EngineErrorMessage, { message: event.message || 'the chart worker failed' }));
    };
    return worker;
  } finally {
    URL.revokeObjectURL(blobUrl);
  }
}
