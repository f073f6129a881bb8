// Per-pixel-column decimation: a run logs up to hundreds of thousands of points per series,
// a chart is a thousand pixels wide. Every column keeps its first, lowest, highest and last
// point, in their original order, so the drawn line is the same shape as the full one: a
// one-step spike survives (it is its column's maximum) and neighbouring columns still join
// where the data joins. Non-finite values become one gap marker, never bridged.
//
// Pure (no DOM): it runs in the chart worker and in Node tests.

export interface ColumnLayout {
  /** The x range the chart shows; points outside are clamped into the end columns. */
  readonly xMin: number;
  readonly xMax: number;
  /** Pixel columns across the plot (device pixels; more columns than pixels is harmless). */
  readonly columns: number;
}

function sameLayout(a: ColumnLayout | undefined, b: ColumnLayout): boolean {
  return a !== undefined && a.xMin === b.xMin && a.xMax === b.xMax && a.columns === b.columns;
}

/** Growable output: parallel x and y arrays; y is NaN for a gap marker. */
export class PointBuffer {
  xs = new Float64Array(256);
  ys = new Float64Array(256);
  length = 0;

  push(x: number, y: number): void {
    if (this.length === this.xs.length) this.reserve(this.length * 2);
    this.xs[this.length] = x;
    this.ys[this.length] = y;
    this.length += 1;
  }

  /** Room for `capacity` points, so a full pass grows the arrays once, not by doubling. */
  reserve(capacity: number): void {
    if (capacity <= this.xs.length) return;
    const xs = new Float64Array(capacity);
    const ys = new Float64Array(capacity);
    xs.set(this.xs.subarray(0, this.length));
    ys.set(this.ys.subarray(0, this.length));
    this.xs = xs;
    this.ys = ys;
  }
}

/**
 * Where each pixel column's points start in sorted x. The lines over one x array (a series
 * raw and smoothed, and a run's train series, which share their steps) share one index, so a
 * full pass finds the column edges once per x array instead of searching them per line.
 */
export class ColumnIndex {
  /** `starts[c]` is the first point of column c; `starts[columns]` is the length. */
  starts = new Int32Array(0);

  /** Builds the index of points [0, length) of sorted x. */
  build(x: ArrayLike<number>, length: number, layout: ColumnLayout): void {
    const columns = layout.columns;
    if (this.starts.length < columns + 1) this.starts = new Int32Array(columns + 1);
    const starts = this.starts;
    const xMin = layout.xMin;
    const scale = columns / (layout.xMax - xMin);
    // A column ends at the first point whose column is past it (columnAt, unclamped:
    // clamping moves nothing across an inner edge), found by galloping from its start.
    let j = 0;
    starts[0] = 0;
    for (let c = 0; c < columns - 1; c++) {
      if (j < length && Math.floor(((x[j] as number) - xMin) * scale) <= c) {
        let below = j;
        let step = 1;
        while (below + step < length && Math.floor(((x[below + step] as number) - xMin) * scale) <= c) {
          below += step;
          step *= 2;
        }
        let above = Math.min(below + step, length);
        while (below + 1 < above) {
          const mid = (below + above) >>> 1;
          if (Math.floor(((x[mid] as number) - xMin) * scale) <= c) below = mid;
          else above = mid;
        }
        j = above;
      }
      starts[c + 1] = j;
    }
    starts[columns] = length;
  }
}

/** Whether x[0, length) never decreases (NaN never sorts). */
function isSorted(x: ArrayLike<number>, length: number): boolean {
  for (let j = 1; j < length; j++) {
    if (!((x[j] as number) >= (x[j - 1] as number))) return false;
  }
  return true;
}

/**
 * The column indexes of one drawing pass, by x array, length and layout (charts of other
 * widths have other columns). Cleared at the start of each pass, since data may change in
 * place between passes; the indexes' arrays are kept and reused.
 */
export class ColumnIndexCache {
  private readonly sorted: Array<{ x: ArrayLike<number>; length: number; sorted: boolean }> = [];
  private readonly entries: Array<{ x: ArrayLike<number>; length: number; layout: ColumnLayout; index: ColumnIndex }> = [];
  private readonly pool: ColumnIndex[] = [];

  clear(): void {
    this.sorted.length = 0;
    this.entries.length = 0;
  }

  /** Tells the cache that x[0, length) is sorted (a store's steps are, by construction). */
  knownSorted(x: ArrayLike<number>, length: number): void {
    if (!this.sorted.some((e) => e.x === x && e.length === length)) this.sorted.push({ x, length, sorted: true });
  }

  /** The index of x's first `length` points in this layout, or undefined when x is not sorted. */
  get(x: ArrayLike<number>, length: number, layout: ColumnLayout): ColumnIndex | undefined {
    const known = this.entries.find((e) => e.x === x && e.length === length && sameLayout(e.layout, layout));
    if (known !== undefined) return known.index;
    let order = this.sorted.find((e) => e.x === x && e.length === length);
    if (order === undefined) {
      order = { x, length, sorted: isSorted(x, length) };
      this.sorted.push(order);
    }
    if (!order.sorted) return undefined;
    let index = this.pool[this.entries.length];
    if (index === undefined) {
      index = new ColumnIndex();
      this.pool.push(index);
    }
    index.build(x, length, layout);
    this.entries.push({ x, length, layout, index });
    return index;
  }
}

/** The pixel column of x, points outside the range clamped into the end columns. */
function columnAt(xi: number, xMin: number, scale: number, last: number): number {
  const c = Math.floor((xi - xMin) * scale);
  return c < 0 ? 0 : c > last ? last : c;
}

/**
 * Scans points [from, to) and appends the decimated points to `out`. Returns the index where
 * the last group (the points of the last column, up to the end) starts, which is where an
 * append must start over, and the output length before that group.
 *
 * This loop is the engine's hottest: it runs over every point of every series on a full
 * redraw. A point's column is `floor((x - xMin) * scale)`. When x is sorted (always, for
 * steps and epochs), a galloping search finds where each column's points end and the loop
 * over them compares y only; otherwise a point whose x lies safely between the column's
 * edges needs only two compares, and only points within a hair of an edge compute their
 * column exactly.
 */
function scan(
  x: ArrayLike<number>,
  y: ArrayLike<number>,
  from: number,
  to: number,
  layout: ColumnLayout,
  out: PointBuffer,
): { readonly groupStart: number; readonly groupOut: number } {
  const xMin = layout.xMin;
  const last = layout.columns - 1;
  const span = layout.xMax - xMin;
  const scale = span > 0 ? layout.columns / span : 0;
  let groupStart = from;
  let groupOut = out.length;
  // Steps and epochs only grow; wall time almost always does. Checked, not assumed.
  let sorted = true;
  for (let j = from + 1; j < to && sorted; j++) sorted = (x[j] as number) >= (x[j - 1] as number);
  let i = from;
  while (i < to) {
    const yi = y[i] as number;
    if (yi - yi !== 0) {
      // NaN or infinite: one marker per run of gaps, its own group.
      if (out.length === 0 || out.ys[out.length - 1] === out.ys[out.length - 1]) {
        groupStart = i;
        groupOut = out.length;
        out.push(x[i] as number, Number.NaN);
      }
      i += 1;
      continue;
    }
    const c = columnAt(x[i] as number, xMin, scale, last);
    groupStart = i;
    groupOut = out.length;
    let min = i;
    let max = i;
    let minY = yi;
    let maxY = yi;
    let k = i + 1;
    // Sorted x: the column's points end where a galloping search says, and the loop over
    // them compares y only. Otherwise each point's x is checked against the column's edges.
    let end = to;
    if (sorted && c !== last && scale !== 0) {
      let step = 1;
      let below = i;
      while (below + step < to && columnAt(x[below + step] as number, xMin, scale, last) === c) {
        below += step;
        step *= 2;
      }
      let above = Math.min(below + step, to);
      while (below + 1 < above) {
        const mid = (below + above) >>> 1;
        if (columnAt(x[mid] as number, xMin, scale, last) === c) below = mid;
        else above = mid;
      }
      end = above;
    }
    const lo = sorted || c === 0 || scale === 0 ? Number.NEGATIVE_INFINITY : xMin + (c + 1e-6) / scale;
    const hi = sorted || c === last || scale === 0 ? Number.POSITIVE_INFINITY : xMin + (c + 1 - 1e-6) / scale;
    for (; k < end; k++) {
      const yk = y[k] as number;
      if (yk - yk !== 0) break;
      if (!sorted) {
        const xk = x[k] as number;
        if (!(xk >= lo && xk < hi) && columnAt(xk, xMin, scale, last) !== c) break;
      }
      if (yk < minY) {
        minY = yk;
        min = k;
      } else if (yk > maxY) {
        maxY = yk;
        max = k;
      }
    }
    emit(x, y, i, min, max, k - 1, out);
    i = k;
  }
  return { groupStart, groupOut };
}

/**
 * The full pass of `scan` over sorted x with the column edges known: the loop over a column's
 * points compares y only, and the same points come out as from `scan`.
 */
function scanColumns(
  x: ArrayLike<number>,
  y: ArrayLike<number>,
  starts: Int32Array,
  columns: number,
  out: PointBuffer,
): { readonly groupStart: number; readonly groupOut: number } {
  let groupStart = 0;
  let groupOut = out.length;
  for (let c = 0; c < columns; c++) {
    const end = starts[c + 1] as number;
    let i = starts[c] as number;
    while (i < end) {
      const yi = y[i] as number;
      if (yi - yi !== 0) {
        if (out.length === 0 || out.ys[out.length - 1] === out.ys[out.length - 1]) {
          groupStart = i;
          groupOut = out.length;
          out.push(x[i] as number, Number.NaN);
        }
        i += 1;
        continue;
      }
      groupStart = i;
      groupOut = out.length;
      let min = i;
      let max = i;
      let minY = yi;
      let maxY = yi;
      let k = i + 1;
      for (; k < end; k++) {
        const yk = y[k] as number;
        if (yk - yk !== 0) break;
        if (yk < minY) {
          minY = yk;
          min = k;
        } else if (yk > maxY) {
          maxY = yk;
          max = k;
        }
      }
      emit(x, y, i, min, max, k - 1, out);
      i = k;
    }
  }
  return { groupStart, groupOut };
}

/** A column's first, lowest, highest and last points, in their original order, each once. */
function emit(x: ArrayLike<number>, y: ArrayLike<number>, a: number, min: number, max: number, d: number, out: PointBuffer): void {
  const b = min < max ? min : max;
  const c = min < max ? max : min;
  out.push(x[a] as number, y[a] as number);
  if (b !== a && b !== d) out.push(x[b] as number, y[b] as number);
  if (c !== a && c !== b && c !== d) out.push(x[c] as number, y[c] as number);
  if (d !== a) out.push(x[d] as number, y[d] as number);
}

/** Decimates points [0, length) in one pass. */
export function decimate(x: ArrayLike<number>, y: ArrayLike<number>, length: number, layout: ColumnLayout): PointBuffer {
  const out = new PointBuffer();
  scan(x, y, 0, length, layout, out);
  return out;
}

/**
 * Keeps the decimated form of a growing series up to date. After an append only the last
 * column is redone (its last point, and maybe its extremes, changed) and new columns added;
 * any other change (a new layout, points inserted or removed before the end) starts over.
 */
export class IncrementalDecimator {
  readonly out = new PointBuffer();
  private layout: ColumnLayout | undefined;
  private length = 0;
  private groupStart = 0;
  private groupOut = 0;

  /**
   * Returns the first output index that changed. `indexes` gives the column edges of a full
   * pass over sorted x (shared with the other lines over the same x).
   */
  update(x: ArrayLike<number>, y: ArrayLike<number>, length: number, dirtyFrom: number, layout: ColumnLayout, indexes?: ColumnIndexCache): number {
    let from = this.groupStart;
    if (!sameLayout(this.layout, layout) || dirtyFrom < this.groupStart || length < this.length) {
      this.layout = layout;
      from = 0;
      this.out.length = 0;
    } else if (dirtyFrom >= length && length === this.length) {
      return this.out.length;
    } else {
      this.out.length = this.groupOut;
    }
    const changedFrom = this.out.length;
    // Few points per column (or a degenerate range): the plain scan is as quick.
    const index = from === 0 && length > 2 * layout.columns && layout.xMax > layout.xMin ? indexes?.get(x, length, layout) : undefined;
    if (from === 0) this.out.reserve(Math.min(length, 4 * layout.columns) + 2);
    const group = index !== undefined ? scanColumns(x, y, index.starts, layout.columns, this.out) : scan(x, y, from, length, layout, this.out);
    this.groupStart = group.groupStart;
    this.groupOut = group.groupOut;
    this.length = length;
    return changedFrom;
  }

  /** Forgets everything, e.g. when its series was cleared. */
  reset(): void {
    this.layout = undefined;
    this.length = 0;
    this.groupStart = 0;
    this.groupOut = 0;
    this.out.length = 0;
  }
}
