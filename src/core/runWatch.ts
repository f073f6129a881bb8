// Follows one run directory: its events, its run.json and whether its process is alive,
// and keeps the derived summary current. Shared by the extension's run registry and the
// `npm start` demo, so both see a run the same way.

import { stat } from 'node:fs/promises';
import path from 'node:path';
import type { TrainerEvent } from '../shared/events';
import type { RunSummary } from '../shared/runStatus';
import { TERMINAL_STATUSES } from '../shared/runStatus';
import { followEvents } from './eventsTail';
import type { EventsFollower } from './eventsTail';
import { isProcessAlive } from './processAlive';
import { createdTime, readRunInfo, runPaths } from './runDir';
import type { RunInfo } from './runDir';
import { deriveSummary, EMPTY_RUN_STATE, reduceRunEvents } from './runStatus';
import type { Liveness, RunEventsState } from './runStatus';

export interface RunWatchOptions {
  /** New events in file order; `reset` means the file started over and earlier events are void. */
  readonly onEvents?: (events: readonly TrainerEvent[], reset: boolean) => void;
  /** Called with the first summary once `ready`, then whenever it changes. */
  readonly onSummary?: (summary: RunSummary) => void;
  readonly onError?: (err: unknown) => void;
  /** Keep every event in memory (for late subscribers). Default true. */
  readonly retainEvents?: boolean;
  /** Events polling interval. Default 1000 ms. */
  readonly pollMs?: number;
  /** How often to check that the process is alive. Default 2000 ms. */
  readonly livenessMs?: number;
}

export class RunWatch {
  readonly runId: string;
  /** Resolves after the first read of events and liveness; `summary` is meaningful from then on. */
  readonly ready: Promise<void>;
  private stateValue: RunEventsState = EMPTY_RUN_STATE;
  private summaryValue: RunSummary;
  private infoValue: RunInfo | undefined;
  private lastLiveness: Liveness = { hasRunInfo: false, alive: false, dirAgeMs: 0 };
  private readonly retained: TrainerEvent[] = [];
  private readonly follower: EventsFollower;
  private readonly livenessTimer: NodeJS.Timeout;
  private isReady = false;
  private disposed = false;
  private resetPending = false;
  private readonly terminalWaiters: Array<(summary: RunSummary) => void> = [];

  constructor(
    readonly runDir: string,
    private readonly options: RunWatchOptions = {},
  ) {
    this.runId = path.basename(runDir);
    this.summaryValue = { runId: this.runId, status: 'starting' };
    this.follower = followEvents(runPaths(runDir).events, {
      pollMs: options.pollMs,
      onEvents: (events) => this.addEvents(events),
      onReset: () => {
        this.stateValue = EMPTY_RUN_STATE;
        this.retained.length = 0;
        this.resetPending = true;
      },
      onError: options.onError,
    });
    this.livenessTimer = setInterval(() => void this.refresh(), options.livenessMs ?? 2000);
    this.ready = this.refresh().then(() => {
      this.isReady = true;
      this.announce();
    });
  }

  get summary(): RunSummary {
    return this.summaryValue;
  }

  get state(): RunEventsState {
    return this.stateValue;
  }

  get info(): RunInfo | undefined {
    return this.infoValue;
  }

  /** Every event so far (empty when `retainEvents` is false). */
  get events(): readonly TrainerEvent[] {
    return this.retained;
  }

  get isTerminal(): boolean {
    return TERMINAL_STATUSES.has(this.summaryValue.status);
  }

  /** Resolves with the summary once the run has finished, failed, stopped or been lost. */
  async whenTerminal(): Promise<RunSummary> {
    await this.ready;
    if (this.isTerminal) {
      return this.summaryValue;
    }
    return new Promise((resolve) => this.terminalWaiters.push(resolve));
  }

  /** Reads new events and rechecks the process now; resolves when both are done. */
  async refresh(): Promise<void> {
    if (this.disposed) {
      return;
    }
    try {
      // Liveness first, events after: a run_finished written before the process exited is
      // then always read before the process is judged dead, so a clean exit never shows as lost.
      this.lastLiveness = await this.readLiveness();
      this.follower.poke();
      await this.follower.settled();
      this.setSummary(deriveSummary(this.runId, this.stateValue, this.lastLiveness));
    } catch (err) {
      this.options.onError?.(err);
    }
  }

  dispose(): void {
    this.disposed = true;
    this.follower.dispose();
    clearInterval(this.livenessTimer);
  }

  private addEvents(events: readonly TrainerEvent[]): void {
    if (this.disposed) {
      return;
    }
    const reset = this.resetPending;
    this.resetPending = false;
    this.stateValue = reduceRunEvents(this.stateValue, events);
    if (this.options.retainEvents ?? true) {
      this.retained.push(...events);
    }
    this.options.onEvents?.(events, reset);
    this.setSummary(deriveSummary(this.runId, this.stateValue, this.lastLiveness));
  }

  private async readLiveness(): Promise<Liveness> {
    // run.json is written once, right after the launcher spawns the trainer.
    this.infoValue ??= await readRunInfo(this.runDir);
    const info = this.infoValue;
    const alive = typeof info?.pid === 'number' && isProcessAlive(info.pid, info.pid_start_time);
    let dirAgeMs = Number.POSITIVE_INFINITY;
    try {
      dirAgeMs = Date.now() - createdTime(await stat(this.runDir));
    } catch {
      // A deleted run folder is as good as lost.
    }
    return { hasRunInfo: info !== undefined, alive, dirAgeMs };
  }

  private setSummary(next: RunSummary): void {
    if (JSON.stringify(next) === JSON.stringify(this.summaryValue)) {
      return;
    }
    this.summaryValue = next;
    if (this.isReady) {
      this.announce();
    }
  }

  private announce(): void {
    if (this.disposed) {
      return;
    }
    this.options.onSummary?.(this.summaryValue);
    if (this.isTerminal) {
      // Nothing more will change on its own: stop checking the process.
      clearInterval(this.livenessTimer);
      for (const resolve of this.terminalWaiters.splice(0)) {
        resolve(this.summaryValue);
      }
    }
  }
}
