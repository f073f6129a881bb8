// The local launcher with the REAL trainer (transformers + TRL + PEFT on a tiny random
// Qwen2.5-VL, CPU): a run started from a config outside the run folder finishes with a
// falling loss, and a stop makes the trainer write a checkpoint before it exits.
// `npm test` sets MEDVLM_PYTHON to the project's environment; without it this test fails
// rather than skip, since it is the host's only check against the real trainer.

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { readEventsFrom } from '../../src/core/eventsTail';
import { runPaths } from '../../src/core/runDir';
import { followRun, startLocalRun } from '../../src/launch/localLauncher';
import { stopLocalRun } from '../../src/launch/localStop';
import type { StartedRun } from '../../src/launch/localLauncher';
import type { TrainerEvent } from '../../src/shared/events';
import { repoRoot, waitFor } from './testUtil';

const python = process.env.MEDVLM_PYTHON;
let workspace = '';

function trainer(args: string[]): void {
  assert.ok(python, 'MEDVLM_PYTHON must name the trainer environment (npm test sets it)');
  const result = spawnSync(python, ['-m', 'medvlm_sft', ...args], {
    env: { ...process.env, PYTHONPATH: path.join(repoRoot, 'python', 'src') },
    encoding: 'utf8',
  });
  assert.equal(result.status, 0, `medvlm_sft ${args.join(' ')} failed:\n${result.stderr}`);
}

function writeConfig(name: string, maxSteps: number): string {
  const demo = readFileSync(path.join(repoRoot, 'python', 'configs', 'demo.sft.yaml'), 'utf8');
  const file = path.join(workspace, 'configs', `${name}.sft.yaml`);
  // The config sits one folder below the model and data, so its paths go through `..`:
  // the launcher must make the trainer resolve them against this folder, not the run's.
  const text = demo
    .replace(/base: tiny-qwen2_5_vl/, 'base: ../tiny-qwen2_5_vl')
    .replace(/demo-data\//g, '../demo-data/')
    .replace(/max_steps: \d+/, `max_steps: ${maxSteps}`);
  writeFileSync(file, text);
  return file;
}

async function allEvents(runDir: string): Promise<TrainerEvent[]> {
  return (await readEventsFrom(runPaths(runDir).events, 0)).events;
}

// One tiny model and demo dataset for both tests.
before(() => {
  workspace = mkdtempSync(path.join(os.tmpdir(), 'medvlm-real-'));
  mkdirSync(path.join(workspace, 'configs'));
  trainer(['make-tiny-model', path.join(workspace, 'tiny-qwen2_5_vl'), '--family', 'qwen2_5_vl']);
  trainer(['make-demo-data', path.join(workspace, 'demo-data')]);
});

/** Starts a run through the launcher; its process group is killed after the test, whatever happened. */
async function startRun(t: { after: (fn: () => void) => void }, config: string): Promise<StartedRun> {
  const started = await startLocalRun({
    pythonPath: python ?? '',
    extensionRoot: repoRoot,
    configPath: config,
    runsRoot: path.join(workspace, 'runs'),
  });
  t.after(() => {
    try {
      process.kill(-started.pid, 'SIGKILL');
    } catch {
      // Already gone.
    }
  });
  return started;
}

after(() => {
  if (workspace) {
    rmSync(workspace, { recursive: true, force: true });
  }
});

test('the real trainer: a demo run finishes with a falling loss and checkpoints', async (t) => {
  const started = await startRun(t, writeConfig('demo', 8));
  const watch = followRun(started.runDir, () => undefined);
  const summary = await watch.whenTerminal();
  watch.dispose();
  const events = await allEvents(started.runDir);
  const log = readFileSync(runPaths(started.runDir).stdoutLog, 'utf8');
  assert.equal(summary.status, 'finished', `run did not finish:\n${log}`);

  const losses = events.flatMap((e) => (e.type === 'metrics' && e.split === 'train' && e.values.loss !== null ? [e.values.loss] : []));
  assert.ok(losses.length >= 4, `expected a loss per logging step, got ${losses.length}`);
  assert.ok((losses.at(-1) ?? Infinity) < (losses[0] ?? -Infinity), `loss did not fall: ${losses.join(', ')}`);
  assert.ok(events.some((e) => e.type === 'metrics' && e.split === 'eval' && typeof e.values.loss === 'number'));
  const checkpoints = events.flatMap((e) => (e.type === 'checkpoint' ? [e.path] : []));
  assert.ok(checkpoints.length > 0);
  for (const rel of checkpoints) {
    assert.ok(existsSync(path.join(started.runDir, rel, 'adapter_model.safetensors')), `${rel} has no adapter`);
  }
});

test('the real trainer: stop writes a checkpoint, then the run is stopped', async (t) => {
  const started = await startRun(t, writeConfig('long', 100_000));
  const first = await waitFor(
    'the first training step',
    async () => (await allEvents(started.runDir)).find((e) => e.type === 'progress' || e.type === 'run_finished'),
    240_000,
  );
  assert.equal(first.type, 'progress', readFileSync(runPaths(started.runDir).stdoutLog, 'utf8'));
  const outcome = await stopLocalRun(started.runDir);
  assert.equal(outcome, 'terminated');
  const events = await allEvents(started.runDir);
  const last = events.at(-1);
  assert.equal(last?.type === 'run_finished' ? last.status : last?.type, 'stopped');
  const checkpoint = events.filter((e) => e.type === 'checkpoint').pop();
  assert.ok(checkpoint && checkpoint.type === 'checkpoint', 'a checkpoint is written before the trainer exits');
  assert.ok(existsSync(path.join(started.runDir, checkpoint.path, 'adapter_model.safetensors')));
});
