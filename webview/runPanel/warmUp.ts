// V8 runs a function in its interpreter until it has been called (or has looped) enough to
// be compiled. The engine's per-point loops would otherwise meet a run's whole backlog,
// hundreds of thousands of points per series, half-compiled: warming them on a small
// synthetic series while the page still waits for the host's data makes the first frame
// of a long run come sooner. Pure (no DOM).

import { decimate, IncrementalDecimator } from './decimate';
import { yRange } from './lineMath';
import { IncrementalSmoother } from './smoothing';

export function warmUp(): void {
  const n = 4096;
  const x = new Float64Array(n);
  const y = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    x[i] = i + 1;
    y[i] = i % 97 === 0 ? Number.NaN : Math.sin(i * 0.37) + 1;
  }
  const unsorted = x.slice().reverse();
  for (let round = 0; round < 24; round++) {
    const layout = { xMin: 0, xMax: n + round, columns: 200 + round };
    decimate(x, y, n, layout);
    decimate(unsorted, y, n, layout);
    const smoother = new IncrementalSmoother(0.6);
    smoother.update(y, n, 0);
    const incremental = new IncrementalDecimator();
    incremental.update(x, smoother.values, n - 1, 0, layout);
    incremental.update(x, smoother.values, n, n - 1, layout);
    yRange([incremental.out], round % 2 === 1);
  }
}
