import assert from 'node:assert/strict';
import path from 'node:path';
import { test } from 'node:test';
import { buildTrainerCommand, DEFAULT_LAUNCH, readLaunchOptions, trainerEnv } from '../../src/core/trainerCommand';

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
