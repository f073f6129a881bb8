// The series the run panel charts and the store that holds one of them. Pure (no DOM): the
// store lives in the chart worker, and Node tests drive it with the golden events.

import type { ColumnSplit } from '../../src/shared/protocol/runPanel';

export interface SeriesPoint {
  readonly x: number;
  /** null where the trainer logged NaN/inf: the chart leaves a gap there. */
  readonly y: number | null;
}

/** Which field of which split feeds each series. */
export const SERIES = {
  trainLoss: { split: 'train', field: 'loss', label: 'train loss' },
  evalLoss: { split: 'eval', field: 'loss', label: 'eval loss' },
  learningRate: { split: 'train', field: 'learning_rate', label: 'learning rate' },
  gradNorm: { split: 'train', field: 'grad_norm', label: 'grad norm' },
  samplesPerS: { split: 'progress', field: 'samples_per_s', label: 'samples/s' },
  gpuMemGb: { split: 'train', field: 'gpu_mem_gb', label: 'GPU memory (GB)' },
  evalMae: { split: 'eval', field: 'mae', label: 'eval MAE' },
  evalMre: { split: 'eval', field: 'mre', label: 'eval MRE' },
  evalIou: { split: 'eval', field: 'iou', label: 'eval IoU' },
  evalSuccessRate: { split: 'eval', field: 'success_rate', label: 'eval success rate' },
} as const satisfies Record<string, { split: ColumnSplit; field: string; label: string }>;
export type SeriesName = keyof typeof SERIES;
export const SERIES_NAMES = Object.keys(SERIES) as SeriesName[];

const BY_COLUMN = new Map<string, SeriesName>(SERIES_NAMES.map((name) => [`${SERIES[name].split}/${SERIES[name].field}`, name]));

/** The series a column feeds, if the panel charts it. */
export function seriesForColumn(split: ColumnSplit, field: string): SeriesName | undefined {
  return BY_COLUMN.get(`${split}/${field}`);
}

/** One series' new rows for one run, straight from the host's columns. */
export interface SeriesColumn {
  readonly series: SeriesName;
  readonly step: Float64Array;
  readonly epoch: Float64Array;
  readonly t: Float64Array;
  readonly y: Float64Array;
}

export interface SeriesDelta {
  readonly runId: string;
  readonly reset: boolean;
  /** The attempt these columns belong to (1, or more for a resumed run). */
  readonly attempt: number;
  /** A resumed attempt started before these columns: drop what came after this step (all for null). */
  readonly newAttempt?: { readonly keepThroughStep: number | null };
  readonly columns: readonly SeriesColumn[];
  /** The planned length, from the latest progress event, so a live axis need not rescale. */
  readonly extent?: { readonly maxSteps: number; readonly epochsPerStep: number | null };
}

/** What the x axis counts. */
export type XAxisMode = 'step' | 'epoch' | 'wall';

/**
 * One series of one run in typed arrays, sorted by step, each step once. Within an attempt
 * the first value for a step wins (the host replays the file after a webview reload and a
 * reader may re-deliver lines); a later attempt's value replaces an earlier attempt's.
 * takeDirty() tells consumers (smoothing, decimation) where the data changed since they last
 * looked, so an append costs them only the new points.
 */
export class SeriesStore {
  step: Float64Array = new Float64Array(0);
  epoch: Float64Array = new Float64Array(0);
  t: Float64Array = new Float64Array(0);
  y: Float64Array = new Float64Array(0);
  length = 0;
  /** The attempt of every point while they all share one; per point once they do not. */
  private attempt = 0;
  private attempts: Uint32Array | undefined;
  /** Lowest index changed since the last takeDirty(); Infinity when nothing changed. */
  private dirty = Number.POSITIVE_INFINITY;

  /**
   * Adds a column's rows: appended when they run past the end, else merged. An empty store
   * adopts the arrays themselves (a backlog arrives transferred, so this costs no copy);
   * adopted arrays are full, so the next addition reallocates before anything is written,
   * and arrays shared between the fields of a batch are never written through.
   */
  addRows(step: Float64Array, epoch: Float64Array, t: Float64Array, y: Float64Array, attempt: number, rising = risesStrictly(step)): void {
    const n = step.length;
    if (n === 0) return;
    const increasing = rising && (this.length === 0 || (step[0] as number) > (this.step[this.length - 1] as number));
    if (this.length === 0 && increasing) {
      this.step = step;
      this.epoch = epoch;
      this.t = t;
      this.y = y;
      this.length = n;
      this.attempt = attempt;
      this.attempts = undefined;
      this.dirty = 0;
      return;
    }
    this.reserve(this.length + n);
    if (attempt !== this.attempt) this.materializeAttempts();
    if (increasing) {
      // A live step or a batch past the end: block copies.
      const at = this.length;
      this.step.set(step, at);
      this.epoch.set(epoch, at);
      this.t.set(t, at);
      this.y.set(y, at);
      this.attempts?.fill(attempt, at, at + n);
      this.length = at + n;
      if (at < this.dirty) this.dirty = at;
      return;
    }
    for (let i = 0; i < n; i++) {
      this.merge(step[i] as number, epoch[i] as number, t[i] as number, y[i] as number, attempt);
    }
  }

  /** Drops every point after `step` (all of them for null): a resumed attempt supersedes them. */
  truncateAfter(step: number | null): void {
    const keep = step === null ? 0 : this.upperBound(step);
    if (keep < this.length) {
      this.length = keep;
      if (keep < this.dirty) this.dirty = keep;
    }
  }

  clear(): void {
    this.truncateAfter(null);
  }

  /** Where the data changed since the last call (Infinity for nowhere), and forgets it. */
  takeDirty(): number {
    const dirty = this.dirty;
    this.dirty = Number.POSITIVE_INFINITY;
    return dirty;
  }

  /** The x values of one axis mode. */
  xs(mode: XAxisMode): Float64Array {
    return mode === 'step' ? this.step : mode === 'epoch' ? this.epoch : this.t;
  }

  points(): SeriesPoint[] {
    const out: SeriesPoint[] = [];
    for (let i = 0; i < this.length; i++) {
      const y = this.y[i] as number;
      out.push({ x: this.step[i] as number, y: Number.isFinite(y) ? y : null });
    }
    return out;
  }

  private attemptAt(i: number): number {
    return this.attempts !== undefined ? (this.attempts[i] as number) : this.attempt;
  }

  /** Points of several attempts from now on: keep each point's own. */
  private materializeAttempts(): void {
    if (this.attempts === undefined) {
      this.attempts = new Uint32Array(this.step.length);
      this.attempts.fill(this.attempt, 0, this.length);
    }
    if (this.length === 0) {
      this.attempts = undefined;
    }
  }

  private merge(step: number, epoch: number, t: number, y: number, attempt: number): void {
    if (this.length === 0) {
      this.attempt = attempt;
      this.attempts = undefined;
    } else if (attempt !== this.attempt) {
      this.materializeAttempts();
    }
    const at = this.lowerBound(step);
    if (at < this.length && this.step[at] === step) {
      if (this.attemptAt(at) >= attempt) {
        return;
      }
    } else {
      // Out of order (rare): shift the tail to keep the arrays sorted, which the decimation
      // and Chart.js's `normalized` option rely on.
      for (const array of [this.step, this.epoch, this.t, this.y, this.attempts]) {
        array?.copyWithin(at + 1, at, this.length);
      }
      this.length += 1;
    }
    this.step[at] = step;
    this.epoch[at] = epoch;
    this.t[at] = t;
    this.y[at] = y;
    if (this.attempts !== undefined) this.attempts[at] = attempt;
    if (at < this.dirty) this.dirty = at;
  }

  private reserve(capacity: number): void {
    if (capacity <= this.step.length) {
      return;
    }
    // A quarter to spare beyond a backlog, so the live steps after it do not copy it again.
    const size = Math.max(capacity + (capacity >> 2), this.step.length * 2, 64);
    const grow = (array: Float64Array): Float64Array => {
      const next = new Float64Array(size);
      next.set(array.subarray(0, this.length));
      return next;
    };
    this.step = grow(this.step);
    this.epoch = grow(this.epoch);
    this.t = grow(this.t);
    this.y = grow(this.y);
    if (this.attempts !== undefined) {
      const next = new Uint32Array(size);
      next.set(this.attempts.subarray(0, this.length));
      this.attempts = next;
    }
  }

  /** First index whose step is >= `step`. */
  private lowerBound(step: number): number {
    let lo = 0;
    let hi = this.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if ((this.step[mid] as number) < step) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  /** First index whose step is > `step`. */
  private upperBound(step: number): number {
    let lo = 0;
    let hi = this.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if ((this.step[mid] as number) <= step) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }
}

/** Whether `step` rises strictly (NaN never does). */
export function risesStrictly(step: Float64Array): boolean {
  if (step.length > 0 && !((step[0] as number) > Number.NEGATIVE_INFINITY)) return false;
  for (let i = 1; i < step.length; i++) {
    if (!((step[i] as number) > (step[i - 1] as number))) return false;
  }
  return true;
}

/** Every series of one run, as the chart engine keeps them. */
export class RunSeriesData {
  readonly stores = new Map<SeriesName, SeriesStore>();
  /** The planned length, from the latest progress event. */
  extent: SeriesDelta['extent'];

  /** Folds a delta in; returns, per series that changed, the first index that did. */
  apply(delta: SeriesDelta): Map<SeriesName, number> {
    if (delta.reset) {
      for (const store of this.stores.values()) store.clear();
      this.extent = undefined;
    }
    if (delta.newAttempt !== undefined) {
      for (const store of this.stores.values()) store.truncateAfter(delta.newAttempt.keepThroughStep);
    }
    if (delta.extent !== undefined) this.extent = delta.extent;
    // The columns of one split share their steps: each array is checked once.
    const rising = new Map<Float64Array, boolean>();
    for (const column of delta.columns) {
      let store = this.stores.get(column.series);
      if (store === undefined) {
        store = new SeriesStore();
        this.stores.set(column.series, store);
      }
      let rises = rising.get(column.step);
      if (rises === undefined) {
        rises = risesStrictly(column.step);
        rising.set(column.step, rises);
      }
      store.addRows(column.step, column.epoch, column.t, column.y, delta.attempt, rises);
    }
    const changed = new Map<SeriesName, number>();
    for (const [series, store] of this.stores) {
      const dirty = store.takeDirty();
      if (dirty !== Number.POSITIVE_INFINITY) changed.set(series, dirty);
    }
    return changed;
  }

  /** Every series by step, null for gaps (tests compare it with what the charts draw). */
  snapshot(): Record<SeriesName, SeriesPoint[]> {
    const out = {} as Record<SeriesName, SeriesPoint[]>;
    for (const name of SERIES_NAMES) {
      out[name] = this.stores.get(name)?.points() ?? [];
    }
    return out;
  }
}
