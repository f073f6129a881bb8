import assert from 'node:assert/strict';
import { test } from 'node:test';
import { deriveStatus, deriveSummary, EMPTY_RUN_STATE, formatProgress, reduceRunEvents, STARTING_GRACE_MS } from '../../src/core/runStatus';
import { formatDuration } from '../../src/shared/format';
import type { Liveness } from '../../src/core/runStatus';
import type { TrainerEvent } from '../../src/shared/events';
import type { RunStatus } from '../../src/shared/runStatus';

const ev = {
  started: { v: 1, t: 10, type: 'run_started', run_id: 'r', trainer_version: '0.1.0', world_size: 1, config: {} },
  preparing: { v: 1, t: 11, type: 'phase', phase: 'preparing_data' },
  training: { v: 1, t: 12, type: 'phase', phase: 'training' },
  evaluating: { v: 1, t: 13, type: 'phase', phase: 'evaluating' },
  progress: { v: 1, t: 14, type: 'progress', step: 12, max_steps: 40, epoch: 0.3, samples_per_s: 4, eta_s: 63 },
  error: { v: 1, t: 15, type: 'error', message: 'CUDA out of memory\nTried to allocate 2 GiB', traceback: 'Traceback...' },
  failed: { v: 1, t: 16, type: 'run_finished', status: 'failed' },
  finished: { v: 1, t: 16, type: 'run_finished', status: 'finished' },
  stopped: { v: 1, t: 16, type: 'run_finished', status: 'stopped' },
} satisfies Record<string, TrainerEvent>;

const alive: Liveness = { hasRunInfo: true, alive: true, dirAgeMs: 5_000 };
const dead: Liveness = { hasRunInfo: true, alive: false, dirAgeMs: 5_000 };
const noInfoYoung: Liveness = { hasRunInfo: false, alive: false, dirAgeMs: STARTING_GRACE_MS - 1 };
const noInfoOld: Liveness = { hasRunInfo: false, alive: false, dirAgeMs: STARTING_GRACE_MS + 1 };

const table: Array<[string, TrainerEvent[], Liveness, RunStatus]> = [
  ['no events, alive', [], alive, 'starting'],
  ['run_started only, alive', [ev.started], alive, 'starting'],
  ['last phase wins while alive', [ev.started, ev.preparing, ev.training], alive, 'training'],
  ['evaluating after training', [ev.training, ev.evaluating], alive, 'evaluating'],
  ['finished wins over a live process', [ev.training, ev.finished], alive, 'finished'],
  ['finished wins over a dead process', [ev.training, ev.finished], dead, 'finished'],
  ['stopped', [ev.training, ev.stopped], dead, 'stopped'],
  ['failed', [ev.training, ev.error, ev.failed], dead, 'failed'],
  ['dead without run_finished is lost', [ev.training, ev.progress], dead, 'lost'],
  ['no run.json, young folder: starting', [], noInfoYoung, 'starting'],
  ['no run.json, old folder: lost', [], noInfoOld, 'lost'],
  ['no run.json but run_finished: finished', [ev.finished], noInfoOld, 'finished'],
  ['run.json, process gone before any event: lost', [], dead, 'lost'],
];

for (const [name, events, liveness, status] of table) {
  test(`status: ${name}`, () => {
    assert.equal(deriveStatus(reduceRunEvents(EMPTY_RUN_STATE, events), liveness), status);
  });
}

test('a failed summary carries the first line of the first error', () => {
  const state = reduceRunEvents(EMPTY_RUN_STATE, [ev.started, ev.training, ev.progress, ev.error, { ...ev.error, message: 'later' }, ev.failed]);
  const summary = deriveSummary('r', state, dead);
  assert.equal(summary.status, 'failed');
  assert.equal(summary.error, 'CUDA out of memory');
  assert.equal(summary.step, 12);
  assert.equal(summary.maxSteps, 40);
  assert.equal(summary.startedAt, 10);
  assert.equal(summary.lastEventAt, 16);
});

test('a finished summary has no error even when the trainer logged one', () => {
  const summary = deriveSummary('r', reduceRunEvents(EMPTY_RUN_STATE, [ev.error, ev.finished]), dead);
  assert.equal(summary.error, undefined);
});

test('reducing in batches equals reducing at once', () => {
  const all = [ev.started, ev.preparing, ev.training, ev.progress, ev.error, ev.failed];
  const once = reduceRunEvents(EMPTY_RUN_STATE, all);
  const batched = reduceRunEvents(reduceRunEvents(EMPTY_RUN_STATE, all.slice(0, 2)), all.slice(2));
  assert.deepEqual(batched, once);
});

test('progress text: step and ETA while training, no ETA once ended', () => {
  assert.equal(formatProgress({ runId: 'r', status: 'training', step: 12, maxSteps: 40, etaS: 63 }), 'step 12/40 · ETA 1m 03s');
  assert.equal(formatProgress({ runId: 'r', status: 'finished', step: 40, maxSteps: 40, etaS: 0 }), 'step 40/40');
  assert.equal(formatProgress({ runId: 'r', status: 'starting' }), '');
  assert.equal(formatDuration(45.4), '45s');
  assert.equal(formatDuration(7500), '2h 05m');
});
