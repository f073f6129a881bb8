// The arithmetic of drawn lines, apart from any canvas (pure: Node tests run it): which
// values show, the y range the axes fit, and the point the hover read-out picks.

/** Drawn points: parallel x and y arrays (a decimator's output), y NaN for a gap. */
export interface Points {
  readonly xs: Float64Array;
  readonly ys: Float64Array;
  readonly length: number;
}

/** Whether a drawn y shows: finite, and above zero on a log axis (else it is a gap). */
export function shown(y: number, logScale: boolean): boolean {
  return y - y === 0 && (!logScale || y > 0);
}

/** The lowest and highest shown y over the lines, or undefined when none shows. */
export function yRange(lines: readonly Points[], logScale: boolean): { min: number; max: number } | undefined {
  const range = { min: Number.POSITIVE_INFINITY, max: Number.NEGATIVE_INFINITY };
  for (const line of lines) widen(range, line, logScale);
  return range.min <= range.max ? range : undefined;
}

/** Widens `range` to one line's shown values: one call per line, so V8 compiles it whole. */
function widen(range: { min: number; max: number }, { ys, length }: Points, logScale: boolean): void {
  let min = range.min;
  let max = range.max;
  for (let i = 0; i < length; i++) {
    const y = ys[i] as number;
    if (!shown(y, logScale)) continue;
    if (y < min) min = y;
    if (y > max) max = y;
  }
  range.min = min;
  range.max = max;
}

/** Index of the shown point nearest to `value` in x-sorted points, or -1 (ties go left). */
export function nearestIndex({ xs, ys, length }: Points, value: number, logScale: boolean): number {
  let lo = 0;
  let hi = length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if ((xs[mid] as number) < value) lo = mid + 1;
    else hi = mid;
  }
  // `lo` is the first x >= value: walk out both ways to the nearest shown points.
  let right = lo;
  while (right < length && !shown(ys[right] as number, logScale)) right += 1;
  let left = lo - 1;
  while (left >= 0 && !shown(ys[left] as number, logScale)) left -= 1;
  if (left < 0) return right < length ? right : -1;
  if (right >= length) return left;
  return value - (xs[left] as number) <= (xs[right] as number) - value ? left : right;
}
