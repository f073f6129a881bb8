// Derives a run's status from its events and whether its process is alive (design contract
// 5). The events are folded into a small state as they arrive, so neither the explorer nor
// the panel has to keep or rescan the whole file to know where a run stands.
//
// A resumed run appends a new attempt to the same events: each `run_started` begins one, and
// the latest attempt alone decides the status (a run stopped, then resumed, is running
// again). Its progress counts on from the step it resumed from.

import type { ExitRecord } from './runEnd';
import type { FinishStatus, Phase, ProgressEvent, RunStartedEvent, TrainerEvent } from '../shared/events';
import type { RunStatus, RunSummary } from '../shared/runStatus';
import { formatDuration } from '../shared/format';
import { TERMINAL_STATUSES } from '../shared/runStatus';

/** A folder with no run.json younger than this is a launch in progress, not a lost run. */
export const STARTING_GRACE_MS = 60_000;

export interface CheckpointRef {
  readonly step: number;
  readonly path: string;
}

export interface RunEventsState {
  readonly startedAt?: number;
  readonly lastEventAt?: number;
  readonly phase?: Phase;
  readonly progress?: ProgressEvent;
  readonly lastEpoch?: number;
  /** How the current attempt ended, once it wrote run_finished. */
  readonly finished?: FinishStatus;
  /** First line of the current attempt's first error event. */
  readonly error?: string;
  /** Every checkpoint announced, once per path (a later save to the same folder replaces it). */
  readonly checkpoints: readonly CheckpointRef[];
  readonly eventCount: number;
  /** run_started events so far. */
  readonly starts?: number;
  /** The current attempt: its run_started's `attempt`, else the count of run_started events. */
  readonly attempt?: number;
  /** The step the current attempt resumed from; null or absent when it started fresh. */
  readonly resumeStep?: number | null;
  /** The W&B run's page, once the trainer reported it (an online W&B run). */
  readonly wandbUrl?: string;
}

export const EMPTY_RUN_STATE: RunEventsState = { checkpoints: [], eventCount: 0 };

export function firstLine(text: string): string {
  return text.trim().split(/\r?\n/, 1)[0] ?? '';
}

export function reduceRunEvents(state: RunEventsState, events: readonly TrainerEvent[]): RunEventsState {
  let next: RunEventsState = state;
  for (const event of events) {
    next = { ...next, lastEventAt: event.t, eventCount: next.eventCount + 1 };
    if (next.startedAt === undefined) {
      next = { ...next, startedAt: event.t };
    }
    switch (event.type) {
      case 'run_started':
        next = startAttempt(next, event);
        break;
      case 'phase':
        next = { ...next, phase: event.phase };
        break;
      case 'progress':
        next = { ...next, progress: event, lastEpoch: event.epoch };
        break;
      case 'metrics':
        next = { ...next, lastEpoch: event.epoch };
        break;
      case 'checkpoint':
        next = {
          ...next,
          checkpoints: [...next.checkpoints.filter((c) => c.path !== event.path), { step: event.step, path: event.path }],
        };
        break;
      case 'error':
        if (next.error === undefined) {
          next = { ...next, error: firstLine(event.message) };
        }
        break;
      case 'run_finished':
        next = { ...next, finished: event.status };
        break;
      case 'log':
        if (event.wandb_url !== undefined) next = { ...next, wandbUrl: event.wandb_url };
        break;
    }
  }
  return next;
}

/**
 * A run_started begins an attempt: phase, outcome and error start over. When it resumed from a
 * checkpoint, the steps after that checkpoint are trained again, so progress goes back to it.
 */
function startAttempt(state: RunEventsState, event: RunStartedEvent): RunEventsState {
  const starts = (state.starts ?? 0) + 1;
  const resumeStep = event.resume_step ?? null;
  return {
    checkpoints: state.checkpoints,
    eventCount: state.eventCount,
    starts,
    attempt: event.attempt ?? starts,
    resumeStep,
    // The run started when its first attempt did.
    startedAt: starts === 1 ? event.t : (state.startedAt ?? event.t),
    ...(state.lastEventAt !== undefined ? { lastEventAt: state.lastEventAt } : {}),
    ...(resumeStep !== null && state.progress !== undefined
      ? { progress: { ...state.progress, step: resumeStep, samples_per_s: null, eta_s: null } }
      : {}),
    ...(resumeStep !== null && state.lastEpoch !== undefined ? { lastEpoch: state.lastEpoch } : {}),
  };
}

export interface Liveness {
  /** run.json exists (the launcher got as far as starting the process). */
  readonly hasRunInfo: boolean;
  /** The recorded process is alive (pid and start time match). */
  readonly alive: boolean;
  /** Age of the run folder. */
  readonly dirAgeMs: number;
  /** The attempt the launcher started last (1: run.json; n: launch-n.json); absent when unknown. */
  readonly attempt?: number;
  /** A resume was claimed moments ago and its process is being started. */
  readonly launching?: boolean;
  /** How the latest attempt's process ended, from its supervisor's exit record (same attempt only). */
  readonly exit?: ExitRecord;
  /** The end of what the latest attempt printed (stdout.log), read once it ended without run_finished. */
  readonly logTail?: string;
  /** Free bytes on the run folder's file system, read once it ended without run_finished. */
  readonly freeBytes?: number;
  /** The remote target a run ran on (its name), for the reasons; absent for a local run. */
  readonly host?: string;
  /** The run folder is gone. */
  readonly deleted?: boolean;
  /** A remote run's host cannot be reached now: why (its status is the last one known). */
  readonly unreachable?: string;
  /** A SLURM job still waiting in the queue: why (Resources, Priority, ...). */
  readonly queued?: string;
}

/** Whether the events already hold the launcher's latest attempt (or, without launch facts, any). */
function eventsAreCurrent(state: RunEventsState, liveness: Liveness): boolean {
  return liveness.attempt === undefined || (state.attempt ?? 0) >= liveness.attempt;
}

export function deriveStatus(state: RunEventsState, liveness: Liveness): RunStatus {
  if (liveness.deleted) {
    return 'lost';
  }
  const current = eventsAreCurrent(state, liveness);
  if (current && state.finished !== undefined) {
    return state.finished;
  }
  if (liveness.alive && liveness.queued !== undefined) {
    // A pending job has not started the trainer: nothing of this attempt has run yet.
    return 'queued';
  }
  if (liveness.alive) {
    // A resumed attempt is starting until its own run_started arrives.
    return current ? (state.phase ?? 'starting') : 'starting';
  }
  if (liveness.launching || (!liveness.hasRunInfo && liveness.dirAgeMs < STARTING_GRACE_MS)) {
    return 'starting';
  }
  // Its supervisor saw it end, with no run_finished: it crashed or was killed. With the disk
  // full, the supervisor may not even have been able to write that down: it failed all the same.
  return liveness.exit !== undefined || endedOnFullDisk(liveness) ? 'failed' : 'lost';
}

/** Ended, with no exit record and next to no space left where the run folder is. */
function endedOnFullDisk(liveness: Liveness): boolean {
  return liveness.exit === undefined && liveness.freeBytes !== undefined && liveness.freeBytes < NEARLY_FULL_BYTES;
}

/**
 * One line on why a run failed or was lost when the trainer could not say it in an error event
 * (killed by a signal, a full disk, its folder deleted, its process vanished); undefined while
 * it runs, when it ended as asked, and when `error` holds the trainer's own words.
 */
export function deriveReason(state: RunEventsState, liveness: Liveness, status: RunStatus): string | undefined {
  if (status !== 'failed' && status !== 'lost') {
    return undefined;
  }
  if (liveness.deleted) {
    return 'the run folder was deleted';
  }
  if (eventsAreCurrent(state, liveness) && state.error !== undefined) {
    // The trainer said it itself: `error` carries it.
    return undefined;
  }
  const tail = liveness.logTail ?? '';
  const exit = liveness.exit;
  const ended =
    exit === undefined
      ? undefined
      : exit.signal !== null
        ? `the trainer was killed by ${exit.signal}${SIGNAL_HINTS[exit.signal] ?? ''}`
        : `the trainer exited with code ${exit.code ?? '?'} without reporting an error`;
  if (DISK_FULL.test(tail) || (liveness.freeBytes !== undefined && liveness.freeBytes < NEARLY_FULL_BYTES && exit?.code !== 0)) {
    const where = liveness.host !== undefined ? ` on ${liveness.host}` : '';
    const how = ended ?? (exit === undefined ? 'not even its exit status could be written' : undefined);
    return `disk full${where}: no space was left where the run folder is; free some space, then resume the run${how ? ` (${how})` : ''}`;
  }
  if (OUT_OF_MEMORY.test(tail)) {
    return `out of memory${ended ? ` (${ended})` : ''}: lower train.per_device_batch_size or model.max_length, turn on model.gradient_checkpointing, or use model.quantization: 4bit`;
  }
  if (ended !== undefined) {
    const last = lastErrorLine(tail);
    return last !== undefined ? `${ended}: ${last}` : ended;
  }
  if (status === 'lost') {
    return 'the trainer is gone without a word (no run_finished, no exit status): its whole process group was killed, or the machine restarted';
  }
  return undefined;
}

const SIGNAL_HINTS: Readonly<Record<string, string>> = {
  SIGKILL: ' (killed by hand, or by the system when memory ran out)',
  SIGTERM: ' (stopped before it could save)',
  SIGSEGV: ' (a crash in native code)',
  SIGABRT: ' (a crash in native code)',
  SIGBUS: ' (a crash in native code, or a file it mapped was cut short)',
};
const DISK_FULL = /No space left on device|disk full|Disk quota exceeded|\bENOSPC\b/i;
const OUT_OF_MEMORY = /\bMemoryError\b|Cannot allocate memory|can't allocate memory|out of memory/i;
const NEARLY_FULL_BYTES = 1 << 20;

/** The last line of a Python traceback (`SomeError: ...`), if the log ends with one. */
function lastErrorLine(tail: string): string | undefined {
  const lines = tail.split(/\r?\n/).map((l) => l.trim()).filter((l) => l.length > 0);
  for (let i = lines.length - 1; i >= 0 && i >= lines.length - 20; i -= 1) {
    const line = lines[i] ?? '';
    if (/^[A-Za-z_][\w.]*(Error|Exception|Interrupt|Exit)\b/.test(line)) {
      return line.length > 300 ? `${line.slice(0, 300)}…` : line;
    }
  }
  return undefined;
}

export function deriveSummary(runId: string, state: RunEventsState, liveness: Liveness): RunSummary {
  const status = deriveStatus(state, liveness);
  const progress = state.progress;
  const reason = deriveReason(state, liveness, status);
  const current = eventsAreCurrent(state, liveness);
  const attempt = Math.max(state.attempt ?? 0, liveness.attempt ?? 0);
  return {
    runId,
    status,
    ...(progress ? { step: progress.step, maxSteps: progress.max_steps, etaS: progress.eta_s, samplesPerS: progress.samples_per_s } : {}),
    ...(state.lastEpoch !== undefined ? { epoch: state.lastEpoch } : {}),
    ...(state.startedAt !== undefined ? { startedAt: state.startedAt } : {}),
    ...(state.lastEventAt !== undefined ? { lastEventAt: state.lastEventAt } : {}),
    ...((status === 'failed' || status === 'lost') && current && state.error !== undefined ? { error: state.error } : {}),
    ...(reason !== undefined ? { reason } : {}),
    ...(attempt > 1 ? { attempt } : {}),
    ...(current && typeof state.resumeStep === 'number' ? { resumeStep: state.resumeStep } : {}),
    ...(state.wandbUrl !== undefined ? { wandbUrl: state.wandbUrl } : {}),
    ...(liveness.unreachable !== undefined && !TERMINAL_STATUSES.has(status) ? { unreachable: liveness.unreachable } : {}),
    ...(status === 'queued' && liveness.queued !== undefined ? { queued: liveness.queued } : {}),
  };
}

/** `step 12/40 · ETA 1m 03s`, or '' before the first progress event. */
export function formatProgress(summary: RunSummary): string {
  if (summary.step === undefined || summary.maxSteps === undefined) {
    return '';
  }
  const eta =
    summary.etaS !== undefined && summary.etaS !== null && summary.status === 'training'
      ? ` · ETA ${formatDuration(summary.etaS)}`
      : '';
  return `step ${summary.step}/${summary.maxSteps}${eta}`;
}
