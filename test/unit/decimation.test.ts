// Per-pixel-column decimation: every column keeps its first, lowest, highest and last point
// (so a one-step spike survives), gaps stay gaps, and the incremental form after appends is
// the same as decimating from scratch.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { ColumnLayout, PointBuffer } from '../../webview/runPanel/decimate';
import { ColumnIndexCache, decimate, IncrementalDecimator } from '../../webview/runPanel/decimate';

/** A deterministic pseudo-random sequence (no Math.random: failures must reproduce). */
function lcg(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
    return state / 2 ** 32;
  };
}

function series(n: number, seed: number, gapRate = 0): { x: Float64Array; y: Float64Array } {
  const random = lcg(seed);
  const x = new Float64Array(n);
  const y = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    x[i] = i + 1;
    y[i] = random() < gapRate ? Number.NaN : 2 * Math.exp(-i / (n / 3)) + (random() - 0.5) * 0.4;
  }
  return { x, y };
}

function columnOf(x: number, layout: ColumnLayout): number {
  const c = Math.floor(((x - layout.xMin) * layout.columns) / (layout.xMax - layout.xMin));
  return Math.min(layout.columns - 1, Math.max(0, c));
}

function points(out: PointBuffer): Array<[number, number]> {
  return Array.from({ length: out.length }, (_, i) => [out.xs[i] as number, out.ys[i] as number]);
}

/** Checks the decimation of (x, y) against the full data, column by column. */
function assertKeepsColumns(x: Float64Array, y: Float64Array, layout: ColumnLayout, out: PointBuffer): void {
  const byColumn = new Map<number, { min: number; max: number; first: number; last: number }>();
  for (let i = 0; i < x.length; i++) {
    const v = y[i] as number;
    if (!Number.isFinite(v)) continue;
    const c = columnOf(x[i] as number, layout);
    const entry = byColumn.get(c);
    if (entry === undefined) byColumn.set(c, { min: v, max: v, first: x[i] as number, last: x[i] as number });
    else Object.assign(entry, { min: Math.min(entry.min, v), max: Math.max(entry.max, v), last: x[i] as number });
  }
  const drawn = new Map<number, { min: number; max: number; xs: Set<number> }>();
  for (const [px, py] of points(out)) {
    if (!Number.isFinite(py)) continue;
    const c = columnOf(px, layout);
    const entry = drawn.get(c) ?? { min: py, max: py, xs: new Set<number>() };
    entry.min = Math.min(entry.min, py);
    entry.max = Math.max(entry.max, py);
    entry.xs.add(px);
    drawn.set(c, entry);
  }
  assert.equal(drawn.size, byColumn.size, 'every column with data is drawn');
  for (const [c, want] of byColumn) {
    const got = drawn.get(c);
    assert.ok(got !== undefined, `column ${c} is drawn`);
    assert.equal(got.min, want.min, `column ${c} keeps its minimum`);
    assert.equal(got.max, want.max, `column ${c} keeps its maximum`);
    assert.ok(got.xs.has(want.first) && got.xs.has(want.last), `column ${c} keeps its first and last point`);
  }
  // A subsequence of the input, in order: nothing is invented or moved.
  let j = 0;
  for (const [px, py] of points(out)) {
    while (j < x.length && !(x[j] === px && (Object.is(y[j], py) || (Number.isNaN(py) && !Number.isFinite(y[j] as number))))) j++;
    assert.ok(j < x.length, `drawn point (${px}, ${py}) is an input point, in order`);
    j++;
  }
}

describe('decimation', () => {
  const layout: ColumnLayout = { xMin: 1, xMax: 100_000, columns: 900 };

  it('keeps every column\'s first, min, max and last of 100,000 points in at most 4 per column', () => {
    const { x, y } = series(100_000, 7);
    const out = decimate(x, y, x.length, layout);
    assert.ok(out.length <= 4 * layout.columns, `${out.length} points`);
    assert.ok(out.length >= 2 * layout.columns);
    assertKeepsColumns(x, y, layout, out);
  });

  it('keeps every column when x steps back (a wall clock set back mid-run), as when sorted', () => {
    const { x, y } = series(100_000, 5);
    // The second half's clock is 20,000 behind: its x revisits columns the first half drew.
    for (let i = 50_000; i < x.length; i++) x[i] = (x[i] as number) - 20_000;
    const out = decimate(x, y, x.length, layout);
    assert.ok(out.length <= 4 * (layout.columns + 200), `${out.length} points`);
    assertKeepsColumns(x, y, layout, out);
    // Two clocks interleaved, far apart: no search may jump from one over the other.
    const n = 10_000;
    const xi = Float64Array.from({ length: n }, (_, i) => (i % 2 === 0 ? i / 2 + 1 : 90_000 + i));
    const yi = Float64Array.from({ length: n }, (_, i) => (i % 2 === 0 ? 1 + (i % 7) : -1 - (i % 5)));
    assertKeepsColumns(xi, yi, layout, decimate(xi, yi, n, layout));
  });

  it('keeps a one-point spike and a one-point dip', () => {
    const { x, y } = series(100_000, 11);
    y[61_234] = 50;
    y[77_777] = -50;
    const out = decimate(x, y, x.length, layout);
    const drawn = points(out);
    assert.ok(drawn.some(([px, py]) => px === 61_235 && py === 50), 'the spike is drawn');
    assert.ok(drawn.some(([px, py]) => px === 77_778 && py === -50), 'the dip is drawn');
  });

  it('returns short series unchanged (fewer points than columns)', () => {
    const x = Float64Array.from([1, 2, 3, 4, 5]);
    const y = Float64Array.from([3, 2.5, 2.7, 1.5, 1]);
    const out = decimate(x, y, 5, { xMin: 1, xMax: 5, columns: 500 });
    assert.deepEqual(points(out), [[1, 3], [2, 2.5], [3, 2.7], [4, 1.5], [5, 1]]);
  });

  it('turns NaN and infinite values into one gap marker per run of gaps', () => {
    const x = Float64Array.from([1, 2, 3, 4, 5, 6, 7]);
    const y = Float64Array.from([3, Number.NaN, Number.POSITIVE_INFINITY, 1.5, 1, Number.NaN, 0.5]);
    const out = points(decimate(x, y, 7, { xMin: 1, xMax: 7, columns: 100 }));
    assert.equal(out.length, 6);
    assert.deepEqual(out.map(([px]) => px), [1, 2, 4, 5, 6, 7]);
    assert.ok(Number.isNaN(out[1]?.[1] as number) && Number.isNaN(out[4]?.[1] as number));
  });

  it('keeps gaps inside a dense column apart from the points around them', () => {
    const { x, y } = series(20_000, 3, 0.01);
    const small: ColumnLayout = { xMin: 1, xMax: 20_000, columns: 200 };
    const out = decimate(x, y, x.length, small);
    assertKeepsColumns(x, y, small, out);
    assert.ok(points(out).some(([, py]) => Number.isNaN(py)), 'gaps are drawn as gaps');
  });

  it('gives the same points after appends as from scratch, redoing only the tail', () => {
    const { x, y } = series(30_000, 5, 0.002);
    const fixed: ColumnLayout = { xMin: 1, xMax: 40_000, columns: 700 };
    const incremental = new IncrementalDecimator();
    let n = 0;
    const random = lcg(99);
    while (n < x.length) {
      const next = Math.min(x.length, n + 1 + Math.floor(random() * 400));
      const before = incremental.out.length;
      const changedFrom = incremental.update(x, y, next, n, fixed);
      // Only the last column's group (at most four points, or one gap marker) is redone.
      assert.ok(changedFrom >= before - 4, `redone from ${changedFrom} of ${before}`);
      n = next;
      assert.deepEqual(points(incremental.out), points(decimate(x, y, n, fixed)));
    }
  });

  it('starts over when the layout changes or points change before the end', () => {
    const { x, y } = series(5000, 9);
    const incremental = new IncrementalDecimator();
    incremental.update(x, y, 5000, 0, { xMin: 1, xMax: 5000, columns: 300 });
    const wider: ColumnLayout = { xMin: 1, xMax: 5000, columns: 600 };
    assert.equal(incremental.update(x, y, 5000, Number.POSITIVE_INFINITY, wider), 0);
    assert.deepEqual(points(incremental.out), points(decimate(x, y, 5000, wider)));
    y[100] = 99;
    assert.equal(incremental.update(x, y, 5000, 100, wider), 0);
    assert.deepEqual(points(incremental.out), points(decimate(x, y, 5000, wider)));
    assert.equal(incremental.update(x, y, 4000, 4000, wider), 0, 'a truncation starts over');
    assert.deepEqual(points(incremental.out), points(decimate(x, y, 4000, wider)));
  });

  it('gives the same points with column edges shared between lines as scanning each line alone', () => {
    const indexes = new ColumnIndexCache();
    const { x, y } = series(50_000, 13, 0.003);
    // Runs of gaps, one across a column edge, and a spike.
    y.fill(Number.NaN, 1_000, 1_400);
    y.fill(Number.NaN, 20_010, 20_013);
    y[31_337] = 40;
    const smooth = Float64Array.from(y, (v, i) => (Number.isFinite(v) ? Math.sin(i / 900) : v));
    const layouts: ColumnLayout[] = [
      { xMin: 1, xMax: 50_000, columns: 700 },
      // A live run's axis, with empty columns after the data.
      { xMin: 1, xMax: 62_500.5, columns: 333 },
      // Points before and after the axis, clamped into the end columns.
      { xMin: 5_000.25, xMax: 45_000, columns: 901 },
    ];
    for (const layout of layouts) {
      indexes.clear();
      for (const values of [y, smooth]) {
        const shared = new IncrementalDecimator();
        shared.update(x, values, x.length, 0, layout, indexes);
        assert.deepEqual(points(shared.out), points(decimate(x, values, x.length, layout)));
      }
      // Steps known to be sorted skip the check, with the same result.
      indexes.clear();
      indexes.knownSorted(x, x.length);
      const known = new IncrementalDecimator();
      known.update(x, y, x.length, 0, layout, indexes);
      assert.deepEqual(points(known.out), points(decimate(x, y, x.length, layout)));
    }
  });

  it('keeps appending after a pass with shared edges, and scans unsorted x alone', () => {
    const indexes = new ColumnIndexCache();
    const { x, y } = series(30_000, 17, 0.002);
    const layout: ColumnLayout = { xMin: 1, xMax: 40_000, columns: 500 };
    const incremental = new IncrementalDecimator();
    incremental.update(x, y, 20_000, 0, layout, indexes);
    for (let n = 20_000; n < x.length; n += 997) {
      const next = Math.min(x.length, n + 997);
      indexes.clear();
      incremental.update(x, y, next, n, layout, indexes);
      assert.deepEqual(points(incremental.out), points(decimate(x, y, next, layout)));
    }
    const clock = x.map((v, i) => (i >= 15_000 ? v - 5_000 : v));
    indexes.clear();
    assert.equal(indexes.get(clock, clock.length, layout), undefined, 'x that steps back has no shared edges');
    const unsorted = new IncrementalDecimator();
    unsorted.update(clock, y, clock.length, 0, layout, indexes);
    assert.deepEqual(points(unsorted.out), points(decimate(clock, y, clock.length, layout)));
  });

  it('clamps points outside the x range into the end columns', () => {
    const x = Float64Array.from([-5, 0, 5, 10, 15]);
    const y = Float64Array.from([1, 2, 3, 4, 5]);
    const out = points(decimate(x, y, 5, { xMin: 0, xMax: 10, columns: 2 }));
    // Column 0 holds -5 and 0; column 1 holds 5, 10 and 15, whose middle point is neither
    // first, last nor an extreme.
    assert.deepEqual(out, [[-5, 1], [0, 2], [5, 3], [15, 5]]);
  });
});
