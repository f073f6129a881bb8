import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { readExitRecord } from '../../src/core/runEnd';
import type { ExitRecord } from '../../src/core/runEnd';
import { buildTrainerCommand, DEFAULT_LAUNCH, readLaunchOptions, superviseCommand, TOKEN_ENV_VARS, trainerEnv } from '../../src/core/trainerCommand';
import { tempDir, waitFor } from './testUtil';

const run = '/ws/.medvlm/runs/20261127-120000-demo';

test('single process: python -m medvlm_sft train on the snapshot', () => {
  const command = buildTrainerCommand({
    python: '/env/bin/python',
    extensionRoot: '/ext',
    runDir: run,
    runId: '20261127-120000-demo',
    configDir: '/ws/configs',
    launch: DEFAULT_LAUNCH,
    baseEnv: { PATH: '/usr/bin', PYTHONPATH: '/user/lib' },
  });
  assert.equal(command.file, '/env/bin/python');
  assert.deepEqual(command.args, ['-m', 'medvlm_sft', 'train', path.join(run, 'config.sft.yaml'), '--run-dir', run, '--run-id', '20261127-120000-demo', '--base-dir', '/ws/configs']);
  assert.equal(command.env.PYTHONPATH, `/ext/python/src${path.delimiter}/user/lib`);
  assert.equal(command.env.PYTHONUNBUFFERED, '1');
  assert.equal(command.env.PATH, '/usr/bin');
  assert.equal(command.env.CUDA_VISIBLE_DEVICES, undefined);
});

test('several processes go through accelerate, on the chosen GPUs', () => {
  const command = buildTrainerCommand({
    python: '/env/bin/python',
    extensionRoot: '/ext',
    runDir: run,
    runId: 'id',
    configDir: '/ws/configs',
    launch: { target: 'local', numProcesses: 4, gpus: [0, 1, 2, 3] },
    baseEnv: {},
  });
  assert.deepEqual(command.args, [
    '-m',
    'accelerate.commands.launch',
    '--multi_gpu',
    '--num_processes',
    '4',
    '--num_machines',
    '1',
    '-m',
    'medvlm_sft',
    'train',
    path.join(run, 'config.sft.yaml'),
    '--run-dir',
    run,
    '--run-id',
    'id',
    '--base-dir',
    '/ws/configs',
  ]);
  assert.equal(command.env.CUDA_VISIBLE_DEVICES, '0,1,2,3');
  assert.equal(command.env.PYTHONPATH, '/ext/python/src');
});

test('launch options are read tolerantly from the config text', () => {
  assert.deepEqual(readLaunchOptions('model: {base: x}\n'), DEFAULT_LAUNCH);
  assert.deepEqual(readLaunchOptions('launch:\n  num_processes: 2\n  gpus: [1, 3]\n'), { target: 'local', numProcesses: 2, gpus: [1, 3] });
  assert.deepEqual(readLaunchOptions('launch:\n  target: cluster\n'), { target: 'cluster', numProcesses: 1, gpus: null });
  assert.deepEqual(readLaunchOptions('launch:\n  num_processes: two\n  gpus: all\n'), DEFAULT_LAUNCH);
  assert.deepEqual(readLaunchOptions(': : not yaml ['), DEFAULT_LAUNCH);
});

test('trainerEnv drops undefined values and keeps the rest', () => {
  const env = trainerEnv('/ext', { A: 'a', B: undefined });
  assert.deepEqual(env, { A: 'a', PYTHONPATH: '/ext/python/src', PYTHONUNBUFFERED: '1' });
});

test('a resume passes --resume-from and --attempt; tokens stay in the environment', () => {
  const command = buildTrainerCommand({
    python: '/env/bin/python',
    extensionRoot: '/ext',
    runDir: run,
    runId: 'id',
    configDir: '/ws/configs',
    launch: DEFAULT_LAUNCH,
    baseEnv: { HF_TOKEN: 'hf_secret', WANDB_API_KEY: 'wandb_secret', HUGGING_FACE_HUB_TOKEN: 'hub_secret' },
    resumeFrom: 'latest',
    attempt: 3,
  });
  assert.deepEqual(command.args.slice(-4), ['--resume-from', 'latest', '--attempt', '3']);
  for (const name of TOKEN_ENV_VARS) {
    assert.ok(command.env[name]?.endsWith('_secret'), `${name} reaches the trainer`);
  }
  const supervised = superviseCommand(command, '/run/exit.json', 3);
  assert.equal(supervised.file, '/bin/sh');
  assert.deepEqual(supervised.args.slice(2, 6), ['medvlm-supervisor', '/run/exit.json', '3', '/env/bin/python']);
  assert.deepEqual(supervised.args.slice(6), command.args);
  assert.ok(!JSON.stringify(supervised.args).includes('_secret'), 'never on the command line');
});

/** Runs `script` under the supervisor in its own process group; its exit record once it has ended. */
async function supervise(t: { after: (fn: () => void) => void }, script: string, during?: (pid: number) => void): Promise<ExitRecord | undefined> {
  const dir = tempDir(t);
  const exitFile = path.join(dir, 'exit.json');
  // A script that must be ready before `during` acts (its trap set) touches $READY.
  const ready = path.join(dir, 'ready');
  const command = superviseCommand({ file: '/bin/sh', args: ['-c', script], env: { PATH: process.env.PATH ?? '', READY: ready } }, exitFile, 4);
  const child = spawn(command.file, command.args, { env: command.env, detached: true, stdio: 'ignore' });
  const pid = child.pid ?? 0;
  t.after(() => {
    try {
      process.kill(-pid, 'SIGKILL');
    } catch {
      // Gone.
    }
  });
  const exited = new Promise((resolve) => child.on('exit', resolve));
  if (during) {
    await waitFor('the running record', () => existsSync(exitFile) && readFileSync(exitFile, 'utf8').includes('"running":true'));
    assert.equal(await readExitRecord(dir), undefined, 'no exit while it runs');
    if (script.includes('$READY')) await waitFor('the child to be ready', () => existsSync(ready));
    during(pid);
  }
  await exited;
  const record = await readExitRecord(dir);
  assert.equal(record?.pid, pid, 'the record names the supervisor, the pid the launcher records');
  assert.equal(readFileSync(exitFile, 'utf8').length, 241, 'one padded line, rewritten in place');
  return record;
}

test('the supervisor records an exit code, a death by signal, and passes a group stop on to its child', async (t) => {
  assert.deepEqual(pick(await supervise(t, 'exit 3')), [4, 3, null]);
  assert.deepEqual(pick(await supervise(t, 'kill -9 $$')), [4, null, 'SIGKILL']);
  // A stop sent to the whole group: the supervisor outlives it and the trainer gets it.
  // ($READY: a signal that lands between the supervisor's fork and the child's exec runs the
  // supervisor's own trap in the child and is gone, so the test waits for the child to run.)
  assert.deepEqual(pick(await supervise(t, ': > "$READY"; sleep 30', (pid) => process.kill(-pid, 'SIGTERM'))), [4, null, 'SIGTERM']);
  assert.deepEqual(pick(await supervise(t, 'trap "exit 0" TERM; : > "$READY"; sleep 30 & wait', (pid) => process.kill(-pid, 'SIGTERM'))), [4, 0, null]);
});

function pick(record: ExitRecord | undefined): unknown[] {
  return [record?.attempt, record?.code, record?.signal];
}
