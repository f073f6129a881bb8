import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { hasAdapter, isCompleteCheckpoint, latestCompleteCheckpoint, NO_ARTIFACTS, scanRunArtifacts } from '../../src/core/runArtifacts';
import { tempDir } from './testUtil';

function folder(runDir: string, rel: string, files: Record<string, string> = {}): string {
  const dir = path.join(runDir, rel);
  mkdirSync(dir, { recursive: true });
  for (const [name, text] of Object.entries(files)) {
    writeFileSync(path.join(dir, name), text);
  }
  return dir;
}

const complete = { 'trainer_state.json': '{"global_step": 1}', 'adapter_model.safetensors': '', 'adapter_config.json': '{}' };

test('checkpoints: complete as the trainer judges, steps from names or events, oldest first', async (t) => {
  const runDir = tempDir(t);
  folder(runDir, 'checkpoints/checkpoint-20', complete);
  folder(runDir, 'checkpoints/checkpoint-100', { 'trainer_state.json': '{"glob', 'adapter_model.safetensors': '' });
  folder(runDir, 'checkpoints/checkpoint-40', { 'trainer_state.json': '{}' });
  folder(runDir, 'checkpoints/checkpoint-60', { 'trainer_state.json': '{}', 'model.safetensors.index.json': '{}' });
  // `final` holds the adapter without the training state (it cannot be resumed from).
  folder(runDir, 'checkpoints/final', { 'adapter_model.safetensors': '', 'adapter_config.json': '{}' });
  const artifacts = await scanRunArtifacts(runDir, [{ step: 100, path: 'checkpoints/final' }]);
  assert.deepEqual(
    artifacts.checkpoints.map((c) => [c.name, c.step, c.complete, c.adapter]),
    [
      ['checkpoint-20', 20, true, true],
      ['checkpoint-40', 40, false, false],
      ['checkpoint-60', 60, true, false],
      ['checkpoint-100', 100, false, false],
      ['final', 100, false, true],
    ],
  );
  assert.equal(latestCompleteCheckpoint(artifacts)?.name, 'checkpoint-60');
  assert.equal(hasAdapter(artifacts), true);
  assert.deepEqual(artifacts.merged, []);
});

test('merged models: merged/ and <checkpoint>-merged; a merge in progress (dot folder) is not one', async (t) => {
  const runDir = tempDir(t);
  folder(runDir, 'merged', { 'config.json': '{}' });
  folder(runDir, '.merged.partial');
  folder(runDir, 'checkpoints/checkpoint-20', complete);
  folder(runDir, 'checkpoints/checkpoint-20-merged', { 'config.json': '{}' });
  folder(runDir, 'checkpoints/.checkpoint-20-merged.partial');
  const artifacts = await scanRunArtifacts(runDir);
  assert.deepEqual(artifacts.merged, [path.join(runDir, 'merged'), path.join(runDir, 'checkpoints', 'checkpoint-20-merged')]);
  assert.deepEqual(
    artifacts.checkpoints.map((c) => c.name),
    ['checkpoint-20'],
  );
});

test('a folder with nothing in it, or none at all, has no artifacts', async (t) => {
  const runDir = tempDir(t);
  assert.deepEqual(await scanRunArtifacts(runDir), NO_ARTIFACTS);
  assert.deepEqual(await scanRunArtifacts(path.join(runDir, 'gone')), NO_ARTIFACTS);
  assert.equal(latestCompleteCheckpoint(NO_ARTIFACTS), undefined);
  assert.equal(await isCompleteCheckpoint(path.join(runDir, 'gone')), false);
});
