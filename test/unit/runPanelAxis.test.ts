// The shared x range of the run panel's charts: exact for finished runs, stable for live ones
// (so the per-pixel-column decimation does not start over with every step).
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Extent } from '../../webview/runPanel/axisExtent';
import { computeExtent } from '../../webview/runPanel/axisExtent';
import { RunSeriesData } from '../../webview/runPanel/series';

function run(steps: number[], extent?: { maxSteps: number; epochsPerStep: number | null }): RunSeriesData {
  const data = new RunSeriesData();
  const step = Float64Array.from(steps);
  data.apply({
    runId: 'r',
    reset: false,
    attempt: 1,
    columns: [{ series: 'trainLoss', step, epoch: Float64Array.from(steps, (s) => s / 100), t: Float64Array.from(steps, (s) => 1000 + 2 * s), y: Float64Array.from(steps, () => 1) }],
    ...(extent !== undefined ? { extent } : {}),
  });
  return data;
}

describe('the charts\' x range', () => {
  it('fits a finished run\'s data exactly, by step, epoch or time', () => {
    const data = run([5, 6, 7, 50]);
    assert.deepEqual(computeExtent([{ data, live: false }], 'step', undefined), { mode: 'step', xMin: 5, xMax: 50 });
    assert.deepEqual(computeExtent([{ data, live: false }], 'epoch', undefined), { mode: 'epoch', xMin: 0.05, xMax: 0.5 });
    assert.deepEqual(computeExtent([{ data, live: false }], 'wall', undefined), { mode: 'wall', xMin: 1010, xMax: 1100 });
    assert.deepEqual(computeExtent([{ data: run([3]), live: false }], 'step', undefined), { mode: 'step', xMin: 2, xMax: 4 });
    assert.equal(computeExtent([{ data: new RunSeriesData(), live: true }], 'step', undefined), undefined);
  });

  it('reaches a live run\'s planned length and keeps it while the run grows', () => {
    const first = computeExtent([{ data: run([1, 2, 3], { maxSteps: 1000, epochsPerStep: 0.01 }), live: true }], 'step', undefined);
    assert.deepEqual(first, { mode: 'step', xMin: 1, xMax: 1000 });
    const later = computeExtent([{ data: run([1, 2, 3, 500], { maxSteps: 1000, epochsPerStep: 0.01 }), live: true }], 'step', first);
    assert.equal(later, first, 'the same range object: nothing to redo');
    assert.deepEqual(computeExtent([{ data: run([1, 500], { maxSteps: 1000, epochsPerStep: 0.01 }), live: true }], 'epoch', undefined), {
      mode: 'epoch',
      xMin: 0.01,
      xMax: 10,
    });
  });

  it('keeps an epoch axis when the planned end only jitters', () => {
    const previous: Extent = { mode: 'epoch', xMin: 0.01, xMax: 10 };
    const jitter = computeExtent([{ data: run([1, 500], { maxSteps: 1000, epochsPerStep: 0.01004 }), live: true }], 'epoch', previous);
    assert.equal(jitter, previous);
  });

  it('grows by a quarter when a live run has no plan and reaches the end', () => {
    const first = computeExtent([{ data: run([1, 101]), live: true }], 'step', undefined);
    assert.deepEqual(first, { mode: 'step', xMin: 1, xMax: 126 });
    assert.equal(computeExtent([{ data: run([1, 120]), live: true }], 'step', first), first);
    assert.deepEqual(computeExtent([{ data: run([1, 130]), live: true }], 'step', first), { mode: 'step', xMin: 1, xMax: 162.25 });
  });

  it('spans every run, and a run that ended fits once nothing is live', () => {
    const runs = [
      { data: run([1, 50]), live: false },
      { data: run([10, 80]), live: false },
    ];
    assert.deepEqual(computeExtent(runs, 'step', undefined), { mode: 'step', xMin: 1, xMax: 80 });
    const previous: Extent = { mode: 'step', xMin: 1, xMax: 1000 };
    assert.deepEqual(computeExtent(runs, 'step', previous), { mode: 'step', xMin: 1, xMax: 80 });
  });
});
