// The events contract's golden file (design contract 4), read with the same reader the
// extension uses. python/tests checks the same file from the trainer's side.

import assert from 'node:assert/strict';
import { readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { readEventsFrom } from '../../src/core/eventsTail';
import { deriveSummary, EMPTY_RUN_STATE, reduceRunEvents } from '../../src/core/runStatus';
import { REQUIRED_FIELDS } from '../../src/shared/events';
import type { TrainerEvent } from '../../src/shared/events';
import { repoRoot } from './testUtil';

const golden = path.join(repoRoot, 'test', 'fixtures', 'events', 'golden.jsonl');

const expected: TrainerEvent[] = [
  {
    v: 1,
    t: 1764220800,
    type: 'run_started',
    run_id: '20261127-120000-demo',
    trainer_version: '0.1.0',
    world_size: 1,
    config: { model: { base: 'tiny-model' } },
  },
  { v: 1, t: 1764220800.5, type: 'phase', phase: 'preparing_data' },
  { v: 1, t: 1764220801, type: 'log', level: 'info', message: '12 train and 4 validation samples' },
  { v: 1, t: 1764220802, type: 'phase', phase: 'loading_model' },
  { v: 1, t: 1764220803, type: 'phase', phase: 'training' },
  { v: 1, t: 1764220804, type: 'progress', step: 1, max_steps: 4, epoch: 0.25, samples_per_s: 2.5, eta_s: 3 },
  {
    v: 1,
    t: 1764220804,
    type: 'metrics',
    step: 1,
    epoch: 0.25,
    split: 'train',
    values: { loss: 2.75, learning_rate: 0.0002, grad_norm: 1.5 },
  },
  { v: 1, t: 1764220805, type: 'metrics', step: 2, epoch: 0.5, split: 'train', values: { loss: null, learning_rate: 0.00015 } },
  { v: 1, t: 1764220806, type: 'phase', phase: 'evaluating' },
  { v: 1, t: 1764220806.5, type: 'metrics', step: 2, epoch: 0.5, split: 'eval', values: { loss: 2.5 } },
  { v: 1, t: 1764220807, type: 'checkpoint', step: 2, path: 'checkpoints/checkpoint-2' },
  // some_future_type is skipped; the error's future_field is dropped.
  {
    v: 1,
    t: 1764220808,
    type: 'error',
    message: 'CUDA out of memory',
    traceback: 'Traceback (most recent call last):\n  ...\ntorch.OutOfMemoryError: CUDA out of memory',
    record: 7,
  },
  { v: 1, t: 1764220809, type: 'run_finished', status: 'failed' },
];

test('golden.jsonl reads as the exact sequence of typed events', async () => {
  const text = readFileSync(golden, 'utf8');
  assert.ok(!text.endsWith('\n'), 'the fixture keeps its torn last line');
  const read = await readEventsFrom(golden, 0);
  assert.deepEqual(read.events, expected);
  assert.equal(read.skipped, 1, 'only the unknown type is skipped');
  assert.equal(read.cursor.offset, Buffer.byteLength(text.slice(0, text.lastIndexOf('\n') + 1)));
  assert.ok(read.cursor.offset < statSync(golden).size, 'the torn line is left for a later read');
});

test('golden.jsonl derives a failed run with the error first line', async () => {
  const { events } = await readEventsFrom(golden, 0);
  const state = reduceRunEvents(EMPTY_RUN_STATE, events);
  const summary = deriveSummary('20261127-120000-demo', state, { hasRunInfo: true, alive: false, dirAgeMs: 1e9 });
  assert.deepEqual(summary, {
    runId: '20261127-120000-demo',
    status: 'failed',
    step: 1,
    maxSteps: 4,
    etaS: 3,
    samplesPerS: 2.5,
    epoch: 0.5,
    startedAt: 1764220800,
    lastEventAt: 1764220809,
    error: 'CUDA out of memory',
  });
  assert.deepEqual(state.checkpoints, [{ step: 2, path: 'checkpoints/checkpoint-2' }]);
});

/** REQUIRED_FIELDS from events.py: `"name": ("a", "b"),` lines inside the dict literal. */
function pythonRequiredFields(): Record<string, string[]> {
  const source = readFileSync(path.join(repoRoot, 'python', 'src', 'medvlm_sft', 'train', 'events.py'), 'utf8');
  const body = /^REQUIRED_FIELDS[^=]*=\s*\{([\s\S]*?)^\}/m.exec(source)?.[1];
  assert.ok(body, 'REQUIRED_FIELDS dict literal not found in events.py');
  const fields: Record<string, string[]> = {};
  for (const match of body.matchAll(/"(\w+)"\s*:\s*\(([^)]*)\)/g)) {
    const [, name = '', tuple = ''] = match;
    fields[name] = [...tuple.matchAll(/"(\w+)"/g)].map((m) => m[1] ?? '');
  }
  return fields;
}

test('REQUIRED_FIELDS are the same in TypeScript and Python', () => {
  const python = pythonRequiredFields();
  assert.ok(Object.keys(python).length >= 8);
  assert.deepEqual(python, REQUIRED_FIELDS);
});
