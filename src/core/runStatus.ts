// Derives a run's status from its events and whether its process is alive (design contract
// 5). The events are folded into a small state as they arrive, so neither the explorer nor
// the panel has to keep or rescan the whole file to know where a run stands.

import type { FinishStatus, Phase, ProgressEvent, TrainerEvent } from '../shared/events';
import type { RunStatus, RunSummary } from '../shared/runStatus';
import { formatDuration } from '../shared/format';

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
  readonly finished?: FinishStatus;
  /** First line of the first error event. */
  readonly error?: string;
  readonly checkpoints: readonly CheckpointRef[];
  readonly eventCount: number;
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
        next = { ...next, startedAt: event.t };
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
        next = { ...next, checkpoints: [...next.checkpoints, { step: event.step, path: event.path }] };
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
        break;
    }
  }
  return next;
}

export interface Liveness {
  /** run.json exists (the launcher got as far as starting the process). */
  readonly hasRunInfo: boolean;
  /** The recorded process is alive (pid and start time match). */
  readonly alive: boolean;
  /** Age of the run folder. */
  readonly dirAgeMs: number;
}

export function deriveStatus(state: RunEventsState, liveness: Liveness): RunStatus {
  if (state.finished !== undefined) {
    return state.finished;
  }
  if (liveness.alive) {
    return state.phase ?? 'starting';
  }
  if (!liveness.hasRunInfo && liveness.dirAgeMs < STARTING_GRACE_MS) {
    return 'starting';
  }
  return 'lost';
}

export function deriveSummary(runId: string, state: RunEventsState, liveness: Liveness): RunSummary {
  const status = deriveStatus(state, liveness);
  const progress = state.progress;
  return {
    runId,
    status,
    ...(progress ? { step: progress.step, maxSteps: progress.max_steps, etaS: progress.eta_s, samplesPerS: progress.samples_per_s } : {}),
    ...(state.lastEpoch !== undefined ? { epoch: state.lastEpoch } : {}),
    ...(state.startedAt !== undefined ? { startedAt: state.startedAt } : {}),
    ...(state.lastEventAt !== undefined ? { lastEventAt: state.lastEventAt } : {}),
    ...((status === 'failed' || status === 'lost') && state.error !== undefined ? { error: state.error } : {}),
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
