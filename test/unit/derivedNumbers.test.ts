import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { parse } from 'yaml';
import { deriveNumbers } from '../../src/core/config/derivedNumbers';
import type { DataSizes, DerivedNumbers } from '../../src/core/config/derivedNumbers';
import type { JsonValue } from '../../src/shared/configSchema';
import { repoRoot } from './testUtil';

function example(name: string): JsonValue {
  return parse(readFileSync(path.join(repoRoot, 'python', 'configs', name), 'utf8')) as JsonValue;
}

const sizes = (train: number, val: number, exact = true): DataSizes => ({ train, val, exact, sources: [{ name: 'all', records: train + val, train, val }] });

function values(d: DerivedNumbers): Record<string, number | null> {
  const { memory: _memory, ...numbers } = d;
  return Object.fromEntries(Object.entries(numbers).map(([k, v]) => [k, v.value]));
}

test('the MedVision tutorial setup: 22000 samples, 1 x 12 x 2, 10 epochs', () => {
  const d = deriveNumbers(example('qwen2_5_vl-32b-medvision.sft.yaml'), sizes(22000, 200));
  // ceil(22000 / 24) = 917 steps per epoch; 9170 steps; ceil(0.03 x 9170) = ceil(275.1) = 276;
  // eval and save at 50, 100, ..., 9150 (183 times) and at step 9170.
  assert.deepEqual(values(d), {
    processes: 2,
    effectiveBatch: 24,
    trainSamples: 22000,
    valSamples: 200,
    stepsPerEpoch: 917,
    totalSteps: 9170,
    epochs: 10,
    warmupSteps: 276,
    evaluations: 184,
    checkpointsSaved: 184,
    checkpointsKept: 10,
  });
  assert.equal(d.effectiveBatch.why, '1 per GPU x 12 accumulation x 2 processes = 24 samples per optimizer step');
  assert.match(d.evaluations.why, /every 50 steps and at the last step \(9170\)/);
  assert.match(d.checkpointsSaved.why, /checkpoints\/final/);
  assert.ok(Object.values(d).every((n) => !('exact' in n) || n.exact));
  assert.ok(d.memory.totalGiB !== null && d.memory.totalGiB > 0);
});

test('the demo: max_steps overrides epochs, no warm-up, small eval and save intervals', () => {
  const d = deriveNumbers(example('demo.sft.yaml'), sizes(27, 4));
  // ceil(27 / 2) = 14 batches, so 14 steps per epoch; 8 steps stop inside the first epoch.
  assert.deepEqual(values(d), {
    processes: 1,
    effectiveBatch: 2,
    trainSamples: 27,
    valSamples: 4,
    stepsPerEpoch: 14,
    totalSteps: 8,
    epochs: 1,
    warmupSteps: 0,
    evaluations: 2,
    checkpointsSaved: 2,
    checkpointsKept: 2,
  });
  assert.equal(d.epochs.why, '1 pass over the training data (it stops after 8 of its 14 steps)');
  assert.equal(d.memory.totalGiB, null, 'the demo trains on the CPU');
  // max_steps needs no dataset sizes at all.
  const unsized = deriveNumbers(example('demo.sft.yaml'), undefined);
  assert.equal(unsized.totalSteps.value, 8);
  assert.equal(unsized.evaluations.value, 2);
  assert.match(unsized.evaluations.why, /if there are validation samples/);
  assert.equal(unsized.stepsPerEpoch.value, null);
});

/** transformers 5.17, literally: accelerate's BatchSamplerShard length, then set_initial_training_values. */
function transformersSteps(n: number, b: number, p: number, a: number, epochs: number, maxSteps: number): { perEpoch: number; total: number; epochs: number } {
  const batches = Math.ceil(n / b);
  const perProcess = batches % p === 0 ? batches / p : Math.floor(batches / p) + 1; // even_batches
  const perEpoch = Math.max(Math.floor(perProcess / a) + Number(perProcess % a > 0), 1);
  const total = maxSteps > 0 ? maxSteps : Math.ceil(epochs * perEpoch);
  return { perEpoch, total, epochs: Math.floor(total / perEpoch) + Number(total % perEpoch > 0) };
}

test('steps match the Trainer and the runner for fractional epochs, partial accumulation and several processes', () => {
  const cases: [number, number, number, number, number, number][] = [
    [100, 3, 2, 4, 1.5, -1],
    [1, 4, 8, 16, 1, -1],
    [22000, 1, 2, 12, 10, -1],
    [8000, 2, 1, 8, 2, -1],
    [17, 4, 1, 3, 0.25, -1],
    [1000, 8, 4, 2, 3, 37],
  ];
  let seed = 7;
  const rand = (n: number): number => {
    seed = (seed * 1103515245 + 12345) % 2147483648;
    return 1 + (seed % n);
  };
  for (let i = 0; i < 200; i++) cases.push([rand(5000), rand(8), rand(8), rand(16), [0.1, 0.5, 1, 1.5, 2.7, 10][rand(6) - 1] as number, rand(3) === 1 ? rand(500) : -1]);
  for (const [n, b, p, a, epochs, maxSteps] of cases) {
    const config = {
      train: { per_device_batch_size: b, gradient_accumulation_steps: a, epochs, max_steps: maxSteps },
      launch: { num_processes: p },
    };
    const d = deriveNumbers(config, sizes(n, 10));
    const expected = transformersSteps(n, b, p, a, epochs, maxSteps);
    const label = JSON.stringify({ n, b, p, a, epochs, maxSteps });
    assert.equal(d.stepsPerEpoch.value, expected.perEpoch, label);
    // The runner's own horizon (resume.compute_horizon) agrees: ceil(N / (b x P x A)).
    assert.equal(d.stepsPerEpoch.value, Math.max(1, Math.ceil(n / (b * p * a))), label);
    assert.equal(d.totalSteps.value, expected.total, label);
    assert.equal(d.epochs.value, expected.epochs, label);
  }
  const fractional = deriveNumbers({ train: { per_device_batch_size: 3, gradient_accumulation_steps: 4, epochs: 1.5 }, launch: { num_processes: 2 } }, sizes(100, 10));
  // 34 batches over 2 processes = 17 each; 4 full accumulation groups and a partial one = 5 steps; ceil(7.5) = 8.
  assert.deepEqual([fractional.stepsPerEpoch.value, fractional.totalSteps.value, fractional.epochs.value], [5, 8, 2]);
  assert.equal(fractional.epochs.why, '2 passes over the training data (the last one stops after 3 of 5 steps)');
});

test('warm-up as get_warmup_steps: ceil(total x ratio), none for the constant schedule', () => {
  const warmup = (ratio: number, scheduler = 'linear', maxSteps = 917): number | null =>
    deriveNumbers({ train: { max_steps: maxSteps, warmup_ratio: ratio, lr_scheduler: scheduler } }, undefined).warmupSteps.value;
  assert.equal(warmup(0.03), 28); // 27.51 rounded up
  assert.equal(warmup(0.03, 'linear', 100), 3); // 100 x 0.03 is exactly 3.0 in binary floating point, as in Python
  assert.equal(warmup(0.1, 'cosine', 95), 10); // 9.5
  assert.equal(warmup(0), 0);
  assert.equal(warmup(1), 917, 'a ratio of 1 is capped just below 1, as the trainer passes it');
  assert.equal(warmup(0.5, 'constant_with_warmup'), 459);
  assert.equal(warmup(0.5, 'constant'), 0);
});

test('evaluations per strategy, and none without validation samples', () => {
  const base = { train: { max_steps: 250 }, eval: { steps: 100 } };
  const evals = (evalSection: Record<string, JsonValue>, data?: DataSizes, extra: Record<string, JsonValue> = {}): number | null =>
    deriveNumbers({ ...base, ...extra, eval: { ...base.eval, ...evalSection } }, data).evaluations.value;
  assert.equal(evals({ strategy: 'steps' }, sizes(1000, 10)), 3, 'at 100, 200 and the last step 250');
  assert.equal(evals({ strategy: 'steps', steps: 125 }, sizes(1000, 10)), 2, 'at 125 and 250, once');
  assert.equal(evals({ strategy: 'no' }, sizes(1000, 10)), 0);
  assert.equal(evals({ strategy: 'steps' }, sizes(1000, 0)), 0);
  // 1000 samples at batch 1 = 1000 steps per epoch; 250 steps run 1 (partial) epoch.
  assert.equal(evals({ strategy: 'epoch' }, sizes(1000, 10)), 1);
  assert.equal(evals({ strategy: 'epoch' }, sizes(100, 10)), 3, '100 steps per epoch: ends at 100, 200 and the partial third');
  const noVal = { data: { sources: [{ records: 'r.jsonl', val_limit: 0 }] } };
  assert.equal(evals({ strategy: 'steps' }, undefined, noVal), 0, 'validation limits of 0 need no data check');
  const d = deriveNumbers({ ...base, ...noVal }, undefined);
  assert.equal(d.evaluations.why, 'no validation samples, so no evaluation');
});

test('checkpoints saved every save_steps and at the end; the newest save_total_limit kept', () => {
  const ckpt = (saveSteps: number, limit: JsonValue, maxSteps = 250): [number | null, number | null] => {
    const d = deriveNumbers({ train: { max_steps: maxSteps }, checkpoints: { save_steps: saveSteps, save_total_limit: limit } }, undefined);
    return [d.checkpointsSaved.value, d.checkpointsKept.value];
  };
  assert.deepEqual(ckpt(100, 2), [3, 2]);
  assert.deepEqual(ckpt(50, 10), [5, 5]);
  assert.deepEqual(ckpt(50, null), [5, 5]);
  assert.deepEqual(ckpt(1000, 3), [1, 1], 'a run shorter than save_steps still saves at its last step');
});

test('unknown numbers say why: no sizes yet, an unreadable source, no samples left', () => {
  const config = example('medgemma-4b-qlora.sft.yaml');
  const none = deriveNumbers(config, undefined);
  for (const key of ['trainSamples', 'stepsPerEpoch', 'totalSteps', 'warmupSteps', 'evaluations', 'checkpointsSaved', 'checkpointsKept'] as const) {
    assert.equal(none[key].value, null, key);
    assert.equal(none[key].why, 'needs the dataset sizes: save the config to check the data', key);
  }
  assert.equal(none.effectiveBatch.value, 16, 'the batch needs no data');
  const broken: DataSizes = {
    train: null,
    val: null,
    exact: false,
    sources: [
      { name: 'angle-distance', records: 2020, train: 2000, val: 20 },
      { name: 'detection', records: null, train: null, val: null },
    ],
  };
  assert.equal(deriveNumbers(config, broken).totalSteps.why, 'needs the dataset sizes: fix data.sources[1].records');
  assert.equal(deriveNumbers(config, sizes(0, 10)).stepsPerEpoch.why, 'no training samples are left after the validation split and limits');
  const approximate = deriveNumbers(config, sizes(8000, 80, false));
  assert.equal(approximate.totalSteps.value, 1000);
  assert.equal(approximate.totalSteps.exact, false);
  assert.match(approximate.trainSamples.why, /^about 8000/);
});

test('partial or invalid configs never throw', () => {
  const inputs: JsonValue[] = [
    null,
    'text',
    [],
    {},
    { train: null },
    { train: { per_device_batch_size: 'two', epochs: -1, warmup_ratio: 7 } },
    { train: { gradient_accumulation_steps: 0.5 }, launch: { num_processes: null } },
    { checkpoints: { save_steps: 0, save_total_limit: 'x' }, eval: { steps: -3 } },
    { model: { base: 42 }, lora: { r: 'x' } },
    // YAML can spell NaN and infinity (`.nan`, `.inf`).
    { train: { warmup_ratio: NaN, epochs: Infinity, per_device_batch_size: 1e300 }, model: { base: 'google/medgemma-4b-it' } },
  ];
  for (const input of inputs) {
    const d = deriveNumbers(input, sizes(100, 10));
    for (const [key, n] of Object.entries(d)) {
      if (key === 'memory') continue;
      assert.ok(n.value === null ? n.why.length > 0 : Number.isFinite(n.value), `${JSON.stringify(input)}: ${key}`);
    }
  }
  for (const junk of [NaN, -5, 2.5, Infinity]) {
    const d = deriveNumbers({}, { train: junk, val: junk, exact: true, sources: [] });
    assert.equal(d.trainSamples.value, null, `train size ${junk}`);
    assert.equal(d.totalSteps.value, null);
  }
  const bad = deriveNumbers({ train: { per_device_batch_size: 'two' } }, sizes(100, 10));
  assert.equal(bad.effectiveBatch.why, 'needs `train.per_device_batch_size` to be a whole number of at least 1');
  assert.equal(bad.totalSteps.value, null);
  assert.equal(deriveNumbers({ train: { epochs: 0 } }, sizes(100, 10)).totalSteps.why, 'needs `train.epochs` to be a number above 0');
});
