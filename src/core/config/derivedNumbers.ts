// The numbers shown beside the config form: batch, steps, warm-up, evaluations, checkpoints
// and memory, each as the trainer will actually have them, or null with the reason.
//
// Steps follow the pinned transformers 5.17 Trainer (through TRL's SFTTrainer) and the trainer's
// own horizon (python/src/medvlm_sft/train/resume.py `compute_horizon`, which passes max_steps
// explicitly, so a resumed run keeps its schedule):
//   batches per process  L = ceil(ceil(N / b) / P)      accelerate BatchSamplerShard.__len__,
//                                                        drop_last false, even_batches true
//   update steps / epoch U = max(floor(L / A) + (L mod A > 0), 1)
//                                                        Trainer.set_initial_training_values:
//                                                        the last partial accumulation group
//                                                        is a step of its own
//   total steps          T = train.max_steps if > 0, else ceil(epochs x U)
//   epochs run             = ceil(T / U)                 (the last one may be partial)
//   warm-up steps          = ceil(T x min(warmup_ratio, 0.999999))
//                                                        TrainingArguments.get_warmup_steps
//                                                        (a ratio below 1); none for `constant`
// N training samples, b per-device batch, P processes, A gradient accumulation. U equals the
// trainer's ceil(N / (b x P x A)), since nested ceilings of whole numbers combine.
// Evaluations and saves follow DefaultFlowCallback.on_step_end and on_epoch_end: `steps` fires
// every k steps and once more at the last step when T is not a multiple of k; saving is always
// step-based, so T steps give ceil(T / save_steps) checkpoints, of which the newest
// save_total_limit are kept; runner.py then writes `checkpoints/final` besides.

import { dottedPath, isPlainObject, withDefaults } from '../../shared/configSchema';
import type { JsonValue } from '../../shared/configSchema';
import { estimateMemory } from './memoryEstimate';
import type { ModelLookup } from './memoryEstimate';
import type { MemoryEstimate } from './memoryEstimate';
import type { DataSizes } from '../validation';
import { RUN_CONFIG_SCHEMA } from './validateConfig';

/** The `data` field of `medvlm-sft validate --check-data --json` (parsed in core/validation). */
export type { DataSizes };

export interface DerivedNumber {
  readonly value: number | null;
  /** How the number comes about, or why it cannot be known. */
  readonly why: string;
  /** False when it rests on approximate dataset sizes. */
  readonly exact: boolean;
}

export interface DerivedNumbers {
  readonly processes: DerivedNumber;
  readonly effectiveBatch: DerivedNumber;
  readonly trainSamples: DerivedNumber;
  readonly valSamples: DerivedNumber;
  readonly stepsPerEpoch: DerivedNumber;
  readonly totalSteps: DerivedNumber;
  readonly epochs: DerivedNumber;
  readonly warmupSteps: DerivedNumber;
  readonly evaluations: DerivedNumber;
  readonly checkpointsSaved: DerivedNumber;
  readonly checkpointsKept: DerivedNumber;
  readonly memory: MemoryEstimate;
}

const known = (value: number, why: string, exact = true): DerivedNumber => ({ value, why, exact });
const unknown = (why: string): DerivedNumber => ({ value: null, why, exact: false });

function get(config: JsonValue | undefined, ...path: string[]): JsonValue | undefined {
  let node = config;
  for (const key of path) node = isPlainObject(node) ? node[key] : undefined;
  return node;
}

/** A whole number >= `min` at `path`, or the text saying it is not one. */
function whole(config: JsonValue | undefined, path: string[], min: number): number | string {
  const value = get(config, ...path);
  return typeof value === 'number' && Number.isInteger(value) && value >= min ? value : `needs \`${path.join('.')}\` to be a whole number of at least ${min}`;
}

const plural = (n: number, word: string, many = `${word}s`): string => `${n} ${n === 1 ? word : many}`;

/** Never throws: partial or invalid configs give nulls with reasons. */
export function deriveNumbers(config: JsonValue, sizes: DataSizes | undefined, models?: ModelLookup): DerivedNumbers {
  const cfg = withDefaults(RUN_CONFIG_SCHEMA, isPlainObject(config) ? config : {});

  const p = whole(cfg, ['launch', 'num_processes'], 1);
  const b = whole(cfg, ['train', 'per_device_batch_size'], 1);
  const a = whole(cfg, ['train', 'gradient_accumulation_steps'], 1);
  const processes = typeof p === 'number' ? known(p, `${plural(p, 'process', 'processes')}, one per GPU`) : unknown(p);
  const batchWhy = [b, a, p].find((x): x is string => typeof x === 'string');
  const effectiveBatch =
    typeof b === 'number' && typeof a === 'number' && typeof p === 'number'
      ? known(b * a * p, `${b} per GPU x ${a} accumulation x ${plural(p, 'process', 'processes')} = ${plural(b * a * p, 'sample')} per optimizer step`)
      : unknown(batchWhy ?? '');

  const exact = sizes?.exact ?? false;
  const about = exact ? '' : 'about ';
  const trainSamples = sampleCount(cfg, sizes, 'train');
  const valSamples = sampleCount(cfg, sizes, 'val');

  // Steps per epoch (transformers' update steps per epoch).
  let stepsPerEpoch: DerivedNumber;
  if (batchWhy !== undefined || typeof b !== 'number' || typeof a !== 'number' || typeof p !== 'number') {
    stepsPerEpoch = unknown(batchWhy ?? '');
  } else if (trainSamples.value === null) {
    stepsPerEpoch = unknown(trainSamples.why);
  } else if (trainSamples.value === 0) {
    stepsPerEpoch = unknown('no training samples are left after the validation split and limits');
  } else {
    const n = trainSamples.value;
    const perProcess = Math.ceil(Math.ceil(n / b) / p);
    const updates = Math.max(Math.floor(perProcess / a) + (perProcess % a > 0 ? 1 : 0), 1);
    stepsPerEpoch = known(updates, `${about}${n} samples / (${b} x ${p} x ${a}) = ${updates} optimizer steps per epoch, rounded up`, exact);
  }

  // Total optimizer steps: max_steps overrides epochs.
  const maxSteps = get(cfg, 'train', 'max_steps');
  const epochsSetting = get(cfg, 'train', 'epochs');
  let totalSteps: DerivedNumber;
  if (typeof maxSteps === 'number' && Number.isInteger(maxSteps) && maxSteps > 0) {
    totalSteps = known(maxSteps, `train.max_steps (${maxSteps}) overrides train.epochs`);
  } else if (typeof epochsSetting !== 'number' || !(epochsSetting > 0 && Number.isFinite(epochsSetting))) {
    totalSteps = unknown('needs `train.epochs` to be a number above 0');
  } else if (stepsPerEpoch.value === null) {
    totalSteps = unknown(stepsPerEpoch.why);
  } else {
    const total = Math.ceil(epochsSetting * stepsPerEpoch.value);
    totalSteps = known(total, `${epochsSetting} epochs x ${stepsPerEpoch.value} steps = ${total} optimizer steps, rounded up`, stepsPerEpoch.exact);
  }
  const t = totalSteps.value;
  const tExact = totalSteps.exact;

  const epochs =
    t === null
      ? unknown(totalSteps.why)
      : stepsPerEpoch.value === null
        ? unknown(stepsPerEpoch.why)
        : epochsRun(t, stepsPerEpoch.value, tExact && stepsPerEpoch.exact);

  // Warm-up, as TrainingArguments.get_warmup_steps (the trainer passes the ratio as warmup_steps).
  const ratio = get(cfg, 'train', 'warmup_ratio');
  let warmupSteps: DerivedNumber;
  if (get(cfg, 'train', 'lr_scheduler') === 'constant') {
    warmupSteps = known(0, 'the constant schedule has no warm-up');
  } else if (typeof ratio !== 'number' || !(ratio >= 0 && ratio <= 1)) {
    warmupSteps = unknown('needs `train.warmup_ratio` from 0 to 1');
  } else if (t === null) {
    warmupSteps = unknown(totalSteps.why);
  } else {
    const warmup = Math.ceil(t * Math.min(ratio, 0.999999));
    warmupSteps = known(warmup, `${ratio} x ${t} steps = ${warmup} warm-up steps, rounded up`, tExact);
  }

  const evaluations = evaluationCount(cfg, t, totalSteps, epochs, valSamples);
  const saveEvery = whole(cfg, ['checkpoints', 'save_steps'], 1);
  let checkpointsSaved: DerivedNumber;
  if (typeof saveEvery === 'string') checkpointsSaved = unknown(saveEvery);
  else if (t === null) checkpointsSaved = unknown(totalSteps.why);
  else {
    const saved = Math.ceil(t / saveEvery);
    const last = t % saveEvery === 0 ? '' : ` and at the last step (${t})`;
    checkpointsSaved = known(saved, `every ${plural(saveEvery, 'step')}${last}; the final adapter also goes to checkpoints/final`, tExact);
  }
  const limit = get(cfg, 'checkpoints', 'save_total_limit');
  let checkpointsKept: DerivedNumber;
  if (checkpointsSaved.value === null) checkpointsKept = unknown(checkpointsSaved.why);
  else if (limit === null) checkpointsKept = known(checkpointsSaved.value, 'save_total_limit is null: all are kept', checkpointsSaved.exact);
  else if (typeof limit !== 'number' || !Number.isInteger(limit) || limit < 1) checkpointsKept = unknown('needs `checkpoints.save_total_limit` to be null or a whole number of at least 1');
  else {
    const kept = Math.min(checkpointsSaved.value, limit);
    checkpointsKept = known(kept, `the newest ${plural(limit, 'checkpoint')} are kept (checkpoints.save_total_limit)`, checkpointsSaved.exact || kept === limit);
  }

  return {
    processes,
    effectiveBatch,
    trainSamples,
    valSamples,
    stepsPerEpoch,
    totalSteps,
    epochs,
    warmupSteps,
    evaluations,
    checkpointsSaved,
    checkpointsKept,
    memory: estimateMemory(cfg ?? {}, models),
  };
}

function epochsRun(total: number, perEpoch: number, exact: boolean): DerivedNumber {
  const run = Math.ceil(total / perEpoch);
  const done = total - (run - 1) * perEpoch;
  const partial = done === perEpoch ? '' : run === 1 ? ` (it stops after ${done} of its ${perEpoch} steps)` : ` (the last one stops after ${done} of ${perEpoch} steps)`;
  return known(run, `${plural(run, 'pass', 'passes')} over the training data${partial}`, exact);
}

/** Training or validation samples from the data check; validation is known to be 0 when every limit says so. */
function sampleCount(cfg: JsonValue | undefined, sizes: DataSizes | undefined, split: 'train' | 'val'): DerivedNumber {
  const count = sizes?.[split];
  if (typeof count === 'number' && Number.isSafeInteger(count) && count >= 0) {
    return known(count, sizes?.exact === true ? `${count} ${split === 'train' ? 'training' : 'validation'} samples` : `about ${count}: the data check could not count every record`, sizes?.exact === true);
  }
  if (split === 'val') {
    const sources = get(cfg, 'data', 'sources');
    const none = get(cfg, 'data', 'val_limit') === 0 || (Array.isArray(sources) && sources.length > 0 && sources.every((s) => get(s, 'val_limit') === 0));
    if (none) return known(0, 'the validation limits are all 0');
  }
  if (sizes === undefined) return unknown('needs the dataset sizes: save the config to check the data');
  const bad = sizes.sources.findIndex((s) => s.records === null);
  if (bad >= 0) return unknown(`needs the dataset sizes: fix ${dottedPath(['data', 'sources', bad, 'records'])}`);
  return unknown('needs the dataset sizes: the data check could not count the samples');
}

function evaluationCount(cfg: JsonValue | undefined, t: number | null, totalSteps: DerivedNumber, epochs: DerivedNumber, val: DerivedNumber): DerivedNumber {
  const strategy = get(cfg, 'eval', 'strategy');
  if (strategy === 'no') return known(0, 'eval.strategy is `no`');
  if (val.value === 0) return known(0, 'no validation samples, so no evaluation', val.exact);
  // Unknown validation counts are assumed non-empty: limits above 0 hold samples out.
  const maybe = val.value === null ? ' (if there are validation samples)' : '';
  if (strategy === 'epoch') {
    return epochs.value === null ? unknown(epochs.why) : known(epochs.value, `at the end of each pass over the data${maybe}`, epochs.exact && val.value !== null);
  }
  const every = whole(cfg, ['eval', 'steps'], 1);
  if (typeof every === 'string') return unknown(every);
  if (t === null) return unknown(totalSteps.why);
  const count = Math.ceil(t / every);
  const last = t % every === 0 ? '' : ` and at the last step (${t})`;
  return known(count, `every ${plural(every, 'step')}${last}${maybe}`, totalSteps.exact && val.value !== null);
}
