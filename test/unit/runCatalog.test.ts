// The run catalog (the registry behind the Runs view) on real run folders in a temp dir:
// rebuilt from the folders, following a live run to its end, and a run folder deleted while a
// panel follows it.

import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { appendFileSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { processStartTime } from '../../src/core/processAlive';
import { RunCatalog, REMOVED_REASON } from '../../src/core/runCatalog';
import type { RunEnded, RunCatalogOptions } from '../../src/core/runCatalog';
import { claimLaunch, runPaths, writeLaunchRecord, writeRunInfo } from '../../src/core/runDir';
import { writeRemoteState } from '../../src/core/runEnd';
import { RunWatch } from '../../src/core/runWatch';
import type { TrainerEvent } from '../../src/shared/events';
import type { RunSummary } from '../../src/shared/runStatus';
import { tempDir, waitFor } from './testUtil';

type TestContext = { after: (fn: () => void) => void };

const ev = {
  started: { v: 1, t: 10, type: 'run_started', run_id: 'r', trainer_version: '0.1.0', world_size: 1, config: {} },
  training: { v: 1, t: 11, type: 'phase', phase: 'training' },
  progress: { v: 1, t: 12, type: 'progress', step: 2, max_steps: 8, epoch: 0.25, samples_per_s: 4, eta_s: 30 },
  checkpoint: { v: 1, t: 13, type: 'checkpoint', step: 2, path: 'checkpoints/checkpoint-2' },
  finished: { v: 1, t: 14, type: 'run_finished', status: 'finished' },
} satisfies Record<string, TrainerEvent>;
const stopped: TrainerEvent = { ...ev.finished, status: 'stopped' };

/** A process that stays alive until the test ends: the "trainer" of a live run. */
function liveProcess(t: TestContext): ChildProcess & { pid: number } {
  const child = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 120000)'], { stdio: 'ignore' });
  t.after(() => child.kill('SIGKILL'));
  assert.ok(child.pid);
  return child as ChildProcess & { pid: number };
}

async function writeRun(
  root: string,
  runId: string,
  options: { events?: readonly TrainerEvent[]; pid?: number | null; runJson?: boolean } = {},
): Promise<string> {
  const runDir = path.join(root, runId);
  mkdirSync(runDir, { recursive: true });
  if (options.runJson ?? true) {
    const pid = options.pid ?? null;
    await writeRunInfo(runDir, {
      version: 1,
      run_id: runId,
      created: new Date().toISOString(),
      config_path: path.join(root, '..', 'lung.sft.yaml'),
      config_file: 'config.sft.yaml',
      target: { kind: 'local' },
      pid,
      pid_start_time: pid === null ? null : processStartTime(pid),
      trainer_version: '0.1.0',
      python: 'python3',
      argv: ['python3', '-m', 'medvlm_sft', 'train'],
    });
  }
  if (options.events) {
    appendEvents(runDir, options.events);
  }
  return runDir;
}

function appendEvents(runDir: string, events: readonly TrainerEvent[]): void {
  appendFileSync(runPaths(runDir).events, events.map((e) => `${JSON.stringify(e)}\n`).join(''));
}

function completeCheckpoint(runDir: string, name: string): void {
  const dir = path.join(runDir, 'checkpoints', name);
  mkdirSync(dir, { recursive: true });
  writeFileSync(path.join(dir, 'trainer_state.json'), '{"global_step": 2}');
  writeFileSync(path.join(dir, 'adapter_model.safetensors'), '');
  writeFileSync(path.join(dir, 'adapter_config.json'), '{}');
}

function catalogFor(t: TestContext, root: string, extra: Partial<RunCatalogOptions> = {}): RunCatalog {
  const catalog = new RunCatalog({ root: () => root, watch: { pollMs: 20, livenessMs: 50 }, ...extra });
  t.after(() => catalog.dispose());
  return catalog;
}

test('the catalog is rebuilt from the run folders: ended, lost and half-written runs all appear', async (t) => {
  const root = path.join(tempDir(t), 'runs');
  const finished = await writeRun(root, '20260101-000001-a', { events: [ev.started, ev.training, ev.progress, ev.checkpoint, ev.finished] });
  completeCheckpoint(finished, 'checkpoint-2');
  await writeRun(root, '20260101-000002-b', { events: [ev.started, ev.training] });
  await writeRun(root, '20260101-000003-c', { runJson: false });
  const catalog = catalogFor(t, root);
  await catalog.refresh();

  const byId = new Map(catalog.list().map((r) => [r.runId, r]));
  assert.equal(byId.size, 3);
  assert.equal(byId.get('20260101-000001-a')?.summary.status, 'finished');
  assert.equal(byId.get('20260101-000001-a')?.summary.step, 2);
  assert.deepEqual(
    byId.get('20260101-000001-a')?.artifacts.checkpoints.map((c) => [c.name, c.step, c.complete, c.adapter]),
    [['checkpoint-2', 2, true, true]],
  );
  // Its process (none recorded) is gone and it never reported an end.
  assert.equal(byId.get('20260101-000002-b')?.summary.status, 'lost');
  // No run.json yet, and young: a launch in progress.
  assert.equal(byId.get('20260101-000003-c')?.summary.status, 'starting');
  assert.equal(byId.get('20260101-000001-a')?.info?.config_path, path.join(root, '..', 'lung.sft.yaml'));
  assert.equal(byId.get('20260101-000001-a')?.removed, false);
});

test('a live run is re-attached on a fresh scan and announced once when it ends; old runs announce nothing', async (t) => {
  const root = path.join(tempDir(t), 'runs');
  const trainer = liveProcess(t);
  const live = await writeRun(root, '20260101-000010-live', { pid: trainer.pid, events: [ev.started, ev.training, ev.progress] });
  await writeRun(root, '20260101-000009-old', { events: [ev.started, ev.finished] });
  const ended: RunEnded[] = [];
  const catalog = catalogFor(t, root, { onEnd: (e) => ended.push(e) });
  await catalog.refresh();
  assert.equal(catalog.get('20260101-000010-live')?.summary.status, 'training');

  // The trainer saves a checkpoint: the catalog picks up the folder along with the event.
  completeCheckpoint(live, 'checkpoint-2');
  appendEvents(live, [ev.checkpoint]);
  await waitFor('the checkpoint in the artifacts', () => catalog.get('20260101-000010-live')?.artifacts.checkpoints.length === 1);

  appendEvents(live, [ev.finished]);
  await waitFor('the end of the live run', () => ended.length > 0);
  assert.deepEqual(
    ended.map((e) => [e.runId, e.summary.status]),
    [['20260101-000010-live', 'finished']],
  );
  await catalog.refresh();
  assert.equal(ended.length, 1);
});

test('a run folder deleted while a panel follows it stays as a removed record until the panel lets go', async (t) => {
  const root = path.join(tempDir(t), 'runs');
  const trainer = liveProcess(t);
  const runDir = await writeRun(root, '20260101-000020-doomed', { pid: trainer.pid, events: [ev.started, ev.training] });
  const ended: RunEnded[] = [];
  const catalog = catalogFor(t, root, { onEnd: (e) => ended.push(e) });
  await catalog.refresh();

  const seen: TrainerEvent[] = [];
  const summaries: RunSummary[] = [];
  const unsubscribe = catalog.subscribe('20260101-000020-doomed', { onEvents: (e) => seen.push(...e), onSummary: (s) => summaries.push(s) });
  assert.deepEqual(
    seen.map((e) => e.type),
    ['run_started', 'phase'],
  );
  assert.equal(summaries.at(-1)?.status, 'training');

  rmSync(runDir, { recursive: true, force: true });
  await catalog.refresh();
  assert.deepEqual(catalog.list(), []);
  const removed = catalog.get('20260101-000020-doomed');
  assert.ok(removed);
  assert.equal(removed.removed, true);
  assert.equal(removed.summary.status, 'lost');
  assert.equal(removed.summary.reason, REMOVED_REASON);
  assert.deepEqual(summaries.at(-1), removed.summary);
  assert.equal(catalog.hasSubscribers('20260101-000020-doomed'), true);
  // Its watch may have seen the folder go before the scan did; then it ended as lost, saying why.
  for (const e of ended) {
    assert.deepEqual([e.summary.status, e.summary.reason], ['lost', REMOVED_REASON]);
  }

  // A second subscriber (the panel reopened) gets the last summary, and nothing throws.
  const late: RunSummary[] = [];
  const unsubscribeLate = catalog.subscribe('20260101-000020-doomed', { onEvents: () => undefined, onSummary: (s) => late.push(s) });
  assert.equal(late.at(-1)?.status, 'lost');
  unsubscribeLate();
  unsubscribe();
  assert.equal(catalog.get('20260101-000020-doomed'), undefined);
  assert.equal(catalog.hasSubscribers('20260101-000020-doomed'), false);
  await catalog.refresh();
});

test('a deleted ended run keeps its outcome for its panel; one nobody follows just goes', async (t) => {
  const root = path.join(tempDir(t), 'runs');
  const followed = await writeRun(root, '20260101-000030-followed', { events: [ev.started, ev.finished] });
  const unfollowed = await writeRun(root, '20260101-000031-unfollowed', { events: [ev.started, ev.finished] });
  const catalog = catalogFor(t, root);
  await catalog.refresh();
  const summaries: RunSummary[] = [];
  const unsubscribe = catalog.subscribe('20260101-000030-followed', { onEvents: () => undefined, onSummary: (s) => summaries.push(s) });

  rmSync(followed, { recursive: true, force: true });
  rmSync(unfollowed, { recursive: true, force: true });
  await catalog.refresh();
  assert.equal(catalog.get('20260101-000031-unfollowed'), undefined);
  assert.equal(catalog.get('20260101-000030-followed')?.summary.status, 'finished');
  assert.equal(catalog.get('20260101-000030-followed')?.removed, true);
  assert.deepEqual(catalog.get('20260101-000030-followed')?.artifacts, { checkpoints: [], merged: [] });

  // The folder comes back (restored from the trash): a fresh record, the old panel keeps its own.
  await writeRun(root, '20260101-000030-followed', { events: [ev.started, ev.finished] });
  await catalog.refresh();
  assert.equal(catalog.get('20260101-000030-followed')?.removed, false);
  unsubscribe();
  assert.equal(catalog.get('20260101-000030-followed')?.removed, false);
});

test('rewatch follows a resumed run again: its new attempt runs and its end is announced', async (t) => {
  const root = path.join(tempDir(t), 'runs');
  const runDir = await writeRun(root, '20260101-000040-resumed', { events: [ev.started, ev.training, stopped] });
  const ended: RunEnded[] = [];
  const catalog = catalogFor(t, root, { onEnd: (e) => ended.push(e) });
  await catalog.refresh();
  assert.equal(catalog.get('20260101-000040-resumed')?.summary.status, 'stopped');

  // What resumeLocalRun leaves behind: a launch record naming the new attempt's process.
  const trainer = liveProcess(t);
  await claimLaunch(runDir, 2);
  await writeLaunchRecord(runDir, {
    version: 1,
    attempt: 2,
    created: new Date().toISOString(),
    pid: trainer.pid,
    pid_start_time: processStartTime(trainer.pid),
    resume_from: 'latest',
    events_offset: 0,
    python: 'python3',
    argv: ['python3', '-m', 'medvlm_sft', 'train'],
  });
  await catalog.rewatch('20260101-000040-resumed');
  assert.equal(catalog.get('20260101-000040-resumed')?.summary.status, 'starting');
  appendEvents(runDir, [{ ...ev.started, attempt: 2, resume_step: 2 }, ev.training]);
  await waitFor('the resumed attempt training', () => catalog.get('20260101-000040-resumed')?.summary.status === 'training');
  appendEvents(runDir, [ev.finished]);
  await waitFor('the end of the resumed attempt', () => ended.length > 0);
  assert.deepEqual(
    ended.map((e) => [e.runId, e.summary.status]),
    [['20260101-000040-resumed', 'finished']],
  );
});

test('rewatch with a panel open: the panel gets each later event once, none of the earlier ones again', async (t) => {
  const root = path.join(tempDir(t), 'runs');
  const runDir = await writeRun(root, '20260101-000045-panel', { events: [ev.started, ev.training, stopped] });
  const catalog = catalogFor(t, root);
  await catalog.refresh();
  const seen: TrainerEvent[] = [];
  const unsubscribe = catalog.subscribe('20260101-000045-panel', { onEvents: (e) => seen.push(...e), onSummary: () => undefined });
  t.after(unsubscribe);
  // Its watch was released when the scan found it ended; subscribing starts one again.
  await waitFor('the events so far', () => seen.length === 3);

  appendEvents(runDir, [ev.started]);
  await catalog.rewatch('20260101-000045-panel');
  // A panel opened meanwhile gets the whole history, once.
  const late: TrainerEvent[] = [];
  const unsubscribeLate = catalog.subscribe('20260101-000045-panel', { onEvents: (e) => late.push(...e), onSummary: () => undefined });
  t.after(unsubscribeLate);
  appendEvents(runDir, [ev.training, ev.progress]);
  await waitFor('the new events', () => seen.length === 6 && late.length === 6);
  const types = ['run_started', 'phase', 'run_finished', 'run_started', 'phase', 'progress'];
  assert.deepEqual(
    seen.map((e) => e.type),
    types,
  );
  assert.deepEqual(
    late.map((e) => e.type),
    types,
  );
});

test('a scan finds merged models and rescanning picks up a merge done meanwhile', async (t) => {
  const root = path.join(tempDir(t), 'runs');
  const runDir = await writeRun(root, '20260101-000050-m', { events: [ev.started, ev.checkpoint, ev.finished] });
  completeCheckpoint(runDir, 'checkpoint-2');
  const catalog = catalogFor(t, root);
  await catalog.refresh();
  assert.deepEqual(catalog.get('20260101-000050-m')?.artifacts.merged, []);
  mkdirSync(path.join(runDir, 'merged'));
  await catalog.rescanArtifacts('20260101-000050-m');
  assert.deepEqual(catalog.get('20260101-000050-m')?.artifacts.merged, [path.join(runDir, 'merged')]);
});

test('a remote run read from its mirror folder: queued, unreachable without being lost, and a killed SLURM job failed by its exit record', async (t) => {
  const root = tempDir(t);
  const runDir = path.join(root, 'remote-run');
  mkdirSync(runDir);
  await writeRunInfo(runDir, {
    version: 1,
    run_id: 'remote-run',
    created: new Date().toISOString(),
    config_path: path.join(root, 'lung.sft.yaml'),
    config_file: 'config.sft.yaml',
    target: { kind: 'ssh', name: 'cluster', host: 'login', run_dir: '/scratch/runs/remote-run', work_folder: '~/medvlm', job_id: '42' },
    pid: null,
    pid_start_time: null,
    trainer_version: '0.1.0',
    python: '/env/bin/python',
    argv: ['sbatch', '/scratch/runs/remote-run/job.sh'],
  });
  const summaryNow = async (): Promise<RunSummary> => {
    const watch = new RunWatch(runDir, { livenessMs: 60_000 });
    try {
      await watch.ready;
      return watch.summary;
    } finally {
      watch.dispose();
    }
  };
  await writeRemoteState(runDir, { version: 1, t: 1, alive: true, queued: 'Priority' });
  assert.deepEqual([(await summaryNow()).status, (await summaryNow()).queued], ['queued', 'Priority']);
  appendEvents(runDir, [ev.started, ev.training, ev.progress]);
  await writeRemoteState(runDir, { version: 1, t: 2, alive: null, unreachable: 'cannot reach login: Connection refused' });
  const cut = await summaryNow();
  assert.equal(cut.status, 'training');
  assert.equal(cut.unreachable, 'cannot reach login: Connection refused');
  // The job was killed (scancel --signal=KILL, the OOM killer): the supervisor's record says so.
  writeFileSync(runPaths(runDir).exitRecord, `${JSON.stringify({ v: 1, attempt: 1, pid: 777, code: null, signal: 'SIGKILL', t: 3 })}\n`);
  await writeRemoteState(runDir, { version: 1, t: 3, alive: false });
  const ended = await summaryNow();
  assert.equal(ended.status, 'failed');
  assert.match(ended.reason ?? '', /killed by SIGKILL/);
});
