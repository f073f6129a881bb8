// The data a remote-run test puts on its "host" (this machine, under the target's work
// folder): the tiny model and the demo dataset made by the trainer's own commands, and the
// demo config naming them relative to the work folder, as a config sent to a target does.

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import type { SpawnSyncReturns } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { repoRoot } from '../testUtil';

/** Writes `<work>/data/tiny-qwen2_5_vl` and `<work>/data/demo-data` with the trainer `python`. */
export function makeHostData(python: string, work: string): void {
  for (const args of [
    ['make-tiny-model', path.join(work, 'data', 'tiny-qwen2_5_vl'), '--family', 'qwen2_5_vl'],
    ['make-demo-data', path.join(work, 'data', 'demo-data')],
  ]) {
    const made: SpawnSyncReturns<string> = spawnSync(python, ['-m', 'medvlm_sft', ...args], { env: { ...process.env, PYTHONPATH: path.join(repoRoot, 'python', 'src') }, encoding: 'utf8' });
    assert.equal(made.status, 0, made.stderr);
  }
}

/** The demo config with its paths relative to the work folder, training `maxSteps` steps. */
export function hostConfig(maxSteps: number): string {
  return readFileSync(path.join(repoRoot, 'python', 'configs', 'demo.sft.yaml'), 'utf8')
    .replace(/base: tiny-qwen2_5_vl/, 'base: data/tiny-qwen2_5_vl')
    .replace(/demo-data\//g, 'data/demo-data/')
    .replace(/max_steps: \d+/, `max_steps: ${maxSteps}`);
}
