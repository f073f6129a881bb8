// The run panel's state reduction, from the golden events file the trainer's tests share,
// through the same path the panel takes: the host packs events into columns, the page folds
// them into its run state, and the chart engine into its series.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import type { MetricsEvent, RunStartedEvent, TrainerEvent } from '../../src/shared/events';
import { toTrainerEvent } from '../../src/shared/events';
import { formatDuration } from '../../src/shared/format';
import { packEvents } from '../../src/shared/protocol/runPanelPacking';
import { formatNumber, headerModel } from '../../webview/runPanel/format';
import { RunState } from '../../webview/runPanel/runState';
import type { SeriesName, SeriesPoint } from '../../webview/runPanel/series';
import { RunSeriesData, SERIES_NAMES, SeriesStore } from '../../webview/runPanel/series';
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

/** The panel's path for one run: host packing, page state, engine series. */
class Panel {
  readonly state = new RunState('r');
  readonly data = new RunSeriesData();

  apply(events: readonly TrainerEvent[], reset: boolean): boolean {
    let changed = false;
    for (const payload of packEvents('r', events, reset)) {
      changed = this.data.apply(this.state.apply(payload)).size > 0 || changed;
    }
    return changed;
  }

  snapshot(): Record<SeriesName, SeriesPoint[]> {
    return this.data.snapshot();
  }
}

function only(partial: Partial<Record<SeriesName, SeriesPoint[]>>): Record<SeriesName, SeriesPoint[]> {
  return Object.fromEntries(SERIES_NAMES.map((name) => [name, partial[name] ?? []])) as Record<SeriesName, SeriesPoint[]>;
}

const EXPECTED = only({
  trainLoss: [
    { x: 1, y: 2.75 },
    { x: 2, y: null },
  ],
  evalLoss: [{ x: 2, y: 2.5 }],
  learningRate: [
    { x: 1, y: 0.0002 },
    { x: 2, y: 0.00015 },
  ],
  gradNorm: [{ x: 1, y: 1.5 }],
  samplesPerS: [{ x: 1, y: 2.5 }],
});

const metrics = (step: number, split: 'train' | 'eval', values: Record<string, number | null>, t = 1000 + step): MetricsEvent => ({
  v: 1,
  t,
  type: 'metrics',
  step,
  epoch: step / 10,
  split,
  values,
});

const started = (t: number, extra: Partial<RunStartedEvent> = {}): RunStartedEvent => ({
  v: 1,
  t,
  type: 'run_started',
  run_id: 'r',
  trainer_version: '0.1.0',
  world_size: 1,
  config: { lora: { enabled: true } },
  ...extra,
});

describe('run panel series from golden.jsonl', () => {
  it('skips exactly the torn last line and the unknown type', () => {
    const { events, torn, unknown } = readGolden();
    assert.equal(torn, 1);
    assert.equal(unknown, 1);
    assert.equal(events.length, 13);
  });

  it('gives exactly the expected points, with NaN as a null gap', () => {
    const panel = new Panel();
    assert.equal(panel.apply(readGolden().events, true), true);
    assert.deepEqual(panel.snapshot(), EXPECTED);
  });

  it('keeps progress, the first error, the outcome, times and config', () => {
    const panel = new Panel();
    panel.apply(readGolden().events, true);
    const state = panel.state;
    assert.deepEqual(state.progress, { step: 1, maxSteps: 4, epoch: 0.25, samplesPerS: 2.5, etaS: 3, t: 1764220804 });
    assert.equal(state.error?.message, 'CUDA out of memory');
    assert.equal(state.error?.record, 7);
    assert.match(state.error?.traceback ?? '', /torch\.OutOfMemoryError/);
    assert.equal(state.finished, 'failed');
    assert.equal(state.phase, 'evaluating');
    assert.equal(state.startedAt, 1764220800);
    assert.equal(state.lastEventAt, 1764220809);
    assert.equal(state.checkpoints, 1);
    assert.equal(state.attempt, 1);
    assert.deepEqual(state.latestEval, { step: 2, values: { loss: 2.5 } });
    assert.deepEqual(state.config, { model: { base: 'tiny-model' } });
    assert.equal(state.loraEnabled, true, 'LoRA is the default');
  });

  it('does not count a replayed event twice', () => {
    const { events } = readGolden();
    const panel = new Panel();
    panel.apply(events, true);
    assert.equal(panel.apply(events, false), false, 'a replay changes nothing');
    panel.apply(events.slice(5, 9), false);
    assert.deepEqual(panel.snapshot(), EXPECTED);
    assert.equal(panel.state.checkpoints, 1);
    assert.equal(panel.state.attempt, 1, 'the repeated run_started is not a new attempt');
  });

  it('event by event gives the same result as one batch', () => {
    const panel = new Panel();
    for (const event of readGolden().events) panel.apply([event], false);
    assert.deepEqual(panel.snapshot(), EXPECTED);
  });

  it('reset drops what it held first', () => {
    const panel = new Panel();
    panel.apply(readGolden().events, true);
    assert.equal(panel.apply([], true), true);
    assert.deepEqual(panel.snapshot(), only({}));
    assert.equal(panel.state.error, undefined);
    assert.equal(panel.state.finished, undefined);
    panel.apply([metrics(7, 'train', { loss: 1 })], true);
    assert.deepEqual(panel.snapshot().trainLoss, [{ x: 7, y: 1 }]);
  });
});

describe('run panel series edge cases', () => {
  it('keeps points sorted when steps arrive out of order', () => {
    const panel = new Panel();
    panel.apply([10, 30, 20, 5, 40].map((s) => metrics(s, 'train', { loss: s })), false);
    assert.deepEqual(panel.snapshot().trainLoss.map((p) => p.x), [5, 10, 20, 30, 40]);
  });

  it('dedupes per field: a later event at the same step may add other fields, not replace loss', () => {
    const panel = new Panel();
    panel.apply([metrics(4, 'train', { loss: 1.5 }), metrics(4, 'train', { loss: 9, learning_rate: 1e-4 })], false);
    assert.deepEqual(panel.snapshot().trainLoss, [{ x: 4, y: 1.5 }]);
    assert.deepEqual(panel.snapshot().learningRate, [{ x: 4, y: 1e-4 }]);
  });

  it('keeps train and eval at the same step apart, and charts the eval task metrics', () => {
    const panel = new Panel();
    panel.apply(
      [
        metrics(2, 'train', { loss: 2, gpu_mem_gb: 17.5 }),
        metrics(2, 'eval', { loss: 3, mae: 0.5, success_rate: 0.25 }),
        metrics(3, 'eval', { iou: 0.4, mre: 0.1 }),
      ],
      false,
    );
    assert.deepEqual(
      panel.snapshot(),
      only({
        trainLoss: [{ x: 2, y: 2 }],
        gpuMemGb: [{ x: 2, y: 17.5 }],
        evalLoss: [{ x: 2, y: 3 }],
        evalMae: [{ x: 2, y: 0.5 }],
        evalSuccessRate: [{ x: 2, y: 0.25 }],
        evalIou: [{ x: 3, y: 0.4 }],
        evalMre: [{ x: 3, y: 0.1 }],
      }),
    );
    assert.deepEqual(panel.state.latestEval, { step: 3, values: { iou: 0.4, mre: 0.1 } });
  });

  it('reads whether LoRA is on from the config', () => {
    const panel = new Panel();
    assert.equal(panel.state.loraEnabled, undefined, 'unknown before run_started');
    panel.apply([started(1, { config: { lora: { enabled: false } } })], false);
    assert.equal(panel.state.loraEnabled, false);
  });
});

describe('resumed runs: each step once, the latest attempt\'s value', () => {
  const firstAttempt = (): TrainerEvent[] => [
    started(100, { attempt: 1, resume_step: null }),
    ...Array.from({ length: 10 }, (_, i) => metrics(i + 1, 'train', { loss: 10 - i }, 100 + i)),
    metrics(5, 'eval', { loss: 7 }, 106),
    metrics(10, 'eval', { loss: 6 }, 111),
    { v: 1, t: 112, type: 'checkpoint', step: 6, path: 'checkpoints/checkpoint-6' },
    { v: 1, t: 113, type: 'error', message: 'killed', traceback: '' },
    { v: 1, t: 114, type: 'run_finished', status: 'failed' },
  ];

  it('drops what the earlier attempt logged after the resume step', () => {
    const panel = new Panel();
    const second: TrainerEvent[] = [
      started(200, { attempt: 2, resume_step: 6 }),
      ...Array.from({ length: 6 }, (_, i) => metrics(i + 7, 'train', { loss: 0.5 + i / 10 }, 200 + i)),
    ];
    panel.apply([...firstAttempt(), ...second], true);
    const train = panel.snapshot().trainLoss;
    assert.deepEqual(train.map((p) => p.x), [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12], 'each step once');
    assert.deepEqual(train.slice(6).map((p) => p.y), [0.5, 0.6, 0.7, 0.8, 0.9, 1], 'steps 7.. from the resumed attempt');
    assert.deepEqual(train.slice(0, 6).map((p) => p.y), [10, 9, 8, 7, 6, 5], 'steps up to the checkpoint stay');
    assert.deepEqual(panel.snapshot().evalLoss, [{ x: 5, y: 7 }], 'the eval after the resume step is superseded');
    assert.equal(panel.state.attempt, 2);
    assert.equal(panel.state.error, undefined, 'the earlier attempt\'s error is history');
    assert.equal(panel.state.finished, undefined);
    assert.equal(panel.state.checkpoints, 1);
  });

  it('gives the same series whether the attempts arrive in one batch or line by line', () => {
    const events = [...firstAttempt(), started(200, { attempt: 2, resume_step: 6 }), metrics(7, 'train', { loss: 0.1 }, 201)];
    const batch = new Panel();
    batch.apply(events, true);
    const lines = new Panel();
    for (const event of events) lines.apply([event], false);
    assert.deepEqual(lines.snapshot(), batch.snapshot());
    assert.deepEqual(batch.snapshot().trainLoss.map((p) => p.x), [1, 2, 3, 4, 5, 6, 7]);
  });

  it('replaces a step the resumed attempt logs again, even at or before the resume step', () => {
    const panel = new Panel();
    panel.apply([...firstAttempt(), started(200, { attempt: 2, resume_step: 6 }), metrics(6, 'train', { loss: 42 }, 201)], true);
    assert.deepEqual(panel.snapshot().trainLoss.slice(4).map((p) => [p.x, p.y]), [[5, 6], [6, 42]]);
  });

  it('drops everything when the new attempt started fresh (resume_step null)', () => {
    const panel = new Panel();
    panel.apply([...firstAttempt(), started(200, { attempt: 2, resume_step: null }), metrics(1, 'train', { loss: 3 }, 201)], true);
    assert.deepEqual(panel.snapshot().trainLoss, [{ x: 1, y: 3 }]);
    assert.deepEqual(panel.snapshot().evalLoss, []);
  });

  it('ignores a run_started delivered again (same attempt), and tells attempts apart by time for older trainers', () => {
    const panel = new Panel();
    const events = firstAttempt();
    panel.apply(events, true);
    panel.apply([events[0] as TrainerEvent], false);
    assert.equal(panel.snapshot().trainLoss.length, 10, 'nothing dropped');
    const old = new Panel();
    old.apply([started(100), metrics(1, 'train', { loss: 1 }, 101), metrics(2, 'train', { loss: 2 }, 102)], true);
    old.apply([started(100)], false);
    assert.equal(old.snapshot().trainLoss.length, 2, 'the same start again');
    old.apply([started(300, { resume_step: 1 }), metrics(2, 'train', { loss: 5 }, 301)], false);
    assert.deepEqual(old.snapshot().trainLoss, [
      { x: 1, y: 1 },
      { x: 2, y: 5 },
    ]);
  });
});

describe('SeriesStore', () => {
  const column = (steps: number[], ys: number[]) =>
    [Float64Array.from(steps), Float64Array.from(steps, (s) => s / 10), Float64Array.from(steps, (s) => 1000 + s), Float64Array.from(ys)] as const;

  it('tells consumers where it changed, once', () => {
    const store = new SeriesStore();
    store.addRows(...column([1, 2, 3], [3, 2, 1]), 1);
    assert.equal(store.takeDirty(), 0);
    assert.equal(store.takeDirty(), Number.POSITIVE_INFINITY);
    store.addRows(...column([4, 5], [0.5, 0.4]), 1);
    assert.equal(store.takeDirty(), 3, 'an append is dirty from the old end');
    store.addRows(...column([2.5], [9]), 1);
    assert.equal(store.takeDirty(), 2, 'an insertion is dirty from where it went');
    store.truncateAfter(3);
    assert.equal(store.takeDirty(), 4);
    assert.deepEqual(Array.from(store.step.subarray(0, store.length)), [1, 2, 2.5, 3]);
    assert.deepEqual(Array.from(store.xs('epoch').subarray(0, store.length)), [0.1, 0.2, 0.25, 0.3]);
  });

  it('adopts or merges the columns of one split alike, their shared steps checked once', () => {
    const data = new RunSeriesData();
    const steps = Float64Array.from([1, 2, 3]);
    const epochs = steps.map((s) => s / 10);
    const times = steps.map((s) => 1000 + s);
    const shared = (series: 'trainLoss' | 'gradNorm', ys: number[]) => ({ series, step: steps, epoch: epochs, t: times, y: Float64Array.from(ys) });
    data.apply({ runId: 'r', reset: true, attempt: 1, columns: [shared('trainLoss', [3, 2, 1]), shared('gradNorm', [1, 1, 2])] });
    assert.ok(data.stores.get('trainLoss')?.step === steps && data.stores.get('gradNorm')?.step === steps, 'a backlog is adopted without a copy');
    const backwards = Float64Array.from([5, 4]);
    const late = (series: 'trainLoss' | 'gradNorm', ys: number[]) => ({ series, step: backwards, epoch: backwards, t: backwards, y: Float64Array.from(ys) });
    data.apply({ runId: 'r', reset: false, attempt: 1, columns: [late('trainLoss', [0.5, 0.6]), late('gradNorm', [3, 4])] });
    const snapshot = data.snapshot();
    assert.deepEqual(snapshot.trainLoss, [1, 2, 3, 4, 5].map((x, i) => ({ x, y: [3, 2, 1, 0.6, 0.5][i] })));
    assert.deepEqual(snapshot.gradNorm, [1, 2, 3, 4, 5].map((x, i) => ({ x, y: [1, 1, 2, 4, 3][i] })));
    assert.notEqual(data.stores.get('trainLoss')?.step, data.stores.get('gradNorm')?.step, 'each store grew arrays of its own');
  });

  it('grows past its first capacity', () => {
    const store = new SeriesStore();
    const steps = Array.from({ length: 10_000 }, (_, i) => i);
    store.addRows(...column(steps, steps), 1);
    store.addRows(...column([10_000], [1]), 1);
    assert.equal(store.length, 10_001);
    assert.equal(store.y[9_999], 9_999);
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
    const panel = new Panel();
    panel.apply(readGolden().events, true);
    const model = headerModel({ runId: '20261127-120000-demo', status: 'failed', error: 'CUDA out of memory' }, panel.state, 1764220900);
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
    const panel = new Panel();
    panel.apply(readGolden().events.slice(0, 6), true);
    const model = headerModel({ runId: 'r', status: 'training' }, panel.state, 1764220805);
    const stats = Object.fromEntries(model.stats.map((s) => [s.key, s.value]));
    assert.equal(stats.eta, '2s');
    assert.equal(stats.elapsed, '5s');
  });
});
