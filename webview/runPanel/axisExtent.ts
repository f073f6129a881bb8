// The x range every chart shows (one range, so the charts line up). Pure, so the rules are
// unit-tested: a finished run's axis fits its data; while a run is live the axis reaches its
// planned length when the trainer reported one, and otherwise grows by a quarter whenever the
// data reaches its end, so the pixel columns (and the decimation built on them) stay put
// between appends instead of shifting with every step.

import type { RunSeriesData, XAxisMode } from './series';

export interface Extent {
  readonly mode: XAxisMode;
  readonly xMin: number;
  readonly xMax: number;
}

export interface ExtentRun {
  readonly data: RunSeriesData | undefined;
  readonly live: boolean;
}

/** While a run is live and its planned length is unknown, the axis grows in steps of this. */
const HEADROOM = 1.25;
/**
 * The planned end jitters in epoch mode (the trainer rounds epochs to four places): within
 * this share of the axis it is the same end.
 */
const PLANNED_TOLERANCE = 0.01;

export function computeExtent(runs: readonly ExtentRun[], mode: XAxisMode, previous: Extent | undefined): Extent | undefined {
  let lo = Number.POSITIVE_INFINITY;
  let hi = Number.NEGATIVE_INFINITY;
  let planned = Number.NEGATIVE_INFINITY;
  let live = false;
  for (const run of runs) {
    if (run.data === undefined) continue;
    for (const store of run.data.stores.values()) {
      if (store.length === 0) continue;
      const xs = store.xs(mode);
      lo = Math.min(lo, xs[0] as number);
      hi = Math.max(hi, xs[store.length - 1] as number);
    }
    if (run.live) {
      live = true;
      const extent = run.data.extent;
      if (extent !== undefined && mode === 'step') planned = Math.max(planned, extent.maxSteps);
      if (extent !== undefined && mode === 'epoch' && extent.epochsPerStep !== null) {
        planned = Math.max(planned, extent.maxSteps * extent.epochsPerStep);
      }
    }
  }
  if (!(lo <= hi)) return undefined;
  if (!live) {
    return lo === hi ? { mode, xMin: lo - 1, xMax: hi + 1 } : { mode, xMin: lo, xMax: hi };
  }
  if (previous !== undefined && previous.mode === mode && previous.xMin === lo && previous.xMax >= hi) {
    const tolerance = (previous.xMax - previous.xMin) * PLANNED_TOLERANCE;
    if (previous.xMax + tolerance >= planned) return previous;
  }
  const xMax = planned >= hi && planned > lo ? planned : lo + Math.max((hi - lo) * HEADROOM, 1);
  return { mode, xMin: lo, xMax };
}

export function sameExtent(a: Extent | undefined, b: Extent | undefined): boolean {
  return a === b || (a !== undefined && b !== undefined && a.mode === b.mode && a.xMin === b.xMin && a.xMax === b.xMax);
}
