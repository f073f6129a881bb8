// V8 runs a function in its interpreter until it has been called (or has looped) enough to
// be compiled. The engine's per-point loops would otherwise meet a run's whole backlog,
// hundreds of thousands of points per series, half-compiled: warming them on a small
// synthetic series while the page still waits for the host's data makes the first frame
// of a long run come sooner. Pure (no DOM).

import { ColumnIndexCache, decimate, IncrementalDecimator } from './decimate';
import { yRange } from './lineMath';
import { IncrementalSmoother } from './smoothing';

/**
 * Posts one small buffer away, as a report's lines are. Until a message has moved an
 * ArrayBuffer out of this thread, V8 compiles typed-array code on the promise that none ever
 * will, and the first such message (the first report with lines, which comes before any data)
 * throws all of that code away: the warmed loops would meet the backlog cold again. Broken
 * here, before they are warmed, the promise costs nothing later.
 */
function transferOnce(): void {
  const channel = new MessageChannel();
  const probe = new Float64Array(8);
  channel.port1.postMessage(probe, [probe.buffer]);
  channel.port1.close();
  channel.port2.close();
}

export function warmUp(): void {
  transferOnce();
  const n = 4096;
  const x = new Float64Array(n);
  const y = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    x[i] = i + 1;
    y[i] = i % 97 === 0 ? Number.NaN : Math.sin(i * 0.37) + 1;
  }
  const unsorted = x.slice().reverse();
  const clean = Float64Array.from(x, (xi) => Math.sin(xi * 0.37) + 1);
  const indexes = new ColumnIndexCache();
  for (let round = 0; round < 24; round++) {
    // Ranges of fractional steps too (epochs, seconds): compiled for small integers only,
    // the loops would be thrown away at the first fraction.
    const layout = { xMin: round % 2 === 0 ? 0 : 0.5, xMax: n + round + 0.25, columns: 200 + round };
    decimate(x, y, n, layout);
    decimate(unsorted, y, n, layout);
    const smoother = new IncrementalSmoother(0.6);
    smoother.update(y, n, 0);
    const incremental = new IncrementalDecimator();
    incremental.update(x, smoother.values, n - 1, 0, layout);
    incremental.update(x, smoother.values, n, n - 1, layout);
    // A full pass over a long series: tens of points per column, the edges shared by the
    // lines over one x, and empty columns after the data (a live run's axis has room to grow).
    indexes.clear();
    const dense = { xMin: layout.xMin, xMax: n * 1.25 + round + 0.25, columns: 64 + round };
    new IncrementalDecimator().update(x, clean, n, 0, dense, indexes);
    new IncrementalDecimator().update(x, y, n, 0, dense, indexes);
    yRange([incremental.out], round % 2 === 1);
  }
}
