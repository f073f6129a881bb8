// The run panel's protocol, declared once. Both sides post and receive through these
// tokens; both sides validate what they receive, because events carry text the trainer wrote
// (log lines, tracebacks) and the webview is a separate context.
//
// Metric values travel as columns (Float64Array per split and field, packed by
// runPanelPacking.ts), not as event objects: a long run logs hundreds of thousands of points,
// which as objects would cost the webview seconds to receive, and as typed arrays cost a copy
// (VS Code revives typed arrays in webview messages).

import type { FinishStatus, LogLevel, TrainerEvent } from '../events';
import { PHASES } from '../events';
import type { RunStatus, RunSummary } from '../runStatus';
import { RUN_STATUSES, TERMINAL_STATUSES } from '../runStatus';
import type { MessageType } from './message';
import { defineMessage, isEmpty, isFiniteNumber, isObject, isString } from './message';

// Bounds keep a confused or hostile sender from making the other side allocate without limit.
export const MAX_ID_LENGTH = 256;
export const MAX_TITLE_LENGTH = 1024;
/** The host sends the log tail in one message; it reads at most this much. */
export const MAX_LOG_TAIL_CHARS = 1024 * 1024;
/** Events other than metrics and progress per message; the host splits larger backlogs. */
export const MAX_EVENTS_PER_MESSAGE = 5000;
/** Metrics and progress events packed into one message's columns. */
export const MAX_ROWS_PER_MESSAGE = 250_000;
export const MAX_COLUMNS_PER_MESSAGE = 256;
export const MAX_FIELD_LENGTH = 128;
/** Runs one compare panel overlays; also the number of distinct run colours. */
export const MAX_COMPARE_RUNS = 8;
export const MAX_DIFF_ROWS = 2000;
export const MAX_DIFF_PATH_LENGTH = 512;
export const MAX_DIFF_VALUE_LENGTH = 1024;

type Empty = Record<string, never>;

// webview -> host. All carry an empty payload: the webview only asks, it never names runs,
// files or commands, so a compromised webview cannot point the host at anything. The host
// acts on the panel's own run.
export const ReadyMessage = defineMessage<Empty>('runPanel/ready', isEmpty);
export const RequestLogTailMessage = defineMessage<Empty>('runPanel/requestLogTail', isEmpty);
export const StopMessage = defineMessage<Empty>('runPanel/stop', isEmpty);
export const ResumeMessage = defineMessage<Empty>('runPanel/resume', isEmpty);
export const RestartMessage = defineMessage<Empty>('runPanel/restart', isEmpty);
export const RevealFolderMessage = defineMessage<Empty>('runPanel/revealFolder', isEmpty);
export const OpenLogMessage = defineMessage<Empty>('runPanel/openLog', isEmpty);
export const MergeMessage = defineMessage<Empty>('runPanel/merge', isEmpty);
export const DeleteMessage = defineMessage<Empty>('runPanel/delete', isEmpty);
export const OpenWandbMessage = defineMessage<Empty>('runPanel/openWandb', isEmpty);

/** The run actions the panel offers, in button order. */
export const RUN_ACTIONS = ['stop', 'resume', 'restart', 'merge', 'openLog', 'openWandb', 'revealFolder', 'delete'] as const;
export type RunAction = (typeof RUN_ACTIONS)[number];

export const ACTION_MESSAGES: Readonly<Record<RunAction, MessageType<Empty>>> = {
  stop: StopMessage,
  resume: ResumeMessage,
  restart: RestartMessage,
  revealFolder: RevealFolderMessage,
  openLog: OpenLogMessage,
  merge: MergeMessage,
  openWandb: OpenWandbMessage,
  delete: DeleteMessage,
};

export interface ActionContext {
  readonly status: RunStatus;
  /** Checkpoints the run's events announced. */
  readonly checkpoints: number;
  /** From the run's config; undefined while unknown (LoRA is the default). */
  readonly loraEnabled?: boolean;
  /** The trainer reported an online W&B run. */
  readonly wandb?: boolean;
}

/**
 * The actions that fit a run now: Stop while it is active; Resume when it stopped, failed or
 * was lost with a checkpoint to resume from; Restart (with an edited config), Merge and
 * Delete once it has ended. Merging needs a LoRA adapter, from the end of training or a
 * checkpoint.
 */
export function actionsFor(context: ActionContext): RunAction[] {
  const ended = TERMINAL_STATUSES.has(context.status);
  const fits: Readonly<Record<RunAction, boolean>> = {
    stop: !ended,
    resume: ended && context.status !== 'finished' && context.checkpoints > 0,
    restart: ended,
    merge: ended && context.loraEnabled !== false && (context.status === 'finished' || context.checkpoints > 0),
    openLog: true,
    openWandb: context.wandb === true,
    revealFolder: true,
    delete: ended,
  };
  return RUN_ACTIONS.filter((action) => fits[action]);
}

// host -> webview.
export interface PanelRun {
  readonly runId: string;
  readonly title: string;
  readonly summary: RunSummary;
}
export interface InitPayload {
  readonly title: string;
  /** The panel's run, or the runs it overlays in compare mode, in legend order. */
  readonly runs: readonly PanelRun[];
  readonly compare: boolean;
}

/** Metrics events carry a split; progress events feed the throughput series. */
export type ColumnSplit = 'train' | 'eval' | 'progress';

/** One numeric field of one split, over a batch of events, rows in file order. */
export interface MetricColumn {
  readonly split: ColumnSplit;
  readonly field: string;
  readonly step: Float64Array;
  readonly epoch: Float64Array;
  /** Event time, unix seconds. */
  readonly t: Float64Array;
  /** NaN where the trainer logged null (a NaN or infinite value): drawn as a gap. */
  readonly y: Float64Array;
}

export interface EventsPayload {
  readonly runId: string;
  /** True when the webview must drop what it holds for this run first (first batch after `ready`). */
  readonly reset: boolean;
  /**
   * Every event but metrics and progress, in file order, and the batch's last progress event.
   * A `run_started` only ever comes first: the columns hold what was logged after it.
   */
  readonly events: readonly TrainerEvent[];
  readonly columns: readonly MetricColumn[];
}
export interface LogTailPayload {
  readonly text: string;
}
export interface ConfigDiffRow {
  /** Dotted path, list items by index: `data.sources[0].records`. */
  readonly path: string;
  /** One per run, in `runIds` order; null where that run's config has no such path. */
  readonly values: readonly (string | null)[];
}
export interface ConfigDiffPayload {
  readonly runIds: readonly string[];
  readonly rows: readonly ConfigDiffRow[];
  /** Runs whose config could not be read (not compared). */
  readonly missing: readonly string[];
  /** More rows differed than MAX_DIFF_ROWS. */
  readonly truncated: boolean;
}

const isBoundedString = (max: number) => (x: unknown): x is string => isString(x) && x.length <= max;
const isOptional = <T>(guard: (x: unknown) => x is T) => (x: unknown): x is T | undefined =>
  x === undefined || guard(x);
const isNumberOrNull = (x: unknown): x is number | null => x === null || isFiniteNumber(x);

const STATUSES: ReadonlySet<string> = new Set(RUN_STATUSES);
const PHASE_SET: ReadonlySet<string> = new Set(PHASES);
const LOG_LEVELS: ReadonlySet<string> = new Set<LogLevel>(['debug', 'info', 'warning', 'error']);
const FINISH: ReadonlySet<string> = new Set<FinishStatus>(['finished', 'failed', 'stopped']);
const SPLITS: ReadonlySet<string> = new Set<ColumnSplit>(['train', 'eval', 'progress']);

/** An http(s) URL of sane length: the only kind the panel offers to open. */
const isWebUrl = (x: unknown): x is string => isBoundedString(2048)(x) && /^https?:\/\/[^\s]+$/.test(x);

export function isRunSummary(x: unknown): x is RunSummary {
  return (
    isObject(x) &&
    isBoundedString(MAX_ID_LENGTH)(x.runId) &&
    isString(x.status) &&
    STATUSES.has(x.status as RunStatus) &&
    isOptional(isFiniteNumber)(x.step) &&
    isOptional(isFiniteNumber)(x.maxSteps) &&
    isOptional(isFiniteNumber)(x.epoch) &&
    isOptional(isNumberOrNull)(x.etaS) &&
    isOptional(isNumberOrNull)(x.samplesPerS) &&
    isOptional(isFiniteNumber)(x.startedAt) &&
    isOptional(isFiniteNumber)(x.lastEventAt) &&
    isOptional(isBoundedString(MAX_LOG_TAIL_CHARS))(x.error) &&
    isOptional(isBoundedString(MAX_LOG_TAIL_CHARS))(x.reason) &&
    isOptional(isFiniteNumber)(x.attempt) &&
    isOptional(isFiniteNumber)(x.resumeStep) &&
    isOptional(isWebUrl)(x.wandbUrl)
  );
}

function isMetricValues(x: unknown): x is Readonly<Record<string, number | null>> {
  return isObject(x) && Object.values(x).every(isNumberOrNull);
}

/** Guards the parsed shape `toTrainerEvent` produces (not the raw events.jsonl line). */
export function isTrainerEvent(x: unknown): x is TrainerEvent {
  if (!isObject(x) || !isFiniteNumber(x.v) || !isFiniteNumber(x.t)) {
    return false;
  }
  switch (x.type) {
    case 'run_started':
      return (
        isString(x.run_id) &&
        isString(x.trainer_version) &&
        isFiniteNumber(x.world_size) &&
        isObject(x.config) &&
        isOptional(isFiniteNumber)(x.attempt) &&
        isOptional(isNumberOrNull)(x.resume_step)
      );
    case 'phase':
      return isString(x.phase) && PHASE_SET.has(x.phase);
    case 'progress':
      return (
        isFiniteNumber(x.step) &&
        isFiniteNumber(x.max_steps) &&
        isFiniteNumber(x.epoch) &&
        isNumberOrNull(x.samples_per_s) &&
        isNumberOrNull(x.eta_s)
      );
    case 'metrics':
      return isFiniteNumber(x.step) && isFiniteNumber(x.epoch) && (x.split === 'train' || x.split === 'eval') && isMetricValues(x.values);
    case 'checkpoint':
      return isFiniteNumber(x.step) && isString(x.path);
    case 'log':
      return isString(x.level) && LOG_LEVELS.has(x.level) && isString(x.message);
    case 'error':
      return isString(x.message) && isString(x.traceback) && isOptional(isFiniteNumber)(x.record);
    case 'run_finished':
      return isString(x.status) && FINISH.has(x.status);
    default:
      return false;
  }
}

function isPanelRun(x: unknown): x is PanelRun {
  return (
    isObject(x) &&
    isBoundedString(MAX_ID_LENGTH)(x.runId) &&
    isBoundedString(MAX_TITLE_LENGTH)(x.title) &&
    isRunSummary(x.summary) &&
    x.summary.runId === x.runId
  );
}

function isInitPayload(x: unknown): x is InitPayload {
  return (
    isObject(x) &&
    isBoundedString(MAX_TITLE_LENGTH)(x.title) &&
    typeof x.compare === 'boolean' &&
    Array.isArray(x.runs) &&
    x.runs.length >= 1 &&
    x.runs.length <= MAX_COMPARE_RUNS &&
    x.runs.every(isPanelRun) &&
    new Set(x.runs.map((run: PanelRun) => run.runId)).size === x.runs.length
  );
}

/** A metric field name as the protocol carries it (bounded, never `__proto__`). */
export function isFieldName(x: unknown): x is string {
  return isString(x) && x.length > 0 && x.length <= MAX_FIELD_LENGTH && x !== '__proto__';
}

export function isMetricColumn(x: unknown): x is MetricColumn {
  if (!isObject(x) || !isString(x.split) || !SPLITS.has(x.split) || !isFieldName(x.field)) {
    return false;
  }
  const { step, epoch, t, y } = x;
  return (
    step instanceof Float64Array &&
    epoch instanceof Float64Array &&
    t instanceof Float64Array &&
    y instanceof Float64Array &&
    step.length <= MAX_ROWS_PER_MESSAGE &&
    epoch.length === step.length &&
    t.length === step.length &&
    y.length === step.length
  );
}

function isEventsPayload(x: unknown): x is EventsPayload {
  return (
    isObject(x) &&
    isBoundedString(MAX_ID_LENGTH)(x.runId) &&
    typeof x.reset === 'boolean' &&
    Array.isArray(x.events) &&
    x.events.length <= MAX_EVENTS_PER_MESSAGE &&
    x.events.every(isTrainerEvent) &&
    x.events.every((event: TrainerEvent, i: number) => i === 0 || event.type !== 'run_started') &&
    Array.isArray(x.columns) &&
    x.columns.length <= MAX_COLUMNS_PER_MESSAGE &&
    x.columns.every(isMetricColumn)
  );
}

function isLogTailPayload(x: unknown): x is LogTailPayload {
  return isObject(x) && isBoundedString(MAX_LOG_TAIL_CHARS)(x.text);
}

function isConfigDiffPayload(x: unknown): x is ConfigDiffPayload {
  if (
    !isObject(x) ||
    !Array.isArray(x.runIds) ||
    x.runIds.length > MAX_COMPARE_RUNS ||
    !x.runIds.every(isBoundedString(MAX_ID_LENGTH)) ||
    !Array.isArray(x.missing) ||
    !x.missing.every((id: unknown) => isString(id) && (x.runIds as unknown[]).includes(id)) ||
    typeof x.truncated !== 'boolean' ||
    !Array.isArray(x.rows) ||
    x.rows.length > MAX_DIFF_ROWS
  ) {
    return false;
  }
  const runs = x.runIds.length;
  const isValue = (v: unknown): boolean => v === null || isBoundedString(MAX_DIFF_VALUE_LENGTH)(v);
  return x.rows.every(
    (row: unknown) =>
      isObject(row) &&
      isBoundedString(MAX_DIFF_PATH_LENGTH)(row.path) &&
      Array.isArray(row.values) &&
      row.values.length === runs &&
      row.values.every(isValue),
  );
}

export const InitMessage = defineMessage<InitPayload>('runPanel/init', isInitPayload);
export const EventsMessage = defineMessage<EventsPayload>('runPanel/events', isEventsPayload);
export const SummaryMessage = defineMessage<RunSummary>('runPanel/summary', isRunSummary);
export const LogTailMessage = defineMessage<LogTailPayload>('runPanel/logTail', isLogTailPayload);
/** Compare mode: the config paths whose values differ between the runs. */
export const ConfigDiffMessage = defineMessage<ConfigDiffPayload>('runPanel/configDiff', isConfigDiffPayload);

/** Keeps the end of a log so it fits one message, cut at a line start where possible. */
export function clampLogTail(text: string): string {
  if (text.length <= MAX_LOG_TAIL_CHARS) {
    return text;
  }
  const tail = text.slice(text.length - MAX_LOG_TAIL_CHARS);
  const newline = tail.indexOf('\n');
  return newline >= 0 && newline < 4096 ? tail.slice(newline + 1) : tail;
}
