// The arithmetic of drawn lines, apart from the canvas: which point the hover read-out
// picks and the y range the axes are fitted to.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { decimate } from '../../webview/runPanel/decimate';
import type { Points } from '../../webview/runPanel/lineMath';
import { nearestIndex, yRange } from '../../webview/runPanel/lineMath';

const xs = Float64Array.of(1, 2, 3, 4, 5, 6);
const ys = Float64Array.of(3, Number.NaN, -1, 0, 2, Number.POSITIVE_INFINITY);
const points = (n = 6): Points => ({ xs, ys, length: n });

test('the read-out takes the nearest shown point, never a gap, and on a log axis never zero or less', () => {
  assert.equal(nearestIndex(points(), 1.4, false), 0);
  assert.equal(nearestIndex(points(), 2.1, false), 2, 'NaN at x=2: its nearest shown neighbour');
  assert.equal(nearestIndex(points(), 100, false), 4, 'infinity is a gap too');
  assert.equal(nearestIndex(points(), -5, false), 0);
  assert.equal(nearestIndex(points(), 3.9, true), 4, '-1 and 0 cannot show on a log axis');
  assert.equal(nearestIndex(points(), 2.5, true), 0, 'a tie goes to the left');
  assert.equal(nearestIndex({ xs, ys: Float64Array.of(Number.NaN, Number.NaN), length: 2 }, 1, false), -1);
  assert.equal(nearestIndex(points(0), 1, false), -1);
});

/** A series as the chart draws it: decimated to pixel columns. */
function line(values: Float64Array): Points {
  return decimate(Float64Array.from(values, (_, i) => i), values, values.length, { xMin: 0, xMax: values.length, columns: 1000 });
}

test('the axes fit every shown point of every line, and nothing when none shows', () => {
  assert.deepEqual(yRange([line(ys), line(Float64Array.of(7, -3))], false), { min: -3, max: 7 });
  assert.deepEqual(yRange([line(ys)], true), { min: 2, max: 3 }, 'a log axis fits the positive points');
  assert.equal(yRange([line(Float64Array.of(Number.NaN))], false), undefined);
  assert.equal(yRange([], false), undefined);
});
