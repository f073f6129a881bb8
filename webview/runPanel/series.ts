// Turns trainer events into what the run panel draws: chart series and the latest progress,
// error and outcome. Pure (no DOM), so Node tests feed it the golden events file.

import type { FinishStatus, Phase, TrainerEvent } from '../../src/shared/events';

export interface SeriesPoint {
  readonly x: number;
  /** null where the trainer logged NaN/inf: the chart leaves a gap there. */
  readonly y: number | null;
}

/** Which metrics field of which split feeds each series. */
export const SERIES = {
  trainLoss: { split: 'train', field: 'loss' },
  evalLoss: { split: 'eval', field: 'loss' },
  learningRate: { split: 'train', field: 'learning_rate' },
} as const;
export type SeriesName = keyof typeof SERIES;
export const SERIES_NAMES = Object.keys(SERIES) as SeriesName[];

export interface ProgressState {
  readonly step: number;
  readonly maxSteps: number;
  readonly epoch: number;
  readonly samplesPerS: number | null;
  readonly etaS: number | null;
  /** Event time (unix seconds), so the ETA can be counted down between events. */
  readonly t: number;
}

export interface ErrorState {
  readonly message: string;
  readonly traceback: string;
  readonly record?: number;
}

export interface LatestEval {
  readonly step: number;
  readonly values: Readonly<Record<string, number | null>>;
}

/**
 * Accumulates events batch by batch. Metric points are keyed by series and step and the
 * first value wins: the host replays the whole file after a webview reload and a reader may
 * re-deliver lines after resuming, so a repeated event must not add a second point. Keying by
 * field (not just step+split) also keeps a later event at the same step that carries other
 * fields (e.g. the trainer's end-of-training summary) from hiding the loss logged before it.
 */
export class RunSeries {
  private readonly points = new Map<SeriesName, SeriesPoint[]>();
  private readonly seen = new Map<SeriesName, Set<number>>();
  progress: ProgressState | undefined;
  error: ErrorState | undefined;
  finished: FinishStatus | undefined;
  phase: Phase | undefined;
  startedAt: number | undefined;
  lastEventAt: number | undefined;
  latestEval: LatestEval | undefined;
  checkpoints = 0;
  private readonly checkpointSteps = new Set<number>();

  constructor() {
    this.clear();
  }

  clear(): void {
    for (const name of SERIES_NAMES) {
      this.points.set(name, []);
      this.seen.set(name, new Set());
    }
    this.progress = undefined;
    this.error = undefined;
    this.finished = undefined;
    this.phase = undefined;
    this.startedAt = undefined;
    this.lastEventAt = undefined;
    this.latestEval = undefined;
    this.checkpoints = 0;
    this.checkpointSteps.clear();
  }

  /** Applies one `events` message; returns whether any chart series changed. */
  apply(events: readonly TrainerEvent[], reset: boolean): boolean {
    let changed = false;
    if (reset) {
      changed = SERIES_NAMES.some((name) => this.series(name).length > 0);
      this.clear();
    }
    for (const event of events) {
      changed = this.applyOne(event) || changed;
    }
    return changed;
  }

  /** The points of one series, sorted by step. */
  series(name: SeriesName): readonly SeriesPoint[] {
    return this.points.get(name) ?? [];
  }

  /** Every series, as plain arrays, e.g. for tests and the e2e accessor. */
  snapshot(): Record<SeriesName, SeriesPoint[]> {
    const out = {} as Record<SeriesName, SeriesPoint[]>;
    for (const name of SERIES_NAMES) {
      out[name] = this.series(name).map((p) => ({ x: p.x, y: p.y }));
    }
    return out;
  }

  private applyOne(event: TrainerEvent): boolean {
    this.startedAt ??= event.t;
    this.lastEventAt = Math.max(this.lastEventAt ?? event.t, event.t);
    switch (event.type) {
      case 'run_started':
        this.startedAt = event.t;
        return false;
      case 'phase':
        this.phase = event.phase;
        return false;
      case 'progress':
        if (this.progress === undefined || event.t >= this.progress.t) {
          this.progress = {
            step: event.step,
            maxSteps: event.max_steps,
            epoch: event.epoch,
            samplesPerS: event.samples_per_s,
            etaS: event.eta_s,
            t: event.t,
          };
        }
        return false;
      case 'metrics': {
        if (event.split === 'eval' && (this.latestEval === undefined || event.step >= this.latestEval.step)) {
          this.latestEval = { step: event.step, values: event.values };
        }
        let changed = false;
        for (const name of SERIES_NAMES) {
          const { split, field } = SERIES[name];
          if (event.split === split && field in event.values) {
            changed = this.addPoint(name, event.step, event.values[field] ?? null) || changed;
          }
        }
        return changed;
      }
      case 'checkpoint':
        if (!this.checkpointSteps.has(event.step)) {
          this.checkpointSteps.add(event.step);
          this.checkpoints += 1;
        }
        return false;
      case 'error':
        // The first error is the cause; later ones are usually fallout from shutting down.
        this.error ??= {
          message: event.message,
          traceback: event.traceback,
          ...(event.record !== undefined ? { record: event.record } : {}),
        };
        return false;
      case 'run_finished':
        this.finished = event.status;
        return false;
      case 'log':
        return false;
    }
  }

  private addPoint(name: SeriesName, step: number, y: number | null): boolean {
    const seen = this.seen.get(name);
    const points = this.points.get(name);
    if (seen === undefined || points === undefined || seen.has(step)) {
      return false;
    }
    seen.add(step);
    const point: SeriesPoint = { x: step, y };
    const last = points[points.length - 1];
    if (last === undefined || last.x < step) {
      points.push(point);
    } else {
      // Out of order (e.g. a resumed run re-logging earlier steps): keep the array sorted,
      // which Chart.js's `normalized` option relies on.
      points.splice(insertionIndex(points, step), 0, point);
    }
    return true;
  }
}

function insertionIndex(points: readonly SeriesPoint[], step: number): number {
  let lo = 0;
  let hi = points.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if ((points[mid]?.x ?? Number.POSITIVE_INFINITY) < step) {
      lo = mid + 1;
    } else {
      hi = mid;
    }
  }
  return lo;
}
