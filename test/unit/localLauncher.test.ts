// The local launcher against real child processes. The trainer here is the fixture in
// test/fixtures/fakeTrainer, which speaks the events contract and handles SIGTERM like the
// real one, so these tests take seconds and need no torch; the real trainer's run test
// lives with the end-to-end tests.

import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { readEventsFrom } from '../../src/core/eventsTail';
import { isProcessAlive, processStartTime } from '../../src/core/processAlive';
import { listRuns, readRunInfo, runPaths, writeRunInfo } from '../../src/core/runDir';
import { readExitRecord } from '../../src/core/runEnd';
import { RunWatch } from '../../src/core/runWatch';
import { followRun, resumeLocalRun, startLocalRun } from '../../src/launch/localLauncher';
import { stopLocalRun } from '../../src/launch/localStop';
import type { StartedRun } from '../../src/launch/localLauncher';
import type { TrainerEvent } from '../../src/shared/events';
import { repoRoot, tempDir, waitFor } from './testUtil';

const fakeRoot = path.join(repoRoot, 'test', 'fixtures', 'fakeTrainer');
const python = 'python3';

function writeConfig(dir: string, fake: Record<string, string | number | boolean>): string {
  const file = path.join(dir, 'lung nodules.sft.yaml');
  const lines = Object.entries(fake).map(([key, value]) => `fake_${key}: ${value}`);
  writeFileSync(file, ['model:', '  base: tiny', ...lines, ''].join('\n'));
  return file;
}

async function events(runDir: string): Promise<TrainerEvent[]> {
  return (await readEventsFrom(runPaths(runDir).events, 0)).events;
}

/** Kills a run's process group at the end of a test, whatever happened. */
function cleanup(t: { after: (fn: () => void) => void }, run: () => StartedRun | undefined): void {
  t.after(() => {
    const started = run();
    if (started) {
      try {
        process.kill(-started.pid, 'SIGKILL');
      } catch {
        // Already gone.
      }
    }
  });
}

test('a run: config snapshot, run.json with pid, stdout.log, events to the end', async (t) => {
  const dir = tempDir(t);
  const config = writeConfig(dir, { steps: 4, step_s: 0.02 });
  const runsRoot = path.join(dir, 'runs');
  const seen: TrainerEvent[] = [];
  const started = await startLocalRun({ pythonPath: python, extensionRoot: fakeRoot, configPath: config, runsRoot });
  cleanup(t, () => started);
  assert.match(started.runId, /^\d{8}-\d{6}-lung-nodules$/);
  assert.equal(started.runDir, path.join(runsRoot, started.runId));

  const info = await readRunInfo(started.runDir);
  assert.ok(info);
  assert.equal(info.pid, started.pid);
  assert.equal(info.run_id, started.runId);
  assert.equal(info.config_path, config);
  assert.equal(info.config_file, 'config.sft.yaml');
  assert.deepEqual(info.target, { kind: 'local' });
  assert.equal(info.trainer_version, '0.0.0-fake');
  assert.equal(info.python, python);
  assert.deepEqual(info.argv.slice(1, 4), ['-m', 'medvlm_sft', 'train']);
  if (process.platform === 'linux') {
    assert.equal(typeof info.pid_start_time, 'number');
  }
  assert.equal(readFileSync(runPaths(started.runDir).config, 'utf8'), readFileSync(config, 'utf8'));

  const watch = followRun(started.runDir, (batch) => seen.push(...batch), { pollMs: 20, livenessMs: 50 });
  t.after(() => watch.dispose());
  const summary = await watch.whenTerminal();
  assert.equal(summary.status, 'finished');
  assert.equal(summary.step, 4);
  assert.deepEqual(
    seen.map((e) => e.type),
    ['run_started', 'phase', 'phase', ...Array(4).fill(['progress', 'metrics']).flat(), 'checkpoint', 'run_finished'],
  );
  const log = readFileSync(runPaths(started.runDir).stdoutLog, 'utf8');
  assert.match(log, /step 4\/4/);
  assert.match(log, /a line on stderr/, 'stderr goes to the same log');
  assert.match(log, /PYTHONUNBUFFERED=1/);
  // The supervisor records the exit after the trainer's last event; the run is only over then.
  const exit = await waitFor('the exit record', () => readExitRecord(started.runDir), 15_000);
  assert.equal(exit.code, 0);
});

test('the trainer survives the process that launched it, and stop reaches its whole group', async (t) => {
  const dir = tempDir(t);
  const config = writeConfig(dir, { steps: 2000, step_s: 0.02, spawn_worker: true });
  const runsRoot = path.join(dir, 'runs');
  const helper = path.join(repoRoot, 'out', 'unit', 'helpers', 'launchAndExit.js');
  const launched: { run?: StartedRun } = {};
  cleanup(t, () => launched.run);

  const child = spawn(process.execPath, [helper, JSON.stringify({ pythonPath: python, extensionRoot: fakeRoot, configPath: config, runsRoot })], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  let out = '';
  child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
  const exitCode = await new Promise<number | null>((resolve) => child.on('exit', resolve));
  assert.equal(exitCode, 0, 'the launching process exits on its own while the trainer runs');
  launched.run = JSON.parse(out) as StartedRun;
  const { pid, runDir } = launched.run;

  assert.ok(isProcessAlive(pid), 'the trainer outlives its launcher');
  const before = (await events(runDir)).length;
  await waitFor('events after the launcher exited', async () => (await events(runDir)).length > before + 5);
  if (process.platform === 'linux') {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const pgid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[2]);
    assert.equal(pgid, pid, 'the trainer leads its own process group');
  }
  const workerLine = await waitFor('the worker pid', async () =>
    (await events(runDir)).find((e) => e.type === 'log' && e.message.startsWith('worker pid ')),
  );
  const workerPid = Number(workerLine.type === 'log' ? workerLine.message.split(' ').pop() : NaN);
  assert.ok(isProcessAlive(workerPid));

  assert.equal(await stopLocalRun(runDir, { graceMs: 10_000, pollMs: 20 }), 'terminated');
  assert.equal(isProcessAlive(pid), false);
  await waitFor('the worker to get SIGTERM too', () => !isProcessAlive(workerPid), 5_000);
  const all = await events(runDir);
  const tail = all.slice(-4).map((e) => (e.type === 'log' ? `log:${e.message}` : e.type === 'run_finished' ? `finished:${e.status}` : e.type));
  assert.deepEqual(tail, ['log:received SIGTERM', 'phase', 'checkpoint', 'finished:stopped']);
  assert.equal(await stopLocalRun(runDir), 'not-running');
});

test('a stop during the trainer\'s startup waits until it handles SIGTERM: the run ends stopped, not lost', async (t) => {
  const dir = tempDir(t);
  const config = writeConfig(dir, { steps: 2000, step_s: 0.02, startup_s: 1.5 });
  const started = await startLocalRun({ pythonPath: python, extensionRoot: fakeRoot, configPath: config, runsRoot: path.join(dir, 'runs') });
  cleanup(t, () => started);
  assert.deepEqual(await events(started.runDir), [], 'still starting up');

  assert.equal(await stopLocalRun(started.runDir, { graceMs: 10_000, pollMs: 20 }), 'terminated');
  const all = await events(started.runDir);
  assert.equal(all[0]?.type, 'run_started');
  const last = all[all.length - 1];
  assert.equal(last?.type === 'run_finished' ? last.status : last?.type, 'stopped');
});

test('a trainer that ignores SIGTERM is killed after the grace period', async (t) => {
  const dir = tempDir(t);
  const config = writeConfig(dir, { steps: 2000, step_s: 0.02, ignore_sigterm: true });
  const started = await startLocalRun({ pythonPath: python, extensionRoot: fakeRoot, configPath: config, runsRoot: path.join(dir, 'runs') });
  cleanup(t, () => started);
  await waitFor('training', async () => (await events(started.runDir)).some((e) => e.type === 'progress'));

  const t0 = Date.now();
  assert.equal(await stopLocalRun(started.runDir, { graceMs: 600, pollMs: 20 }), 'killed');
  assert.ok(Date.now() - t0 >= 600, 'it waited out the grace period first');
  await waitFor('the process to die', () => !isProcessAlive(started.pid), 5_000);
  const all = await events(started.runDir);
  assert.ok(all.some((e) => e.type === 'log' && e.message === 'ignoring SIGTERM'), 'SIGTERM reached it');
  assert.ok(!all.some((e) => e.type === 'run_finished'));

  const watch = new RunWatch(started.runDir, { pollMs: 20, livenessMs: 50 });
  t.after(() => watch.dispose());
  assert.equal((await watch.whenTerminal()).status, 'lost');
});

test('a run killed with SIGKILL shows as lost; a live one shows its phase', async (t) => {
  const dir = tempDir(t);
  const config = writeConfig(dir, { steps: 2000, step_s: 0.02 });
  const started = await startLocalRun({ pythonPath: python, extensionRoot: fakeRoot, configPath: config, runsRoot: path.join(dir, 'runs') });
  cleanup(t, () => started);
  const watch = new RunWatch(started.runDir, { pollMs: 20, livenessMs: 50 });
  t.after(() => watch.dispose());
  await waitFor('the training phase', () => watch.summary.status === 'training' && (watch.summary.step ?? 0) > 2);

  process.kill(-started.pid, 'SIGKILL');
  const summary = await watch.whenTerminal();
  assert.equal(summary.status, 'lost');
  assert.ok((summary.step ?? 0) > 2);
});

test('a failed run reports the first line of its error', async (t) => {
  const dir = tempDir(t);
  const config = writeConfig(dir, { steps: 2, step_s: 0.01, fail: 'CUDA out of memory' });
  const started = await startLocalRun({ pythonPath: python, extensionRoot: fakeRoot, configPath: config, runsRoot: path.join(dir, 'runs') });
  cleanup(t, () => started);
  const watch = followRun(started.runDir, () => undefined, { pollMs: 20, livenessMs: 50 });
  t.after(() => watch.dispose());
  const summary = await watch.whenTerminal();
  assert.equal(summary.status, 'failed');
  assert.equal(summary.error, 'CUDA out of memory');
});

test('an interpreter that does not exist fails the launch with a clear message', async (t) => {
  const dir = tempDir(t);
  const config = writeConfig(dir, {});
  await assert.rejects(
    startLocalRun({ pythonPath: path.join(dir, 'no-python'), extensionRoot: fakeRoot, configPath: config, runsRoot: path.join(dir, 'runs') }),
    /could not start the trainer with .*no-python/,
  );
  assert.deepEqual(await listRuns(path.join(dir, 'runs')), [], 'no half-made run folder is left to show up as lost');
});

test('a config for a remote target is refused before anything is created', async (t) => {
  const dir = tempDir(t);
  const config = path.join(dir, 'remote.sft.yaml');
  writeFileSync(config, 'launch:\n  target: cluster\n');
  await assert.rejects(
    startLocalRun({ pythonPath: python, extensionRoot: fakeRoot, configPath: config, runsRoot: path.join(dir, 'runs') }),
    /launch.target is "cluster"/,
  );
  assert.equal(existsSync(path.join(dir, 'runs')), false);
});

test('stop never signals a process that is not the trainer, whatever run.json says', async (t) => {
  const dir = tempDir(t);
  const bystander = spawn('sleep', ['30'], { stdio: 'ignore' });
  t.after(() => bystander.kill('SIGKILL'));
  const pid = bystander.pid ?? 0;
  await writeRunInfo(dir, {
    version: 1,
    run_id: 'planted',
    created: new Date().toISOString(),
    config_path: '/x.sft.yaml',
    config_file: 'config.sft.yaml',
    target: { kind: 'local' },
    pid,
    pid_start_time: processStartTime(pid),
    trainer_version: null,
    python: 'python3',
    argv: [],
  });
  assert.equal(await stopLocalRun(dir, { graceMs: 100, pollMs: 20 }), process.platform === 'linux' ? 'not-running' : 'terminated');
  if (process.platform === 'linux') {
    assert.ok(isProcessAlive(pid), 'the bystander was left alone');
  }
});

test('a stopped run resumes in its own folder: attempt 2 from its checkpoint, running again, and stop reaches it', async (t) => {
  const dir = tempDir(t);
  const config = writeConfig(dir, { steps: 2000, step_s: 0.02 });
  const runs: StartedRun[] = [];
  cleanup(t, () => runs[0]);
  cleanup(t, () => runs[1]);
  const first = await startLocalRun({ pythonPath: python, extensionRoot: fakeRoot, configPath: config, runsRoot: path.join(dir, 'runs') });
  runs.push(first);
  const { runDir } = first;
  const watch = new RunWatch(runDir, { pollMs: 20, livenessMs: 50 });
  t.after(() => watch.dispose());
  await waitFor('training', () => watch.summary.status === 'training' && (watch.summary.step ?? 0) > 2);
  assert.equal(await stopLocalRun(runDir, { graceMs: 10_000, pollMs: 20 }), 'terminated');
  const stopped = await watch.whenTerminal();
  assert.equal(stopped.status, 'stopped');
  const checkpoint = (await events(runDir)).filter((e) => e.type === 'checkpoint').pop();
  assert.ok(checkpoint?.type === 'checkpoint');

  const second = await resumeLocalRun({ pythonPath: python, extensionRoot: fakeRoot, runDir, from: 'latest' });
  runs.push(second);
  assert.deepEqual([second.runId, second.runDir, second.attempt], [first.runId, runDir, 2]);
  assert.notEqual(second.pid, first.pid);
  const running = await waitFor('running again', () => (watch.summary.status === 'training' && (watch.summary.step ?? 0) > checkpoint.step ? watch.summary : undefined));
  assert.deepEqual([running.attempt, running.resumeStep], [2, checkpoint.step]);
  await assert.rejects(resumeLocalRun({ pythonPath: python, extensionRoot: fakeRoot, runDir, from: 'latest' }), /is still running \(pid \d+\)/);

  assert.equal(await stopLocalRun(runDir, { graceMs: 10_000, pollMs: 20 }), 'terminated', 'stop finds the new attempt');
  assert.equal(isProcessAlive(second.pid), false);
  await waitFor('stopped again', () => watch.summary.status === 'stopped' && watch.summary.attempt === 2);
  const all = await events(runDir);
  const started = all.filter((e) => e.type === 'run_started');
  assert.deepEqual(
    started.map((e) => (e.type === 'run_started' ? [e.attempt, e.resume_step] : [])),
    [
      [1, null],
      [2, checkpoint.step],
    ],
  );
  const steps = all.flatMap((e) => (e.type === 'progress' ? [e.step] : []));
  const resumedAt = steps.indexOf(checkpoint.step + 1, steps.indexOf(checkpoint.step) + 1);
  assert.ok(resumedAt > 0, 'the second attempt counts on from the checkpoint');
  assert.equal((await readRunInfo(runDir))?.pid, first.pid, 'run.json still describes the first launch');
  const exit = await readExitRecord(runDir);
  assert.deepEqual([exit?.attempt, exit?.pid, exit?.code], [2, second.pid, 0]);
});

test('a stop while a resumed trainer starts up waits for its own first event, not the earlier attempt\'s', async (t) => {
  const dir = tempDir(t);
  // Enough steps after the checkpoint that the stop lands while the resumed attempt trains.
  const config = writeConfig(dir, { steps: 60, step_s: 0.01, startup_s: 1.5 });
  const runs: StartedRun[] = [];
  cleanup(t, () => runs[0]);
  cleanup(t, () => runs[1]);
  const first = await startLocalRun({ pythonPath: python, extensionRoot: fakeRoot, configPath: config, runsRoot: path.join(dir, 'runs') });
  runs.push(first);
  const watch = new RunWatch(first.runDir, { pollMs: 20, livenessMs: 50 });
  t.after(() => watch.dispose());
  assert.equal((await watch.whenTerminal()).status, 'finished');
  await waitFor('the first supervisor to exit', () => !isProcessAlive(first.pid), 5_000);

  const second = await resumeLocalRun({ pythonPath: python, extensionRoot: fakeRoot, runDir: first.runDir, from: 'checkpoints/checkpoint-1' });
  runs.push(second);
  assert.equal(await stopLocalRun(first.runDir, { graceMs: 10_000, pollMs: 20 }), 'terminated');
  const all = await events(first.runDir);
  const last = all.at(-1);
  assert.equal(last?.type === 'run_finished' ? last.status : last?.type, 'stopped', 'it handled the stop, rather than dying of it');
  const resumed = all.filter((e) => e.type === 'run_started').pop();
  assert.equal(resumed?.type === 'run_started' ? resumed.resume_step : undefined, 1, 'a folder relative to the run folder');
  await waitFor('stopped', () => watch.summary.status === 'stopped' && watch.summary.attempt === 2);
});

test('a trainer killed by a signal reads as failed, naming the signal, after any reload', async (t) => {
  const dir = tempDir(t);
  const config = writeConfig(dir, { steps: 2000, step_s: 0.02 });
  const started = await startLocalRun({ pythonPath: python, extensionRoot: fakeRoot, configPath: config, runsRoot: path.join(dir, 'runs') });
  cleanup(t, () => started);
  await waitFor('training', async () => (await events(started.runDir)).some((e) => e.type === 'progress'));
  const trainer = Number(readFileSync(`/proc/${started.pid}/task/${started.pid}/children`, 'utf8').trim().split(' ')[0]);
  process.kill(trainer, 'SIGKILL');
  await waitFor('the supervisor to exit', () => !isProcessAlive(started.pid), 5_000);
  // A watch started afterwards (a window reloaded) still knows how it ended.
  const watch = new RunWatch(started.runDir, { pollMs: 20, livenessMs: 50 });
  t.after(() => watch.dispose());
  const summary = await watch.whenTerminal();
  assert.equal(summary.status, 'failed');
  assert.match(summary.reason ?? '', /^the trainer was killed by SIGKILL/);
});

test('resume refuses what it cannot resume', async (t) => {
  const dir = tempDir(t);
  await assert.rejects(resumeLocalRun({ pythonPath: python, extensionRoot: fakeRoot, runDir: dir, from: 'latest' }), /has no readable run.json/);
  const config = writeConfig(dir, { steps: 1, step_s: 0.01 });
  const started = await startLocalRun({ pythonPath: python, extensionRoot: fakeRoot, configPath: config, runsRoot: path.join(dir, 'runs') });
  cleanup(t, () => started);
  await waitFor('the run to end', () => !isProcessAlive(started.pid), 10_000);
  await assert.rejects(
    resumeLocalRun({ pythonPath: path.join(dir, 'no-python'), extensionRoot: fakeRoot, runDir: started.runDir, from: 'latest' }),
    /could not start the trainer with .*no-python/,
  );
  writeFileSync(runPaths(started.runDir).config, 'launch:\n  target: cluster\n');
  await assert.rejects(resumeLocalRun({ pythonPath: python, extensionRoot: fakeRoot, runDir: started.runDir, from: 'latest' }), /launch.target is "cluster"/);
  assert.deepEqual(
    readdirSync(started.runDir).filter((name) => name.startsWith('launch-')),
    [],
    'a refused resume leaves no claim behind',
  );
});
