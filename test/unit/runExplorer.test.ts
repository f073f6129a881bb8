import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import type { CheckpointArtifact, RunArtifacts } from '../../src/core/runArtifacts';
import { NO_ARTIFACTS } from '../../src/core/runArtifacts';
import type { RunInfo } from '../../src/core/runDir';
import {
  canResume,
  checkpointContextValue,
  EVENTS_CONTEXT,
  groupRunsByTarget,
  LOCAL_TARGET,
  LOG_CONTEXT,
  mergedContextValue,
  runContextValue,
  runTargetOf,
  showTargetGroups,
  TARGET_CONTEXT,
} from '../../src/core/runExplorer';
import { repoRoot } from './testUtil';

const info = (target: Record<string, unknown>): RunInfo => ({ target }) as unknown as RunInfo;

const checkpoint = (name: string, complete: boolean, adapter = true): CheckpointArtifact => ({
  name,
  path: `/runs/r/checkpoints/${name}`,
  step: Number(/(\d+)$/.exec(name)?.[1] ?? 0),
  complete,
  adapter,
});
const withCheckpoint: RunArtifacts = { checkpoints: [checkpoint('checkpoint-20', true)], merged: [] };
const incompleteOnly: RunArtifacts = { checkpoints: [checkpoint('checkpoint-20', false)], merged: [] };
const merged: RunArtifacts = { checkpoints: [checkpoint('final', false)], merged: ['/runs/r/merged'] };

test('targets: this machine for local runs and runs without run.json; one group per SSH host', () => {
  assert.deepEqual(runTargetOf(undefined), LOCAL_TARGET);
  assert.deepEqual(runTargetOf(info({ kind: 'local' })), LOCAL_TARGET);
  assert.deepEqual(runTargetOf(info({ kind: 'ssh', host: 'gpu-box' })), { key: 'ssh:gpu-box', label: 'gpu-box' });
  assert.deepEqual(runTargetOf(info({ kind: 'slurm', host: 'gpu-box', partition: 'a100' })), { key: 'ssh:gpu-box', label: 'gpu-box' });
  assert.deepEqual(runTargetOf(info({ kind: 'ssh', name: 'lab' })), { key: 'ssh:lab', label: 'lab' });
  assert.deepEqual(runTargetOf(info({ kind: 'future' })), { key: 'future', label: 'future' });
});

test('grouping: this machine first, hosts by name, runs keep their order; groups only with several targets', () => {
  const runs = [
    { id: 1, info: info({ kind: 'ssh', host: 'zeta' }) },
    { id: 2 },
    { id: 3, info: info({ kind: 'ssh', host: 'alpha' }) },
    { id: 4, info: info({ kind: 'local' }) },
    { id: 5, info: info({ kind: 'ssh', host: 'zeta' }) },
  ];
  const groups = groupRunsByTarget(runs);
  assert.deepEqual(
    groups.map((g) => [g.target.label, g.runs.map((r) => r.id)]),
    [
      ['This machine', [2, 4]],
      ['alpha', [3]],
      ['zeta', [1, 5]],
    ],
  );
  assert.equal(showTargetGroups(groups), true);
  const localOnly = groupRunsByTarget([{ id: 1 }, { id: 2, info: info({ kind: 'local' }) }]);
  assert.equal(localOnly.length, 1);
  assert.equal(showTargetGroups(localOnly), false);
  assert.equal(showTargetGroups(groupRunsByTarget([])), false);
});

test('resume fits a stopped, failed or lost run with a complete checkpoint, nothing else', () => {
  for (const status of ['stopped', 'failed', 'lost'] as const) {
    assert.equal(canResume(status, withCheckpoint), true, status);
    assert.equal(canResume(status, incompleteOnly), false, status);
    assert.equal(canResume(status, NO_ARTIFACTS), false, status);
  }
  for (const status of ['finished', 'training', 'starting', 'preparing_data'] as const) {
    assert.equal(canResume(status, withCheckpoint), false, status);
  }
});

test('context values: active or ended, then the flags that fit', () => {
  assert.equal(runContextValue('training', NO_ARTIFACTS), 'run.active');
  assert.equal(runContextValue('training', withCheckpoint), 'run.active+checkpoints');
  assert.equal(runContextValue('stopped', withCheckpoint), 'run.ended+checkpoints+resumable+mergeable');
  assert.equal(runContextValue('failed', incompleteOnly), 'run.ended+checkpoints+mergeable');
  assert.equal(runContextValue('finished', merged), 'run.ended+checkpoints+mergeable+merged');
  assert.equal(runContextValue('lost', NO_ARTIFACTS), 'run.ended');
  assert.equal(runContextValue('finished', { checkpoints: [checkpoint('final', false, false)], merged: [] }), 'run.ended+checkpoints');
  assert.equal(checkpointContextValue('stopped', checkpoint('checkpoint-20', true)), 'checkpoint+resumable+adapter');
  assert.equal(checkpointContextValue('stopped', checkpoint('checkpoint-20', false)), 'checkpoint+adapter');
  assert.equal(checkpointContextValue('finished', checkpoint('checkpoint-20', true)), 'checkpoint+adapter');
  assert.equal(checkpointContextValue('finished', checkpoint('final', false, false)), 'checkpoint');
  assert.equal(checkpointContextValue('training', checkpoint('checkpoint-20', true)), 'checkpoint');
  assert.equal(mergedContextValue('finished'), 'mergedModel+ended');
  assert.equal(mergedContextValue('merging'), 'mergedModel');
  assert.equal(mergedContextValue(undefined), 'mergedModel');
});

interface MenuEntry {
  readonly command: string;
  readonly when: string;
  readonly group?: string;
}

const manifest = JSON.parse(readFileSync(path.join(repoRoot, 'package.json'), 'utf8')) as {
  contributes: { commands: Array<{ command: string }>; menus: Record<string, MenuEntry[]> };
};
const itemMenu = manifest.contributes.menus['view/item/context'] ?? [];

/** The commands the Runs view's context menu offers on an item with `contextValue`. */
function offered(contextValue: string, inline = false): string[] {
  return itemMenu
    .filter((entry) => entry.group?.startsWith('inline') === inline)
    .filter((entry) => {
      assert.match(entry.when, /view == medvlm\.runs/);
      const regex = /viewItem =~ \/(.+?)\/(?: |$)/.exec(entry.when)?.[1];
      const equals = /viewItem == (\S+)/.exec(entry.when)?.[1];
      return regex !== undefined ? new RegExp(regex).test(contextValue) : equals === contextValue;
    })
    .map((entry) => entry.command.replace('medvlm.', ''))
    .sort();
}

test('the menus offer only what fits each item', () => {
  const always = ['compareRuns', 'openRunLog', 'openRunPanel', 'restartRun', 'revealRunFolder'];
  assert.deepEqual(offered(runContextValue('training', withCheckpoint)), [...always, 'stopRun'].sort());
  assert.deepEqual(offered(runContextValue('training', withCheckpoint), true), ['openRunPanel', 'stopRun']);
  assert.deepEqual(offered(runContextValue('stopped', withCheckpoint)), [...always, 'deleteRun', 'mergeRun', 'pushAdapterToHub', 'resumeRun'].sort());
  assert.deepEqual(offered(runContextValue('stopped', withCheckpoint), true), ['openRunPanel', 'resumeRun']);
  assert.deepEqual(offered(runContextValue('finished', merged)), [...always, 'deleteRun', 'mergeRun', 'pushAdapterToHub', 'pushMergedToHub'].sort());
  assert.deepEqual(offered(runContextValue('failed', NO_ARTIFACTS)), [...always, 'deleteRun'].sort());
  // A run that reported an online W&B run offers its page, live or ended.
  assert.equal(runContextValue('training', NO_ARTIFACTS, true), 'run.active+wandb');
  assert.deepEqual(offered(runContextValue('training', NO_ARTIFACTS, true)), [...always, 'openWandbRun', 'stopRun'].sort());
  assert.deepEqual(offered(runContextValue('finished', merged, true)), [...always, 'deleteRun', 'mergeRun', 'openWandbRun', 'pushAdapterToHub', 'pushMergedToHub'].sort());
  assert.deepEqual(offered(checkpointContextValue('stopped', checkpoint('checkpoint-20', true))), ['pushAdapterToHub', 'resumeRun']);
  assert.deepEqual(offered(checkpointContextValue('stopped', checkpoint('checkpoint-20', true)), true), ['resumeRun']);
  assert.deepEqual(offered(checkpointContextValue('finished', checkpoint('checkpoint-20', true))), ['pushAdapterToHub']);
  assert.deepEqual(offered(mergedContextValue('finished')), ['pushMergedToHub']);
  // A run on a remote target: fetch its files; it resumes on the host once the trainer announced
  // a checkpoint there; merge needs the base model here, so it is not offered.
  assert.equal(runContextValue('stopped', NO_ARTIFACTS, false, { checkpointed: true }), 'run.ended+resumable+remote');
  assert.deepEqual(offered(runContextValue('stopped', withCheckpoint, false, { checkpointed: true })), [...always, 'deleteRun', 'fetchFromHost', 'resumeRun'].sort());
  assert.deepEqual(offered(runContextValue('stopped', NO_ARTIFACTS, false, { checkpointed: false })), [...always, 'deleteRun', 'fetchFromHost'].sort());
  assert.deepEqual(offered(runContextValue('training', NO_ARTIFACTS, false, { checkpointed: true })), [...always, 'fetchFromHost', 'stopRun'].sort());
  assert.deepEqual(offered(checkpointContextValue('stopped', checkpoint('checkpoint-20', true), true)), ['pushAdapterToHub']);
  for (const value of [checkpointContextValue('training', checkpoint('checkpoint-20', true)), mergedContextValue('training'), LOG_CONTEXT, EVENTS_CONTEXT, TARGET_CONTEXT]) {
    assert.deepEqual(offered(value), [], value);
    assert.deepEqual(offered(value, true), [], value);
  }
});

test('every command in a Runs view menu is declared', () => {
  const declared = new Set(manifest.contributes.commands.map((c) => c.command));
  for (const entry of [...itemMenu, ...(manifest.contributes.menus['view/title'] ?? [])]) {
    assert.ok(declared.has(entry.command), `${entry.command} is in a menu but not in contributes.commands`);
  }
});
