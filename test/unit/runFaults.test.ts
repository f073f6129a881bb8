// Faults made for real, with the REAL trainer on a tiny random Qwen2.5-VL and the demo data
// (CPU), through the local launcher: the trainer killed by a signal, out of memory under a
// real address-space limit, a disk that fills up while checkpointing (a small tmpfs), then
// resumed runs; and the events file truncated, the run folder deleted, two watchers on one
// run. In every case the status says what happened, nothing is lost and nothing is counted
// twice. `npm test` sets MEDVLM_PYTHON; without it (or without root for the tmpfs) these
// tests fail rather than skip.

import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import {
  appendFileSync,
  closeSync,
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readFileSync,
  rmSync,
  statSync,
  truncateSync,
  writeFileSync,
} from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { readEventsFrom } from '../../src/core/eventsTail';
import { isProcessAlive, processStartTime } from '../../src/core/processAlive';
import { launchFileName, readRunInfo, runPaths, writeRunInfo } from '../../src/core/runDir';
import { readExitRecord } from '../../src/core/runEnd';
import { RunWatch } from '../../src/core/runWatch';
import { superviseCommand, TOKEN_ENV_VARS } from '../../src/core/trainerCommand';
import { resumeLocalRun, startLocalRun } from '../../src/launch/localLauncher';
import type { StartedRun } from '../../src/launch/localLauncher';
import { limitAddressSpace, mountTmpfs, processEnviron, resizeTmpfs, unmount, virtualMemoryBytes } from './helpers/faultTools';
import { repoRoot, waitFor } from './testUtil';
import {
  allEvents,
  attempts,
  filesContaining,
  finishedAttempt,
  killAfter,
  log,
  NO_EVAL,
  python,
  RUN_TIMEOUT_MS,
  trainer,
  trainerPid,
  trainSteps,
  waitForEvent,
  watch,
  writeConfig,
} from './helpers/runFaultsUtil';

let workspace = '';
/** The run folder of the killed-then-resumed run, reused by the events-file faults. */
let resumedRunDir = '';

before(() => {
  workspace = mkdtempSync(path.join(os.tmpdir(), 'medvlm-faults-'));
  mkdirSync(path.join(workspace, 'configs'));
  trainer(['make-tiny-model', path.join(workspace, 'tiny-qwen2_5_vl'), '--family', 'qwen2_5_vl']);
  trainer(['make-demo-data', path.join(workspace, 'demo-data')]);
});

after(() => {
  if (workspace) {
    unmount(path.join(workspace, 'full'));
    unmount(path.join(workspace, 'tiny'));
    rmSync(workspace, { recursive: true, force: true });
  }
});

test('kill -9 of the trainer: failed, naming SIGKILL; resumed from its checkpoint it finishes, each step once; tokens stay out of every file', async (t) => {
  const secret = `planted-${Date.now().toString(36)}-${Math.random().toString(36).slice(2)}`;
  const env = { ...process.env, ...Object.fromEntries(TOKEN_ENV_VARS.map((name) => [name, `${name}-${secret}`])) };
  const config = writeConfig(workspace, 'killed', { ...NO_EVAL, 'max_steps: 8': 'max_steps: 24', 'save_steps: 4': 'save_steps: 2' });
  const runs: StartedRun[] = [];
  killAfter(t, () => runs[0]);
  killAfter(t, () => runs[1]);
  const first = await startLocalRun({ pythonPath: python ?? '', extensionRoot: repoRoot, configPath: config, runsRoot: path.join(workspace, 'runs'), env });
  runs.push(first);
  const { runDir } = first;
  // Two watchers on the same run, from its very start.
  const watchers = [watch(t, runDir), watch(t, runDir)] as const;

  const pid = await trainerPid(first);
  for (const name of TOKEN_ENV_VARS) {
    assert.ok(processEnviron(pid).includes(`${name}=${name}-${secret}`), `${name} reaches the trainer through its environment`);
  }
  await waitForEvent(runDir, 'the first checkpoint', (e) => e.type === 'checkpoint');
  process.kill(pid, 'SIGKILL');

  const killed = await watchers[0].whenTerminal();
  assert.equal(killed.status, 'failed', `expected failed, got ${JSON.stringify(killed)}\n${log(runDir)}`);
  assert.match(killed.reason ?? '', /killed by SIGKILL/);
  assert.equal(killed.error, undefined, 'the trainer had no chance to report an error itself');
  const killedExit = await readExitRecord(runDir);
  assert.deepEqual([killedExit?.attempt, killedExit?.pid, killedExit?.code, killedExit?.signal], [1, first.pid, null, 'SIGKILL']);
  const beforeResume = await allEvents(runDir);
  const announced = Math.max(...beforeResume.flatMap((e) => (e.type === 'checkpoint' ? [e.step] : [])));

  const second = await resumeLocalRun({ pythonPath: python ?? '', extensionRoot: repoRoot, runDir, from: 'latest', env });
  runs.push(second);
  assert.equal(second.attempt, 2);
  await assert.rejects(
    resumeLocalRun({ pythonPath: python ?? '', extensionRoot: repoRoot, runDir, from: 'latest', env }),
    /is still running|is being resumed already/,
    'a run is never resumed twice at once',
  );
  const done = await finishedAttempt(watchers[0], 2);
  assert.equal(done.status, 'finished', log(runDir));

  const events = await allEvents(runDir);
  const [one, two] = attempts(events);
  assert.ok(one && two, 'two attempts in one events file');
  const started = two[0];
  assert.ok(started?.type === 'run_started');
  assert.equal(started.attempt, 2);
  assert.equal(attempts(events).length, 2);
  const resumeStep = started.resume_step ?? -1;
  assert.ok(resumeStep >= announced, `resumed from step ${resumeStep}, behind the announced checkpoint ${announced}`);
  assert.equal(one[0]?.type === 'run_started' ? one[0].attempt : undefined, 1);
  assert.deepEqual(trainSteps(two), Array.from({ length: 24 - resumeStep }, (_, i) => resumeStep + 1 + i), 'the resumed attempt trains each remaining step once');
  assert.deepEqual(done.resumeStep, resumeStep);
  assert.equal(done.step, 24);
  assert.equal(done.attempt, 2);
  assert.equal(done.reason, undefined);

  for (const w of watchers) {
    assert.deepEqual(w.events, events, 'each watcher saw every event exactly once');
    assert.equal(w.state.eventCount, events.length);
    const paths = w.state.checkpoints.map((c) => c.path);
    assert.deepEqual(paths, [...new Set(paths)], 'a checkpoint saved again is listed once');
    assert.deepEqual(w.summary, done);
  }

  // run.json still describes the first launch; the second has its own record.
  assert.equal((await readRunInfo(runDir))?.pid, first.pid);
  const launch = JSON.parse(readFileSync(path.join(runDir, launchFileName(2)), 'utf8')) as { pid: number; resume_from: string };
  assert.deepEqual([launch.pid, launch.resume_from], [second.pid, 'latest']);
  // The supervisor records the end once the trainer has exited, after its last event.
  await waitFor('the supervisor to exit', () => !isProcessAlive(second.pid), 30_000);
  const doneExit = await readExitRecord(runDir);
  assert.deepEqual([doneExit?.attempt, doneExit?.pid, doneExit?.code, doneExit?.signal], [2, second.pid, 0, null]);
  assert.match(log(runDir), /\[medvlm-studio\] attempt 2: resuming from latest/);

  assert.deepEqual(filesContaining(runDir, secret), [], 'no token value in any file of the run folder');
  resumedRunDir = runDir;
});

test('out of memory under a real address-space limit: the error says so and what to change', async (t) => {
  const config = writeConfig(workspace, 'oom', { ...NO_EVAL, 'max_steps: 8': 'max_steps: 100000' });
  const runs: StartedRun[] = [];
  killAfter(t, () => runs[0]);
  const started = await startLocalRun({ pythonPath: python ?? '', extensionRoot: repoRoot, configPath: config, runsRoot: path.join(workspace, 'runs') });
  runs.push(started);
  const w = watch(t, started.runDir);
  const pid = await trainerPid(started);
  await waitForEvent(started.runDir, 'training', (e) => e.type === 'progress');
  // Below what it already uses: the next allocation that needs new address space fails.
  limitAddressSpace(pid, virtualMemoryBytes(pid) - 64 * 1024 * 1024);

  const summary = await waitFor('the run to end', () => (w.isTerminal ? w.summary : undefined), RUN_TIMEOUT_MS);
  assert.equal(summary.status, 'failed', log(started.runDir));
  assert.match(summary.error ?? '', /^out of memory/);
  for (const advice of ['train.per_device_batch_size', 'model.max_length', 'model.gradient_checkpointing', 'model.quantization: 4bit']) {
    assert.ok(summary.error?.includes(advice), `the error mentions ${advice}: ${summary.error}`);
  }
  const events = await allEvents(started.runDir);
  const last = events.at(-1);
  assert.equal(last?.type === 'run_finished' ? last.status : last?.type, 'failed');
  assert.match(log(started.runDir), /run failed: out of memory/);
  await waitFor('the trainer to exit', () => !isProcessAlive(pid), 30_000);
});

test('disk full while checkpointing: the error names the place and the fix; the complete checkpoint resumes, the partial one is skipped', async (t) => {
  const full = path.join(workspace, 'full');
  const runs: StartedRun[] = [];
  killAfter(t, () => runs[0]);
  killAfter(t, () => runs[1]);
  // Room for the run's files, its events reserve and one checkpoint (about 470 KiB), not two.
  mountTmpfs(full, '1000k');
  t.after(() => unmount(full));
  const config = writeConfig(workspace, 'disk', { ...NO_EVAL, 'save_steps: 4': 'save_steps: 2', 'save_total_limit: 2': 'save_total_limit: null', 'max_steps: 8': 'max_steps: 6' });
  const started = await startLocalRun({ pythonPath: python ?? '', extensionRoot: repoRoot, configPath: config, runsRoot: full });
  runs.push(started);
  const { runDir } = started;
  const w = watch(t, runDir);

  const failed = await waitFor('the run to end', () => (w.isTerminal ? w.summary : undefined), RUN_TIMEOUT_MS);
  assert.equal(failed.status, 'failed', log(runDir));
  const checkpoints = path.join(runDir, 'checkpoints');
  assert.ok(
    failed.error?.startsWith(`disk full: no space left on the device holding ${path.join(checkpoints, 'checkpoint-4')} (`),
    `the error names the checkpoint being saved: ${failed.error}`,
  );
  assert.match(failed.error ?? '', /free some space there/);
  assert.match(failed.error ?? '', /--resume-from latest continues from checkpoint-2, the last complete one; the incomplete checkpoint-4 is skipped/);
  // The events file stays whole and readable to the end.
  const events = await allEvents(runDir);
  assert.deepEqual(
    events.slice(-2).map((e) => e.type),
    ['error', 'run_finished'],
  );
  assert.equal(statSync(runPaths(runDir).events).size, (await readEventsFrom(runPaths(runDir).events, 0)).cursor.offset, 'no torn line');
  assert.deepEqual(
    events.flatMap((e) => (e.type === 'checkpoint' ? [e.path] : [])),
    ['checkpoints/checkpoint-2'],
  );
  assert.ok(existsSync(path.join(checkpoints, 'checkpoint-2', 'trainer_state.json')), 'the earlier checkpoint is complete');
  assert.ok(!existsSync(path.join(checkpoints, 'checkpoint-4', 'trainer_state.json')), 'the one the disk cut short is not');
  assert.match(log(runDir), /run failed: disk full/);

  // Room again: resume from the latest complete checkpoint.
  resizeTmpfs(full, '8m');
  const resumed = await resumeLocalRun({ pythonPath: python ?? '', extensionRoot: repoRoot, runDir, from: 'latest' });
  runs.push(resumed);
  const done = await finishedAttempt(w, 2);
  assert.equal(done.status, 'finished', log(runDir));
  assert.equal(done.resumeStep, 2);
  const second = attempts(await allEvents(runDir))[1] ?? [];
  const messages = second.flatMap((e) => (e.type === 'log' ? [e.message] : []));
  assert.ok(messages.some((m) => m.startsWith('skipping checkpoint-4: it was not completely written')), messages.join('\n'));
  assert.ok(messages.includes('resuming from checkpoint-2'));
  assert.deepEqual(trainSteps(second), [3, 4, 5, 6]);
  assert.ok(existsSync(path.join(checkpoints, 'checkpoint-4', 'trainer_state.json')), 'checkpoint-4 is saved again, whole');
});

test('an events file truncated while watched is read again from the start, each event counted once', async (t) => {
  assert.ok(resumedRunDir, 'needs the killed-then-resumed run of the first test');
  const runDir = path.join(workspace, 'truncated');
  cpSync(resumedRunDir, runDir, { recursive: true });
  const file = runPaths(runDir).events;
  const whole = readFileSync(file);
  const expected = await allEvents(runDir);
  const w = watch(t, runDir);
  let resets = 0;
  const second = new RunWatch(runDir, {
    pollMs: 50,
    livenessMs: 200,
    onEvents: (_events, reset) => {
      resets += reset ? 1 : 0;
    },
  });
  t.after(() => second.dispose());
  await w.ready;
  await second.ready;
  assert.equal(w.state.eventCount, expected.length);

  // Cut it mid-line, shorter than what was read: the watcher starts over.
  truncateSync(file, Math.floor(whole.length / 3));
  await waitFor('the reset', () => w.state.eventCount < expected.length, 10_000);
  // The rest comes back (as a copy tool or a sync would write it).
  appendFileSync(file, whole.subarray(Math.floor(whole.length / 3)));
  await waitFor('every event again', () => w.state.eventCount === expected.length, 10_000);
  assert.deepEqual(w.events, expected, 'after the reset, each event is there once');
  assert.equal(w.summary.status, 'finished');
  await waitFor('the second watcher to see the reset', () => resets > 0 && second.state.eventCount === expected.length, 10_000);
});

test('a run folder deleted while watched reads as lost with that reason, and nothing throws', async (t) => {
  assert.ok(resumedRunDir, 'needs the killed-then-resumed run of the first test');
  const runDir = path.join(workspace, 'deleted');
  cpSync(resumedRunDir, runDir, { recursive: true });
  const errors: unknown[] = [];
  const w = new RunWatch(runDir, { pollMs: 50, livenessMs: 100, onError: (err) => errors.push(err) });
  t.after(() => w.dispose());
  await w.ready;
  assert.equal(w.summary.status, 'finished');

  rmSync(runDir, { recursive: true, force: true });
  const lost = await waitFor('the deletion to show', () => (w.summary.status === 'lost' ? w.summary : undefined), 10_000);
  assert.equal(lost.reason, 'the run folder was deleted');
  assert.equal(w.deleted, true);
  assert.deepEqual(w.events, [], 'its events are gone with it');
  assert.deepEqual(errors, []);
});

test('a disk too full for even the error event: the exit record and the free space still say "disk full"', async (t) => {
  const tiny = path.join(workspace, 'tiny');
  const children: number[] = [];
  t.after(() => {
    for (const pid of children) {
      try {
        process.kill(-pid, 'SIGKILL');
      } catch {
        // Gone.
      }
    }
  });
  mountTmpfs(tiny, '64k');
  t.after(() => unmount(tiny));
  const runDir = path.join(tiny, 'run');
  mkdirSync(runDir);
  // Stands in for a trainer with nothing held in reserve: it fills the disk, cannot say so, and exits 1.
  const script = 'while [ ! -e go ]; do sleep 0.05; done; head -c 1000000 /dev/zero > fill; echo "OSError: [Errno 28] No space left on device"; exit 1';
  const command = superviseCommand({ file: '/bin/sh', args: ['-c', script], env: { PATH: process.env.PATH ?? '' } }, runPaths(runDir).exitRecord, 1);
  const log = openSync(runPaths(runDir).stdoutLog, 'a');
  const child = spawn(command.file, command.args, { cwd: runDir, env: command.env, detached: true, stdio: ['ignore', log, log] });
  closeSync(log);
  const pid = child.pid ?? 0;
  children.push(pid);
  await writeRunInfo(runDir, {
    version: 1,
    run_id: 'run',
    created: new Date().toISOString(),
    config_path: path.join(workspace, 'configs', 'x.sft.yaml'),
    config_file: 'config.sft.yaml',
    target: { kind: 'local' },
    pid,
    pid_start_time: processStartTime(pid),
    trainer_version: null,
    python: '/bin/sh',
    argv: [],
  });
  const w = watch(t, runDir);
  writeFileSync(path.join(runDir, 'go'), '');

  const summary = await w.whenTerminal();
  assert.equal(summary.status, 'failed');
  assert.match(summary.reason ?? '', /^disk full: no space was left where the run folder is; free some space, then resume the run \(the trainer exited with code 1/);
  assert.equal(statSync(runPaths(runDir).stdoutLog).size, 0, 'not even its last words fitted');
  const exit = await readExitRecord(runDir);
  assert.deepEqual([exit?.attempt, exit?.pid, exit?.code], [1, pid, 1], 'the exit record was rewritten in place');
});
