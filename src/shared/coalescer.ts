// Pacing a flush that follows a stream of events: at most once per interval, however often
// it is asked for. Used by the extension host (run panel and config editor posts) and by the
// run panel webview (its header). Timers are injectable, so Node tests drive it.

export interface Timers {
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
  now(): number;
}

export const realTimers: Timers = {
  setTimeout: (fn, ms) => setTimeout(fn, ms),
  clearTimeout: (handle) => clearTimeout(handle as ReturnType<typeof setTimeout>),
  now: () => Date.now(),
};

/**
 * Runs `flush` at most once per `intervalMs`, however often `request` is called: a run that
 * logs every step would otherwise post a message per line and keep the webview re-rendering.
 * The first request after a quiet period flushes at once, so a lone event is not delayed.
 */
export class Coalescer {
  private timer: unknown;
  private lastFlush = Number.NEGATIVE_INFINITY;
  private disposed = false;

  constructor(
    private readonly flush: () => void,
    private readonly intervalMs: number,
    private readonly timers: Timers = realTimers,
  ) {}

  request(): void {
    if (this.disposed || this.timer !== undefined) {
      return;
    }
    const wait = this.lastFlush + this.intervalMs - this.timers.now();
    if (wait <= 0) {
      this.run();
    } else {
      this.timer = this.timers.setTimeout(() => this.run(), wait);
    }
  }

  /** Flushes now: a pending flush is cancelled, since this one covers it. */
  flushNow(): void {
    this.cancel();
    this.run();
  }

  dispose(): void {
    this.disposed = true;
    this.cancel();
  }

  private cancel(): void {
    if (this.timer !== undefined) {
      this.timers.clearTimeout(this.timer);
      this.timer = undefined;
    }
  }

  private run(): void {
    this.timer = undefined;
    if (this.disposed) {
      return;
    }
    this.lastFlush = this.timers.now();
    this.flush();
  }
}
