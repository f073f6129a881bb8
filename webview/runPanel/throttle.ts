// A redraw that follows a stream of events at a bounded rate: `soon()` runs it once within the
// interval however many events come before then, `now()` runs it at once and drops the pending
// run it makes redundant. Pure (timers only), so Node tests drive it with mocked timers.

export class Throttled {
  private timer: ReturnType<typeof setTimeout> | undefined;

  constructor(
    private readonly run: () => void,
    private readonly intervalMs: number,
  ) {}

  /** Runs once, `intervalMs` after the first call since the last run. */
  soon(): void {
    this.timer ??= setTimeout(() => {
      this.timer = undefined;
      this.run();
    }, this.intervalMs);
  }

  /**
   * Runs now. A pending run is cancelled rather than left to fire: left, it would fire
   * beside the next one `soon()` schedules, and every direct run would add another such
   * chain until the redraw ran at the rate of the events.
   */
  now(): void {
    this.cancel();
    this.run();
  }

  cancel(): void {
    if (this.timer !== undefined) {
      clearTimeout(this.timer);
      this.timer = undefined;
    }
  }
}
