// The smoothing slider: TensorBoard's debiased exponential moving average, so a curve here
// reads like the same curve in TensorBoard or W&B at the same weight. Pure (no DOM): it runs
// in the chart worker and in Node tests against vectors made by an independent script
// (test/fixtures/smoothing/).
//
//   last = last * w + (1 - w) * x;  shown = last / (1 - w^n)   (n counts finite points)
//
// Non-finite points pass through unchanged (the chart draws them as gaps) and do not advance
// the average. A series whose values all equal the first is returned as it is: debiasing a
// constant could otherwise drift by a rounding error, and a flat line must stay flat.

/** The largest weight the slider offers; 1 would freeze the average at its first value. */
export const MAX_SMOOTHING = 0.999;

/** The whole series at once; the reference form, also used to recompute from scratch. */
export function smoothSeries(values: ArrayLike<number>, weight: number, out = new Float64Array(values.length)): Float64Array {
  const n = values.length;
  if (n === 0) {
    return out;
  }
  const first = values[0] as number;
  let constant = true;
  for (let i = 1; i < n && constant; i++) {
    // `===` fails for NaN, as TensorBoard's `==` does: a series with a gap is not constant.
    constant = values[i] === first;
  }
  if (constant && first === first) {
    for (let i = 0; i < n; i++) {
      out[i] = values[i] as number;
    }
    return out;
  }
  smoothRange({ last: 0, count: 0, settled: false }, values, 0, n, weight, out);
  return out;
}

interface EmaState {
  last: number;
  count: number;
  /** Whether 1 - w^count has become exactly 1 in doubles (it stays 1: w^count only falls). */
  settled: boolean;
}

/**
 * Smooths values [from, to) into `out`, carrying the average in `state`. The state is held in
 * locals through the loop (a run's backlog is hundreds of thousands of points per series).
 */
function smoothRange(state: EmaState, values: ArrayLike<number>, from: number, to: number, weight: number, out: Float64Array): void {
  let last = state.last;
  let count = state.count;
  let settled = state.settled;
  for (let i = from; i < to; i++) {
    const x = values[i] as number;
    // NaN and infinities (x - x is NaN for both) pass through.
    if (x - x !== 0) {
      out[i] = x;
      continue;
    }
    last = last * weight + (1 - weight) * x;
    count += 1;
    if (settled) {
      out[i] = last;
      continue;
    }
    // Math.pow is most of a step's cost; after a few dozen points (a few tens of thousands at
    // the slider's largest weight) the debias term is exactly 1 and is skipped, with the same
    // result to the last bit.
    const debias = weight === 1 ? 1 : 1 - Math.pow(weight, count);
    if (debias === 1) {
      settled = true;
    }
    out[i] = last / debias;
  }
  state.last = last;
  state.count = count;
  state.settled = settled;
}

/**
 * Keeps a smoothed copy of a growing series. Appending costs only the new points: the
 * average's state is kept between calls. A change before the end (an inserted or replaced
 * point, a truncation) or a constant series turning non-constant recomputes from the start.
 */
export class IncrementalSmoother {
  private buffer = new Float64Array(0);
  private length = 0;
  private readonly state: EmaState = { last: 0, count: 0, settled: false };
  /** Whether every value so far equals the first (so the output is the input). */
  private constant = true;

  constructor(readonly weight: number) {}

  /** The smoothed values; valid up to the length of the last update. */
  get values(): Float64Array {
    return this.buffer;
  }

  /**
   * Brings the output up to `length` points of `values`, which changed from index `dirtyFrom`
   * on. Returns the first output index whose value may have changed.
   */
  update(values: ArrayLike<number>, length: number, dirtyFrom: number): number {
    if (this.buffer.length < length) {
      const grown = new Float64Array(Math.max(length, this.buffer.length * 2, 64));
      grown.set(this.buffer.subarray(0, this.length));
      this.buffer = grown;
    }
    if (dirtyFrom < this.length || length < this.length) {
      return this.recompute(values, length);
    }
    const from = this.length;
    const first = length > 0 ? (values[0] as number) : Number.NaN;
    if (this.constant) {
      let stillConstant = first === first;
      for (let i = Math.max(from, 1); i < length && stillConstant; i++) {
        stillConstant = values[i] === first;
      }
      if (!stillConstant) {
        return this.recompute(values, length);
      }
      for (let i = from; i < length; i++) {
        this.buffer[i] = values[i] as number;
      }
    } else {
      smoothRange(this.state, values, from, length, this.weight, this.buffer);
    }
    this.length = length;
    return from;
  }

  private recompute(values: ArrayLike<number>, length: number): number {
    this.state.last = 0;
    this.state.count = 0;
    this.state.settled = false;
    const first = length > 0 ? (values[0] as number) : Number.NaN;
    let constant = first === first;
    for (let i = 1; i < length && constant; i++) {
      constant = values[i] === first;
    }
    this.constant = constant;
    if (constant) {
      for (let i = 0; i < length; i++) this.buffer[i] = values[i] as number;
    } else {
      smoothRange(this.state, values, 0, length, this.weight, this.buffer);
    }
    this.length = length;
    return 0;
  }
}
