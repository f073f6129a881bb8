// The run panel's state reduction, from the golden events file the trainer's tests share.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import type { MetricsEvent, TrainerEvent } from '../../src/shared/events';
import { toTrainerEvent } from '../../src/shared/events';
import { formatNumber, headerModel } from '../../webview/runPanel/format';
import { formatDuration } from '../../src/shared/format';
import { RunSeries } from '../../webview/runPanel/series';
import { repoRoot } from './testUtil';

function readGolden(): { events: TrainerEvent[]; torn: number; unknown: number } {
  const lines = readFileSync(path.join(repoRoot, 'test/fixtures/events/golden.jsonl'), 'utf8').split('\n').filter((l) => l !== '');
  const events: TrainerEvent[] = [];
  let torn = 0;
  let unknown = 0;
  for (const line of lines) {
    let raw: unknown;
    try {
      raw = JSON.parse(line);
    } catch {
      torn++;
      continue;
    }
    const event = toTrainerEvent(raw);
    if (event === undefined) unknown++;
    else events.push(event);
  }
  return { events, torn, unknown };
}

const EXPECTED = {
  trainLoss: [
    { x: 1, y: 2.75 },
    { x: 2, y: null },
  ],
  evalLoss: [{ x: 2, y: 2.5 }],
  learningRate: [
    { x: 1, y: 0.0002 },
    { x: 2, y: 0.00015 },
  ],
};

const metrics = (step: number, split: 'train' | 'eval', values: Record<string, number | null>): MetricsEvent => ({
  v: 1,
  t: 1000 + step,
  type: 'metrics',
  step,
  epoch: step / 10,
  split,
  values,
});

describe('RunSeries from golden.jsonl', () => {
  it('skips exactly the torn last line and the unknown type', () => {
    const { events, torn, unknown } = readGolden();
    assert.equal(torn, 1);
    assert.equal(unknown, 1);
    assert.equal(events.length, 13);
  });

  it('gives exactly the expected points, with NaN as a null gap', () => {
    const series = new RunSeries();
    assert.equal(series.apply(readGolden().events, true), true);
    assert.deepEqual(series.snapshot(), EXPECTED);
  });

  it('keeps progress, the first error, the outcome and times', () => {
    const series = new RunSeries();
    series.apply(readGolden().events, true);
    assert.deepEqual(series.progress, { step: 1, maxSteps: 4, epoch: 0.25, samplesPerS: 2.5, etaS: 3, t: 1764220804 });
    assert.equal(series.error?.message, 'CUDA out of memory');
    assert.equal(series.error?.record, 7);
    assert.match(series.error?.traceback ?? '', /torch\.OutOfMemoryError/);
    assert.equal(series.finished, 'failed');
    assert.equal(series.phase, 'evaluating');
    assert.equal(series.startedAt, 1764220800);
    assert.equal(series.lastEventAt, 1764220809);
    assert.equal(series.checkpoints, 1);
    assert.deepEqual(series.latestEval, { step: 2, values: { loss: 2.5 } });
  });

  it('does not count a replayed event twice', () => {
    const { events } = readGolden();
    const series = new RunSeries();
    series.apply(events, true);
    assert.equal(series.apply(events, false), false, 'a replay changes nothing');
    series.apply(events.slice(5, 9), false);
    assert.deepEqual(series.snapshot(), EXPECTED);
    assert.equal(series.checkpoints, 1);
  });

  it('event by event gives the same result as one batch', () => {
    const series = new RunSeries();
    for (const event of readGolden().events) series.apply([event], false);
    assert.deepEqual(series.snapshot(), EXPECTED);
  });

  it('reset drops what it held first', () => {
    const series = new RunSeries();
    series.apply(readGolden().events, true);
    assert.equal(series.apply([], true), true);
    assert.deepEqual(series.snapshot(), { trainLoss: [], evalLoss: [], learningRate: [] });
    assert.equal(series.error, undefined);
    assert.equal(series.finished, undefined);
    series.apply([metrics(7, 'train', { loss: 1 })], true);
    assert.deepEqual(series.snapshot().trainLoss, [{ x: 7, y: 1 }]);
  });
});

describe('RunSeries edge cases', () => {
  it('keeps points sorted when steps arrive out of order', () => {
    const series = new RunSeries();
    series.apply([10, 30, 20, 5, 40].map((s) => metrics(s, 'train', { loss: s })), false);
    assert.deepEqual(series.series('trainLoss').map((p) => p.x), [5, 10, 20, 30, 40]);
  });

  it('dedupes per field: a later event at the same step may add other fields, not replace loss', () => {
    const series = new RunSeries();
    series.apply([metrics(4, 'train', { loss: 1.5 }), metrics(4, 'train', { loss: 9, learning_rate: 1e-4 })], false);
    assert.deepEqual(series.snapshot().trainLoss, [{ x: 4, y: 1.5 }]);
    assert.deepEqual(series.snapshot().learningRate, [{ x: 4, y: 1e-4 }]);
  });

  it('keeps train and eval at the same step apart, and ignores events without the field', () => {
    const series = new RunSeries();
    series.apply([metrics(2, 'train', { loss: 2 }), metrics(2, 'eval', { loss: 3, mae: 0.5 }), metrics(3, 'eval', { iou: 0.4 })], false);
    assert.deepEqual(series.snapshot(), {
      trainLoss: [{ x: 2, y: 2 }],
      evalLoss: [{ x: 2, y: 3 }],
      learningRate: [],
    });
    assert.deepEqual(series.latestEval, { step: 3, values: { iou: 0.4 } });
  });
});

describe('header model', () => {
  it('formats durations and numbers', () => {
    assert.equal(formatDuration(0), '0s');
    assert.equal(formatDuration(65), '1m 05s');
    assert.equal(formatDuration(3 * 3600 + 2 * 60 + 9), '3h 02m');
    assert.equal(formatDuration(-4), '0s');
    assert.equal(formatNumber(0.0002), '2e-4');
    assert.equal(formatNumber(0.00015), '1.5e-4');
    assert.equal(formatNumber(2.75), '2.75');
    assert.equal(formatNumber(12345), '12,345');
  });

  it('shows the golden run as failed, with its step, epoch and elapsed time', () => {
    const series = new RunSeries();
    series.apply(readGolden().events, true);
    const model = headerModel({ runId: '20261127-120000-demo', status: 'failed', error: 'CUDA out of memory' }, series, 1764220900);
    assert.equal(model.statusLabel, 'failed');
    assert.ok(model.terminal);
    const stats = Object.fromEntries(model.stats.map((s) => [s.key, s.value]));
    assert.equal(stats.step, '1 / 4');
    assert.equal(stats.epoch, '0.25');
    assert.equal(stats.elapsed, '9s', 'a finished run stops the clock at its last event');
    assert.equal(stats.eta, undefined, 'no ETA for a finished run');
    assert.equal(stats.samplesPerS, '2.50');
  });

  it('counts the ETA down between progress events while running', () => {
    const series = new RunSeries();
    series.apply(readGolden().events.slice(0, 6), true);
    const model = headerModel({ runId: 'r', status: 'training' }, series, 1764220805);
    const stats = Object.fromEntries(model.stats.map((s) => [s.key, s.value]));
    assert.equal(stats.eta, '2s');
    assert.equal(stats.elapsed, '5s');
  });
});
