import assert from 'node:assert/strict';
import { test } from 'node:test';
import { deriveStatus, deriveSummary, EMPTY_RUN_STATE, formatProgress, reduceRunEvents, STARTING_GRACE_MS } from '../../src/core/runStatus';
import { formatDuration } from '../../src/shared/format';
import type { Liveness } from '../../src/core/runStatus';
import type { TrainerEvent } from '../../src/shared/events';
import { toTrainerEvent } from '../../src/shared/events';
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

// Resumed runs: each run_started begins an attempt, and the latest one decides.
const attempt2 = { ...ev.started, t: 30, attempt: 2, resume_step: 8 } satisfies TrainerEvent;
const fresh2 = { ...ev.started, t: 30, attempt: 2, resume_step: null } satisfies TrainerEvent;
const progressAt = (step: number, t = 40): TrainerEvent => ({ ...ev.progress, t, step });
const attempt1Stopped = [{ ...ev.started, attempt: 1, resume_step: null }, ev.training, ev.progress, ev.stopped];
const launched2 = (over: Partial<Liveness> = {}): Liveness => ({ ...dead, attempt: 2, ...over });
const exitOf = (over: Partial<NonNullable<Liveness['exit']>>): NonNullable<Liveness['exit']> => ({ attempt: 2, pid: 7, code: 1, signal: null, t: 50, ...over });

const resumeTable: Array<[string, TrainerEvent[], Liveness, RunStatus]> = [
  ['stopped, then resumed and running again', [...attempt1Stopped, attempt2, ev.training], launched2({ alive: true }), 'training'],
  ['a resume claimed moments ago is starting, not stopped', attempt1Stopped, { ...dead, attempt: 2, launching: true }, 'starting'],
  ['a resumed process that has not written yet is starting', attempt1Stopped, launched2({ alive: true }), 'starting'],
  ['the earlier attempt\'s run_finished does not end the new one', [...attempt1Stopped, attempt2], launched2({ alive: true }), 'starting'],
  ['a resume that died before its first event failed, per its exit record', attempt1Stopped, launched2({ exit: exitOf({ code: 1 }) }), 'failed'],
  ['a resume gone without a trace is lost', attempt1Stopped, launched2(), 'lost'],
  ['the resumed attempt finishes', [...attempt1Stopped, attempt2, ev.training, ev.finished], launched2(), 'finished'],
  ['killed by a signal, recorded: failed', [ev.started, ev.training], { ...dead, attempt: 1, exit: exitOf({ attempt: 1, code: null, signal: 'SIGKILL' }) }, 'failed'],
  ['a deleted folder is lost, even with a live process', [ev.started, ev.training], { ...alive, deleted: true }, 'lost'],
  ['resumed by hand on the command line (no launch record): its own run_finished', [...attempt1Stopped, attempt2, ev.finished], { ...dead, attempt: 1 }, 'finished'],
];

for (const [name, events, liveness, status] of resumeTable) {
  test(`status: ${name}`, () => {
    assert.equal(deriveStatus(reduceRunEvents(EMPTY_RUN_STATE, events), liveness), status);
  });
}

test('a resumed attempt counts on from its checkpoint: progress goes back to it, never twice', () => {
  const state = reduceRunEvents(EMPTY_RUN_STATE, [...attempt1Stopped.slice(0, 2), progressAt(11), progressAt(12), ev.failed, attempt2]);
  assert.equal(state.progress?.step, 8, 'steps 9 to 12 are trained again');
  assert.equal(state.progress?.eta_s, null);
  assert.equal(state.finished, undefined);
  assert.equal(state.startedAt, 10, 'the run started with its first attempt');
  const summary = deriveSummary('r', state, launched2({ alive: true }));
  assert.deepEqual([summary.status, summary.step, summary.maxSteps, summary.attempt, summary.resumeStep], ['starting', 8, 40, 2, 8]);
  const later = reduceRunEvents(state, [ev.training, progressAt(9, 41)]);
  assert.equal(deriveSummary('r', later, launched2({ alive: true })).step, 9);

  const restarted = reduceRunEvents(EMPTY_RUN_STATE, [...attempt1Stopped, fresh2]);
  assert.equal(restarted.progress, undefined, 'a fresh start counts from zero');
  const restartedSummary = deriveSummary('r', restarted, launched2({ alive: true }));
  assert.equal(restartedSummary.resumeStep, undefined);
  assert.equal(restartedSummary.step, undefined);
});

test('the error belongs to its attempt; a checkpoint saved again is listed once', () => {
  const checkpoint = (step: number, t: number): TrainerEvent => ({ v: 1, t, type: 'checkpoint', step, path: `checkpoints/checkpoint-${step}` });
  const state = reduceRunEvents(EMPTY_RUN_STATE, [ev.started, checkpoint(4, 11), checkpoint(8, 12), ev.error, ev.failed, attempt2, checkpoint(12, 31), checkpoint(8, 32)]);
  assert.equal(state.error, undefined);
  assert.deepEqual(
    state.checkpoints.map((c) => c.path),
    ['checkpoints/checkpoint-4', 'checkpoints/checkpoint-12', 'checkpoints/checkpoint-8'],
  );
  // Single-attempt summaries keep their shape: no attempt field.
  const single = deriveSummary('r', reduceRunEvents(EMPTY_RUN_STATE, [ev.started, ev.finished]), dead);
  assert.deepEqual(Object.keys(single).sort(), ['lastEventAt', 'runId', 'startedAt', 'status']);
});

test('reasons: the signal, a full disk, out of memory, a deleted folder, a process gone without a trace', () => {
  const training = reduceRunEvents(EMPTY_RUN_STATE, [ev.started, ev.training]);
  const ended = (over: Partial<Liveness>): string | undefined => deriveSummary('r', training, { ...dead, attempt: 1, ...over }).reason;
  assert.equal(ended({ exit: exitOf({ attempt: 1, code: null, signal: 'SIGKILL' }) }), 'the trainer was killed by SIGKILL (killed by hand, or by the system when memory ran out)');
  assert.equal(
    ended({ exit: exitOf({ attempt: 1, code: 1 }), logTail: 'step 3\nTraceback (most recent call last):\n  File "x.py"\nValueError: bad shape\n' }),
    'the trainer exited with code 1 without reporting an error: ValueError: bad shape',
  );
  assert.match(
    ended({ exit: exitOf({ attempt: 1, code: 1 }), logTail: 'OSError: [Errno 28] No space left on device\n' }) ?? '',
    /^disk full: no space was left where the run folder is; free some space, then resume the run \(the trainer exited with code 1/,
  );
  assert.match(ended({ exit: exitOf({ attempt: 1, code: 1 }), logTail: '', freeBytes: 0 }) ?? '', /^disk full/);
  assert.match(ended({ exit: exitOf({ attempt: 1, code: null, signal: 'SIGKILL' }), logTail: 'MemoryError\n' }) ?? '', /^out of memory \(the trainer was killed by SIGKILL.*model\.gradient_checkpointing/);
  assert.equal(ended({ deleted: true }), 'the run folder was deleted');
  assert.match(ended({}) ?? '', /^the trainer is gone without a word/);
  // No exit record with no room left where the run folder is: too full to write it. Failed, not
  // lost, and on which host.
  const full = deriveSummary('r', training, { ...dead, attempt: 1, freeBytes: 0, host: 'gpu box' });
  assert.deepEqual(
    [full.status, full.reason],
    ['failed', 'disk full on gpu box: no space was left where the run folder is; free some space, then resume the run (not even its exit status could be written)'],
  );
  assert.equal(deriveSummary('r', training, { ...dead, attempt: 1, freeBytes: 10 * 2 ** 30 }).status, 'lost', 'a group killed with room to spare is lost');
  // The trainer's own error is in `error`; a finished or stopped run has no reason.
  const failed = deriveSummary('r', reduceRunEvents(EMPTY_RUN_STATE, [ev.started, ev.error, ev.failed]), dead);
  assert.deepEqual([failed.error, failed.reason], ['CUDA out of memory', undefined]);
  assert.equal(deriveSummary('r', reduceRunEvents(EMPTY_RUN_STATE, [ev.started, ev.stopped]), dead).reason, undefined);
});

test('the W&B run the trainer reports is in the summary, through events.jsonl as the trainer writes it', () => {
  // Raw lines as the trainer emits them (medvlm_sft/train/callbacks.py), parsed as the reader does.
  const lines = [
    { v: 1, t: 20, type: 'log', level: 'info', message: 'W&B run r-1: https://wandb.ai/lab/medvlm/runs/r-1', wandb_run_id: 'r-1', wandb_url: 'https://wandb.ai/lab/medvlm/runs/r-1' },
    { v: 1, t: 21, type: 'log', level: 'info', message: 'W&B run r-2 is offline', wandb_run_id: 'r-2' },
    { v: 1, t: 22, type: 'log', level: 'info', message: 'not a web page', wandb_run_id: 'r-3', wandb_url: 'javascript:alert(1)' },
  ];
  const events = lines.map((line) => toTrainerEvent(line)).filter((e): e is TrainerEvent => e !== undefined);
  assert.equal(events.length, 3);
  assert.equal(deriveSummary('r', reduceRunEvents(EMPTY_RUN_STATE, [ev.started]), alive).wandbUrl, undefined);
  const online = deriveSummary('r', reduceRunEvents(EMPTY_RUN_STATE, [ev.started, ...events.slice(0, 1)]), alive);
  assert.equal(online.wandbUrl, 'https://wandb.ai/lab/medvlm/runs/r-1');
  // An offline report, or a URL that is not a web page, never replaces (or becomes) the link.
  const after = deriveSummary('r', reduceRunEvents(EMPTY_RUN_STATE, [ev.started, ...events]), dead);
  assert.equal(after.wandbUrl, 'https://wandb.ai/lab/medvlm/runs/r-1');
  assert.equal(deriveSummary('r', reduceRunEvents(EMPTY_RUN_STATE, events.slice(1)), dead).wandbUrl, undefined);
});

test('a remote run whose host cannot be reached keeps its last status and says why; an ended one does not', () => {
  const state = reduceRunEvents(EMPTY_RUN_STATE, [ev.started, ev.training, ev.progress]);
  const cut: Liveness = { ...alive, unreachable: 'cannot reach gpu: Connection refused' };
  const summary = deriveSummary('r', state, cut);
  assert.equal(summary.status, 'training');
  assert.equal(summary.unreachable, 'cannot reach gpu: Connection refused');
  const ended = deriveSummary('r', reduceRunEvents(state, [ev.finished]), cut);
  assert.equal(ended.status, 'finished');
  assert.equal(ended.unreachable, undefined);
});

test('a SLURM job still in the queue reads queued, with squeue\'s reason; once it runs, its events decide', () => {
  const pending = deriveSummary('r', EMPTY_RUN_STATE, { ...alive, queued: 'Resources' });
  assert.equal(pending.status, 'queued');
  assert.equal(pending.queued, 'Resources');
  const running = deriveSummary('r', reduceRunEvents(EMPTY_RUN_STATE, [ev.started, ev.training]), alive);
  assert.equal(running.status, 'training');
  assert.equal(running.queued, undefined);
});
