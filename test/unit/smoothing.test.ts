// The smoothing slider against vectors made by an independent Python implementation of
// TensorBoard's smoothing (test/fixtures/smoothing/make_vectors.py), never by this code.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { IncrementalSmoother, MAX_SMOOTHING, smoothSeries } from '../../webview/runPanel/smoothing';
import { repoRoot } from './testUtil';

interface Case {
  readonly name: string;
  readonly weight: number;
  readonly input: readonly (number | string)[];
  readonly expected: readonly (number | string)[];
}

function decode(value: number | string): number {
  if (typeof value === 'number') return value;
  const decoded = { NaN: Number.NaN, Infinity: Number.POSITIVE_INFINITY, '-Infinity': Number.NEGATIVE_INFINITY }[value];
  assert.ok(decoded !== undefined, `unknown encoded value ${value}`);
  return decoded;
}

const cases: Case[] = (
  JSON.parse(readFileSync(path.join(repoRoot, 'test/fixtures/smoothing/vectors.json'), 'utf8')) as { cases: Case[] }
).cases;

/** Equal as floats: the same non-finite value, or within a relative 1e-12 (pow may differ by an ulp). */
function assertClose(actual: ArrayLike<number>, expected: readonly number[], label: string): void {
  assert.equal(actual.length, expected.length, `${label}: length`);
  for (let i = 0; i < expected.length; i++) {
    const a = actual[i] as number;
    const e = expected[i] as number;
    if (!Number.isFinite(e)) {
      assert.ok(Object.is(a, e), `${label}[${i}]: ${a} should be ${e}`);
    } else {
      assert.ok(Math.abs(a - e) <= 1e-12 * Math.max(1, Math.abs(e)), `${label}[${i}]: ${a} should be ${e}`);
    }
  }
}

describe('smoothing (TensorBoard debiased EMA)', () => {
  it('has vectors for every kind of series', () => {
    assert.ok(cases.length >= 60);
    assert.ok(cases.some((c) => c.name === 'gaps') && cases.some((c) => c.name === 'constant'));
  });

  for (const c of cases) {
    it(`${c.name} at ${c.weight}`, () => {
      const input = c.input.map(decode);
      assertClose(smoothSeries(input, c.weight), c.expected.map(decode), 'whole series');
    });
  }

  it('on long series equals the formula with w^n computed at every point, to the last bit', () => {
    // The smoother stops computing w^n once 1 - w^n is exactly 1; this checks that nothing changes.
    const n = 60_000;
    const values = Float64Array.from({ length: n }, (_, i) => (i % 5000 === 17 ? Number.NaN : Math.exp(-i / 9000) + 0.05 * Math.sin(i * 1.3)));
    for (const weight of [0.6, 0.99, MAX_SMOOTHING]) {
      let last = 0;
      let count = 0;
      const expected = Array.from(values, (x) => {
        if (!Number.isFinite(x)) return x;
        last = last * weight + (1 - weight) * x;
        count += 1;
        return last / (1 - Math.pow(weight, count));
      });
      const smoother = new IncrementalSmoother(weight);
      for (let end = 1000; end <= n; end += 1000) smoother.update(values, end, end - 1000);
      assert.deepEqual(Array.from(smoother.values.subarray(0, n)), expected, `weight ${weight}, appended in chunks`);
      assert.deepEqual(Array.from(smoothSeries(values, weight)), expected, `weight ${weight}, in one pass`);
    }
  });

  it('gives the same values point by point as in one pass', () => {
    for (const c of cases) {
      const input = c.input.map(decode);
      const smoother = new IncrementalSmoother(c.weight);
      for (let n = 1; n <= input.length; n++) {
        smoother.update(input, n, n - 1);
      }
      assertClose(smoother.values.subarray(0, input.length), c.expected.map(decode), `${c.name}@${c.weight} appended`);
    }
  });

  it('appends in chunks and recomputes after a change before the end', () => {
    const values = [3, 2.8, 2.9, 2.1, Number.NaN, 1.9, 2.0, 1.7, 1.75, 1.6];
    const smoother = new IncrementalSmoother(0.6);
    assert.equal(smoother.update(values, 4, 0), 0);
    assert.equal(smoother.update(values, 7, 4), 4, 'an append redoes only the new points');
    values[2] = 10;
    assert.equal(smoother.update(values, 10, 2), 0, 'a change before the end starts over');
    assertClose(smoother.values.subarray(0, 10), [...smoothSeries(values, 0.6)], 'after the change');
  });

  it('keeps a constant series exactly constant, also while it grows', () => {
    const smoother = new IncrementalSmoother(0.99);
    const values = new Array<number>(500).fill(0.1);
    for (let n = 1; n <= values.length; n += 37) smoother.update(values, n, n - 37);
    smoother.update(values, values.length, 0);
    assert.ok(smoother.values.subarray(0, values.length).every((v) => v === 0.1));
    assert.ok(smoothSeries(values, MAX_SMOOTHING).every((v) => v === 0.1));
  });

  it('turns constant into smoothed when a different value arrives', () => {
    const values = [1, 1, 1, 5];
    const smoother = new IncrementalSmoother(0.5);
    smoother.update(values, 3, 0);
    assert.deepEqual([...smoother.values.subarray(0, 3)], [1, 1, 1]);
    assert.equal(smoother.update(values, 4, 3), 0, 'the earlier points change too');
    assertClose(smoother.values.subarray(0, 4), [...smoothSeries(values, 0.5)], 'after the change');
  });

  it('leaves NaN and infinite points as gaps that do not move the average', () => {
    const out = smoothSeries([2, Number.NaN, Number.POSITIVE_INFINITY, 2, 4], 0.5);
    assert.ok(Number.isNaN(out[1] as number));
    assert.equal(out[2], Number.POSITIVE_INFINITY);
    // By hand: last = 1, 1.5, 2.75 over the three finite points, debiased by 1 - 0.5^n (the
    // gaps do not count in n).
    assertClose([out[0] as number, out[3] as number, out[4] as number], [1 / 0.5, 1.5 / 0.75, 2.75 / 0.875], 'finite');
  });
});
