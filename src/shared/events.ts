// Mirror of python/src/medvlm_sft/train/events.py (design contract 4). Both sides check
// test/fixtures/events/golden.jsonl, so a change on one side without the other fails a test.

export const EVENTS_VERSION = 1;

export const PHASES = [
  'preparing_data',
  'loading_model',
  'training',
  'evaluating',
  'saving',
  'merging',
  'pushing',
] as const;
export type Phase = (typeof PHASES)[number];

export type FinishStatus = 'finished' | 'failed' | 'stopped';
export type LogLevel = 'debug' | 'info' | 'warning' | 'error';

interface EventBase {
  readonly v: number;
  readonly t: number;
}

export interface RunStartedEvent extends EventBase {
  readonly type: 'run_started';
  readonly run_id: string;
  readonly trainer_version: string;
  readonly world_size: number;
  readonly config: Record<string, unknown>;
  /** 1 for the first start in a run folder, 2 for the first resume, ...; absent from older trainers. */
  readonly attempt?: number;
  /**
   * A resumed attempt: the global step of the checkpoint it resumed from, or null when it
   * started fresh. Points an earlier attempt logged after this step are superseded.
   */
  readonly resume_step?: number | null;
}
export interface PhaseEvent extends EventBase {
  readonly type: 'phase';
  readonly phase: Phase;
}
export interface ProgressEvent extends EventBase {
  readonly type: 'progress';
  readonly step: number;
  readonly max_steps: number;
  readonly epoch: number;
  readonly samples_per_s: number | null;
  readonly eta_s: number | null;
}
export interface MetricsEvent extends EventBase {
  readonly type: 'metrics';
  readonly step: number;
  readonly epoch: number;
  readonly split: 'train' | 'eval';
  /** Flat numeric fields (loss, learning_rate, grad_norm, gpu_mem_gb, mae, ...); null marks NaN/inf. */
  readonly values: Readonly<Record<string, number | null>>;
}
export interface CheckpointEvent extends EventBase {
  readonly type: 'checkpoint';
  readonly step: number;
  readonly path: string;
}
export interface LogEvent extends EventBase {
  readonly type: 'log';
  readonly level: LogLevel;
  readonly message: string;
  /** On the trainer's report of its W&B run: the run's id, and its page when it logs online. */
  readonly wandb_run_id?: string;
  readonly wandb_url?: string;
}
export interface ErrorEvent extends EventBase {
  readonly type: 'error';
  readonly message: string;
  readonly traceback: string;
  readonly record?: number;
}
export interface RunFinishedEvent extends EventBase {
  readonly type: 'run_finished';
  readonly status: FinishStatus;
}

export type TrainerEvent =
  | RunStartedEvent
  | PhaseEvent
  | ProgressEvent
  | MetricsEvent
  | CheckpointEvent
  | LogEvent
  | ErrorEvent
  | RunFinishedEvent;

export type TrainerEventType = TrainerEvent['type'];

/** Required fields per type besides v, t, type; identical to REQUIRED_FIELDS in events.py. */
export const REQUIRED_FIELDS: Readonly<Record<TrainerEventType, readonly string[]>> = {
  run_started: ['run_id', 'trainer_version', 'world_size', 'config'],
  phase: ['phase'],
  progress: ['step', 'max_steps', 'epoch', 'samples_per_s', 'eta_s'],
  metrics: ['step', 'epoch', 'split'],
  checkpoint: ['step', 'path'],
  log: ['level', 'message'],
  error: ['message', 'traceback'],
  run_finished: ['status'],
};

const METRIC_RESERVED = new Set(['v', 't', 'type', 'step', 'epoch', 'split']);
const LOG_LEVELS: ReadonlySet<string> = new Set(['debug', 'info', 'warning', 'error']);
const FINISH: ReadonlySet<string> = new Set(['finished', 'failed', 'stopped']);

type Obj = Record<string, unknown>;

const isObj = (x: unknown): x is Obj => typeof x === 'object' && x !== null && !Array.isArray(x);
const isNum = (x: unknown): x is number => typeof x === 'number' && Number.isFinite(x);
const isNumOrNull = (x: unknown): x is number | null => x === null || isNum(x);
const isStr = (x: unknown): x is string => typeof x === 'string';

/**
 * Turns one parsed JSON value into a typed event, or undefined when it is not a known,
 * well-formed event. Unknown fields are ignored; unknown types return undefined.
 */
export function toTrainerEvent(raw: unknown): TrainerEvent | undefined {
  if (!isObj(raw) || !isNum(raw.t) || !isStr(raw.type)) {
    return undefined;
  }
  const v = isNum(raw.v) ? raw.v : EVENTS_VERSION;
  const base = { v, t: raw.t };
  switch (raw.type) {
    case 'run_started':
      if (isStr(raw.run_id) && isStr(raw.trainer_version) && isNum(raw.world_size) && isObj(raw.config)) {
        return {
          ...base,
          type: 'run_started',
          run_id: raw.run_id,
          trainer_version: raw.trainer_version,
          world_size: raw.world_size,
          config: raw.config,
          ...(isNum(raw.attempt) ? { attempt: raw.attempt } : {}),
          ...(isNumOrNull(raw.resume_step) ? { resume_step: raw.resume_step } : {}),
        };
      }
      return undefined;
    case 'phase':
      return isStr(raw.phase) && (PHASES as readonly string[]).includes(raw.phase)
        ? { ...base, type: 'phase', phase: raw.phase as Phase }
        : undefined;
    case 'progress':
      if (isNum(raw.step) && isNum(raw.max_steps) && isNum(raw.epoch)) {
        return {
          ...base,
          type: 'progress',
          step: raw.step,
          max_steps: raw.max_steps,
          epoch: raw.epoch,
          samples_per_s: isNum(raw.samples_per_s) ? raw.samples_per_s : null,
          eta_s: isNum(raw.eta_s) ? raw.eta_s : null,
        };
      }
      return undefined;
    case 'metrics': {
      if (!isNum(raw.step) || !isNum(raw.epoch) || (raw.split !== 'train' && raw.split !== 'eval')) {
        return undefined;
      }
      const values: Record<string, number | null> = {};
      for (const [key, value] of Object.entries(raw)) {
        if (!METRIC_RESERVED.has(key) && isNumOrNull(value)) {
          values[key] = value;
        }
      }
      return { ...base, type: 'metrics', step: raw.step, epoch: raw.epoch, split: raw.split, values };
    }
    case 'checkpoint':
      return isNum(raw.step) && isStr(raw.path) ? { ...base, type: 'checkpoint', step: raw.step, path: raw.path } : undefined;
    case 'log':
      return isStr(raw.level) && LOG_LEVELS.has(raw.level) && isStr(raw.message)
        ? {
            ...base,
            type: 'log',
            level: raw.level as LogLevel,
            message: raw.message,
            ...(isStr(raw.wandb_run_id) ? { wandb_run_id: raw.wandb_run_id } : {}),
            ...(isStr(raw.wandb_url) && /^https?:\/\//.test(raw.wandb_url) ? { wandb_url: raw.wandb_url } : {}),
          }
        : undefined;
    case 'error':
      if (!isStr(raw.message)) {
        return undefined;
      }
      return {
        ...base,
        type: 'error',
        message: raw.message,
        traceback: isStr(raw.traceback) ? raw.traceback : '',
        ...(isNum(raw.record) ? { record: raw.record } : {}),
      };
    case 'run_finished':
      return isStr(raw.status) && FINISH.has(raw.status)
        ? { ...base, type: 'run_finished', status: raw.status as FinishStatus }
        : undefined;
    default:
      return undefined;
  }
}
