// The run panel's protocol, declared once. Both sides post and receive through these
// tokens; both sides validate what they receive, because events carry text the trainer wrote
// (log lines, tracebacks) and the webview is a separate context.

import type { FinishStatus, LogLevel, TrainerEvent } from '../events';
import { PHASES } from '../events';
import type { RunStatus, RunSummary } from '../runStatus';
import { RUN_STATUSES } from '../runStatus';
import { defineMessage, isEmpty, isFiniteNumber, isObject, isString } from './message';

// Bounds keep a confused or hostile sender from making the other side allocate without limit.
export const MAX_ID_LENGTH = 256;
export const MAX_TITLE_LENGTH = 1024;
/** The host sends the log tail in one message; it reads at most this much. */
export const MAX_LOG_TAIL_CHARS = 1024 * 1024;
/** The host splits larger backlogs into several `events` messages. */
export const MAX_EVENTS_PER_MESSAGE = 5000;

type Empty = Record<string, never>;

// webview -> host. All carry an empty payload: the webview only asks, it never names files,
// so a compromised webview cannot point the host at a path.
export const ReadyMessage = defineMessage<Empty>('runPanel/ready', isEmpty);
export const StopMessage = defineMessage<Empty>('runPanel/stop', isEmpty);
export const OpenLogMessage = defineMessage<Empty>('runPanel/openLog', isEmpty);
export const RevealFolderMessage = defineMessage<Empty>('runPanel/revealFolder', isEmpty);
export const RequestLogTailMessage = defineMessage<Empty>('runPanel/requestLogTail', isEmpty);

// host -> webview.
export interface InitPayload {
  readonly runId: string;
  readonly title: string;
  readonly summary: RunSummary;
}
export interface EventsPayload {
  /** Events as the registry parsed them (structured-cloned by postMessage). */
  readonly events: readonly TrainerEvent[];
  /** True when the webview must drop what it holds first (first batch after `ready`). */
  readonly reset: boolean;
}
export interface LogTailPayload {
  readonly text: string;
}

const isBoundedString = (max: number) => (x: unknown): x is string => isString(x) && x.length <= max;
const isOptional = <T>(guard: (x: unknown) => x is T) => (x: unknown): x is T | undefined =>
  x === undefined || guard(x);
const isNumberOrNull = (x: unknown): x is number | null => x === null || isFiniteNumber(x);

const STATUSES: ReadonlySet<string> = new Set(RUN_STATUSES);
const PHASE_SET: ReadonlySet<string> = new Set(PHASES);
const LOG_LEVELS: ReadonlySet<string> = new Set<LogLevel>(['debug', 'info', 'warning', 'error']);
const FINISH: ReadonlySet<string> = new Set<FinishStatus>(['finished', 'failed', 'stopped']);

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
    isOptional(isBoundedString(MAX_LOG_TAIL_CHARS))(x.error)
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
      return isString(x.run_id) && isString(x.trainer_version) && isFiniteNumber(x.world_size) && isObject(x.config);
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

function isInitPayload(x: unknown): x is InitPayload {
  return (
    isObject(x) &&
    isBoundedString(MAX_ID_LENGTH)(x.runId) &&
    isBoundedString(MAX_TITLE_LENGTH)(x.title) &&
    isRunSummary(x.summary)
  );
}

function isEventsPayload(x: unknown): x is EventsPayload {
  return (
    isObject(x) &&
    typeof x.reset === 'boolean' &&
    Array.isArray(x.events) &&
    x.events.length <= MAX_EVENTS_PER_MESSAGE &&
    x.events.every(isTrainerEvent)
  );
}

function isLogTailPayload(x: unknown): x is LogTailPayload {
  return isObject(x) && isBoundedString(MAX_LOG_TAIL_CHARS)(x.text);
}

export const InitMessage = defineMessage<InitPayload>('runPanel/init', isInitPayload);
export const EventsMessage = defineMessage<EventsPayload>('runPanel/events', isEventsPayload);
export const SummaryMessage = defineMessage<RunSummary>('runPanel/summary', isRunSummary);
export const LogTailMessage = defineMessage<LogTailPayload>('runPanel/logTail', isLogTailPayload);

/** Splits a backlog into `events` payloads within MAX_EVENTS_PER_MESSAGE; only the first resets. */
export function chunkEvents(events: readonly TrainerEvent[], reset: boolean): EventsPayload[] {
  const chunks: EventsPayload[] = [];
  for (let start = 0; start < events.length; start += MAX_EVENTS_PER_MESSAGE) {
    chunks.push({ events: events.slice(start, start + MAX_EVENTS_PER_MESSAGE), reset: reset && start === 0 });
  }
  if (chunks.length === 0 && reset) {
    // An empty reset still matters: it clears a webview that showed a previous load.
    chunks.push({ events: [], reset: true });
  }
  return chunks;
}

/** Keeps the end of a log so it fits one message, cut at a line start where possible. */
export function clampLogTail(text: string): string {
  if (text.length <= MAX_LOG_TAIL_CHARS) {
    return text;
  }
  const tail = text.slice(text.length - MAX_LOG_TAIL_CHARS);
  const newline = tail.indexOf('\n');
  return newline >= 0 && newline < 4096 ? tail.slice(newline + 1) : tail;
}
