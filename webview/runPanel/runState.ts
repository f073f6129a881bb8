// What the page itself keeps of a run (the chart worker keeps the series): the latest
// progress, error and outcome, checkpoints, the latest eval values and the run's config, and
// the attempts of a resumed run. Each `events` payload is folded in here and what the charts
// need is handed on as a SeriesDelta. Pure (no DOM), so Node tests drive it.

import type { FinishStatus, Phase, TrainerEvent } from '../../src/shared/events';
import type { EventsPayload } from '../../src/shared/protocol/runPanel';
import type { SeriesColumn, SeriesDelta } from './series';
import { seriesForColumn } from './series';

export interface ProgressState {
  readonly step: number;
  readonly maxSteps: number;
  readonly epoch: number;
  readonly samplesPerS: number | null;
  readonly etaS: number | null;
  /** Event time (unix seconds), so the ETA can be counted down between events. */
  readonly t: number;
}

export interface ErrorState {
  readonly message: string;
  readonly traceback: string;
  readonly record?: number;
}

export interface LatestEval {
  readonly step: number;
  readonly values: Readonly<Record<string, number | null>>;
}

export class RunState {
  progress: ProgressState | undefined;
  error: ErrorState | undefined;
  finished: FinishStatus | undefined;
  phase: Phase | undefined;
  startedAt: number | undefined;
  lastEventAt: number | undefined;
  latestEval: LatestEval | undefined;
  /** The run's config, from its latest run_started. */
  config: Readonly<Record<string, unknown>> | undefined;
  /** Attempts seen: 1 for a run never resumed. */
  attempt = 0;
  private lastStartT: number | undefined;
  private lastStartAttempt: number | undefined;
  private readonly checkpointSteps = new Set<number>();

  constructor(readonly runId: string) {}

  get checkpoints(): number {
    return this.checkpointSteps.size;
  }

  /** False when the config turns LoRA off; undefined while unknown. */
  get loraEnabled(): boolean | undefined {
    const lora = this.config?.lora;
    if (typeof lora === 'object' && lora !== null && typeof (lora as { enabled?: unknown }).enabled === 'boolean') {
      return (lora as { enabled: boolean }).enabled;
    }
    return this.config === undefined ? undefined : true;
  }

  clear(): void {
    this.progress = undefined;
    this.error = undefined;
    this.finished = undefined;
    this.phase = undefined;
    this.startedAt = undefined;
    this.lastEventAt = undefined;
    this.latestEval = undefined;
    this.config = undefined;
    this.attempt = 0;
    this.lastStartT = undefined;
    this.lastStartAttempt = undefined;
    this.checkpointSteps.clear();
  }

  /** Folds one payload in; returns what the charts need from it. */
  apply(payload: EventsPayload): SeriesDelta {
    if (payload.reset) {
      this.clear();
    }
    let newAttempt: SeriesDelta['newAttempt'];
    const [first] = payload.events;
    if (first?.type === 'run_started') {
      newAttempt = this.startAttempt(first);
    }
    for (const event of payload.events) {
      this.applyEvent(event);
    }
    const columns: SeriesColumn[] = [];
    for (const column of payload.columns) {
      this.seeTimes(column.t);
      const series = seriesForColumn(column.split, column.field);
      if (series !== undefined) {
        columns.push({ series, step: column.step, epoch: column.epoch, t: column.t, y: column.y });
      }
      if (column.split === 'eval') {
        this.seeEval(column.field, column.step, column.y);
      }
    }
    return {
      runId: this.runId,
      reset: payload.reset,
      attempt: Math.max(1, this.attempt),
      ...(newAttempt !== undefined ? { newAttempt } : {}),
      columns,
      ...(this.progress !== undefined
        ? { extent: { maxSteps: this.progress.maxSteps, epochsPerStep: this.progress.step > 0 ? this.progress.epoch / this.progress.step : null } }
        : {}),
    };
  }

  /**
   * A run_started either opens the run, repeats one already seen (a re-delivered line, told
   * by its attempt number or time), or starts a resumed attempt: everything the earlier
   * attempts logged after its resume step is superseded, and its error and outcome with it.
   */
  private startAttempt(event: Extract<TrainerEvent, { type: 'run_started' }>): SeriesDelta['newAttempt'] {
    const repeat =
      this.lastStartT !== undefined &&
      (event.attempt !== undefined && this.lastStartAttempt !== undefined ? event.attempt <= this.lastStartAttempt : event.t <= this.lastStartT);
    if (repeat) {
      return undefined;
    }
    const opening = this.lastStartT === undefined;
    this.lastStartT = event.t;
    this.lastStartAttempt = event.attempt;
    this.attempt += 1;
    if (Object.keys(event.config).length > 0) {
      this.config = event.config;
    }
    if (opening) {
      return undefined;
    }
    const keepThroughStep = event.resume_step ?? null;
    this.error = undefined;
    this.finished = undefined;
    if (this.latestEval !== undefined && (keepThroughStep === null || this.latestEval.step > keepThroughStep)) {
      this.latestEval = undefined;
    }
    return { keepThroughStep };
  }

  private applyEvent(event: TrainerEvent): void {
    this.startedAt ??= event.t;
    this.lastEventAt = Math.max(this.lastEventAt ?? event.t, event.t);
    switch (event.type) {
      case 'run_started':
        if (this.attempt <= 1) {
          this.startedAt = event.t;
        }
        return;
      case 'phase':
        this.phase = event.phase;
        return;
      case 'progress':
        if (this.progress === undefined || event.t >= this.progress.t) {
          this.progress = {
            step: event.step,
            maxSteps: event.max_steps,
            epoch: event.epoch,
            samplesPerS: event.samples_per_s,
            etaS: event.eta_s,
            t: event.t,
          };
        }
        return;
      case 'checkpoint':
        this.checkpointSteps.add(event.step);
        return;
      case 'error':
        // The first error is the cause; later ones are usually fallout from shutting down.
        this.error ??= {
          message: event.message,
          traceback: event.traceback,
          ...(event.record !== undefined ? { record: event.record } : {}),
        };
        return;
      case 'run_finished':
        this.finished = event.status;
        return;
      case 'metrics':
      case 'log':
        return;
    }
  }

  private seeTimes(t: Float64Array): void {
    if (t.length === 0) {
      return;
    }
    const firstT = t[0] as number;
    const lastT = t[t.length - 1] as number;
    this.startedAt = Math.min(this.startedAt ?? firstT, firstT);
    this.lastEventAt = Math.max(this.lastEventAt ?? lastT, lastT);
  }

  /** The newest eval step's values, field by field (each field is its own column). */
  private seeEval(field: string, step: Float64Array, y: Float64Array): void {
    for (let i = 0; i < step.length; i++) {
      const s = step[i] as number;
      const value = Number.isFinite(y[i] as number) ? (y[i] as number) : null;
      if (this.latestEval === undefined || s > this.latestEval.step) {
        this.latestEval = { step: s, values: { [field]: value } };
      } else if (s === this.latestEval.step && !(field in this.latestEval.values)) {
        this.latestEval = { step: s, values: { ...this.latestEval.values, [field]: value } };
      }
    }
  }
}
