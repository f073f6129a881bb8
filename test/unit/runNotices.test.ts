import assert from 'node:assert/strict';
import { test } from 'node:test';
import { activeRunsStatus, deleteConfirmation, formatEtaShort, permanentDeleteConfirmation, runEndNotice, shortRunProgress } from '../../src/core/runNotices';
import type { DeletePlan } from '../../src/core/runNotices';
import type { RunSummary } from '../../src/shared/runStatus';

const training: RunSummary = { runId: 'r1', status: 'training', step: 37, maxSteps: 100, etaS: 245 };

test('short ETA: seconds, then whole minutes, then hours and minutes', () => {
  assert.equal(formatEtaShort(0), '0s');
  assert.equal(formatEtaShort(45.4), '45s');
  assert.equal(formatEtaShort(59.6), '1m');
  assert.equal(formatEtaShort(245), '4m');
  assert.equal(formatEtaShort(3569), '59m');
  assert.equal(formatEtaShort(3600 + 5 * 60), '1h 05m');
  assert.equal(formatEtaShort(-3), '0s');
});

test('short progress: status, percent, and the ETA while training', () => {
  assert.equal(shortRunProgress(training), 'training 37% · ETA 4m');
  assert.equal(shortRunProgress({ runId: 'r', status: 'preparing_data' }), 'preparing data');
  assert.equal(shortRunProgress({ ...training, status: 'evaluating' }), 'evaluating 37%');
  assert.equal(shortRunProgress({ ...training, etaS: null }), 'training 37%');
  assert.equal(shortRunProgress({ ...training, step: 120 }), 'training 100% · ETA 4m');
  assert.equal(shortRunProgress({ ...training, maxSteps: 0 }), 'training · ETA 4m');
});

test('status bar: hidden with no active run, the one run in full, or a count', () => {
  assert.equal(activeRunsStatus([]), undefined);
  assert.equal(activeRunsStatus([{ runId: 'done', status: 'finished' }, { runId: 'x', status: 'lost' }]), undefined);
  const one = activeRunsStatus([{ runId: 'done', status: 'finished' }, training]);
  assert.deepEqual(one, {
    text: '$(sync~spin) 1 SFT run: training 37% · ETA 4m',
    tooltip: 'r1: training 37% · ETA 4m\n\nClick to open its run panel.',
    runId: 'r1',
  });
  const two = activeRunsStatus([training, { runId: 'r2', status: 'preparing_data' }]);
  assert.deepEqual(two, {
    text: '$(sync~spin) 2 SFT runs',
    tooltip: 'r1: training 37% · ETA 4m\nr2: preparing data\n\nClick to show the Runs view.',
  });
});

test('end notices: a failure leads with its error and offers the panel and the log', () => {
  const failed = runEndNotice({ runId: 'r', status: 'failed', error: 'CUDA out of memory' }, false);
  assert.deepEqual(failed, {
    severity: 'error',
    message: 'MedVLM: run r failed: CUDA out of memory',
    actions: [
      { label: 'Open run panel', action: 'openPanel' },
      { label: 'Open log', action: 'openLog' },
    ],
  });
  // With its panel on screen, only the log is offered.
  assert.deepEqual(runEndNotice({ runId: 'r', status: 'failed', error: 'boom' }, true)?.actions, [{ label: 'Open log', action: 'openLog' }]);
  assert.equal(runEndNotice({ runId: 'r', status: 'failed' }, false)?.message, 'MedVLM: run r failed: it reported no error; see its log.');
  assert.deepEqual(runEndNotice({ runId: 'r', status: 'finished' }, false), {
    severity: 'info',
    message: 'MedVLM: run r finished.',
    actions: [{ label: 'Open run panel', action: 'openPanel' }],
  });
  assert.deepEqual(runEndNotice({ runId: 'r', status: 'finished' }, true)?.actions, []);
  // Without the trainer's words, the watch's reason says what it can.
  assert.equal(
    runEndNotice({ runId: 'r', status: 'failed', reason: 'the trainer was killed by SIGKILL' }, false)?.message,
    'MedVLM: run r failed: the trainer was killed by SIGKILL',
  );
  assert.equal(runEndNotice({ runId: 'r', status: 'lost' }, false)?.severity, 'warning');
  assert.equal(runEndNotice({ runId: 'r', status: 'lost' }, false)?.message, 'MedVLM: run r is lost: its process ended without reporting how.');
  assert.equal(
    runEndNotice({ runId: 'r', status: 'lost', reason: 'the run folder was deleted' }, false)?.message,
    'MedVLM: run r is lost: the run folder was deleted',
  );
  assert.equal(runEndNotice({ runId: 'r', status: 'training' }, false), undefined);
});

const plan: DeletePlan = {
  runId: '20260101-000000-lung',
  runDir: '/w/.medvlm/runs/20260101-000000-lung',
  checkpoints: ['checkpoint-100', 'checkpoint-200', 'final'],
  merged: ['merged'],
};

test('the delete confirmation names the folder, each checkpoint and the merged model', () => {
  assert.deepEqual(deleteConfirmation(plan), {
    message: 'Delete run 20260101-000000-lung?',
    detail:
      'This moves the run folder /w/.medvlm/runs/20260101-000000-lung to the trash. With it go 3 checkpoints: checkpoint-100, checkpoint-200, final. And the merged model: merged.',
    button: 'Move to Trash',
  });
  assert.equal(
    deleteConfirmation({ ...plan, checkpoints: ['final'], merged: [] }).detail,
    'This moves the run folder /w/.medvlm/runs/20260101-000000-lung to the trash. With it go 1 checkpoint: final.',
  );
  assert.match(deleteConfirmation({ ...plan, checkpoints: [], merged: [] }).detail, /It holds no checkpoints\.$/);
  assert.match(deleteConfirmation({ ...plan, merged: ['merged', 'checkpoints/checkpoint-100-merged'] }).detail, /And 2 merged models: merged, checkpoints\/checkpoint-100-merged\.$/);
  const many = deleteConfirmation({ ...plan, checkpoints: Array.from({ length: 25 }, (_, i) => `checkpoint-${i + 1}`), merged: [] });
  assert.match(many.detail, /With it go 25 checkpoints: checkpoint-1, .*checkpoint-20 and 5 more\.$/);
  // A remote run: only its folder here goes; the dialog says the host's stays.
  const remote = deleteConfirmation({ ...plan, checkpoints: [], merged: [], remoteFolder: 'me@gpu:/scratch/runs/20260101-000000-lung' });
  assert.match(remote.detail, /It holds no checkpoints\.\n\nThe run's folder on the host, me@gpu:\/scratch\/runs\/20260101-000000-lung, stays as it is/);
});

test('deleting for good is a separate question that says it cannot be undone', () => {
  const second = permanentDeleteConfirmation(plan, 'The trash is not available.');
  assert.equal(second.button, 'Delete Permanently');
  assert.match(second.message, /could not be moved to the trash/);
  assert.match(second.detail, /^The trash is not available\.\n\n.*cannot be undone\. With it go 3 checkpoints/s);
});
