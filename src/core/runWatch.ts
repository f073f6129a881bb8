// Follows one run directory: its events, its run.json and whether its process is alive,
// and keeps the derived summary current. Shared by the extension's run registry and the
// `npm start` demo, so both see a run the same way.
//
// A run that has ended can start again (resumed in the same folder), so the watch keeps
// looking for a new attempt after the end; that look is one readdir while nothing changes.
// A run folder deleted while watched reads as lost, with that reason; nothing throws.

import { open, stat, statfs } from 'node:fs/promises';
import path from 'node:path';
import type { TrainerEvent } from '../shared/events';
import type { RunSummary } from '../shared/runStatus';
import { TERMINAL_STATUSES } from '../shared/runStatus';
import { followEvents } from './eventsTail';
import type { EventsFollower } from './eventsTail';
import { isProcessAlive } from './processAlive';
import { createdTime, readRunInfo, readRunProcess, runPaths } from './runDir';
import type { RunInfo, RunProcess } from './runDir';
import { readExitRecord, readRemoteState } from './runEnd';
import type { RemoteState } from './runEnd';
import { deriveSummary, EMPTY_RUN_STATE, reduceRunEvents, STARTING_GRACE_MS } from './runStatus';
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
  private processValue: RunProcess | undefined;
  private lastLiveness: Liveness = { hasRunInfo: false, alive: false, dirAgeMs: 0 };
  /** What is known about an attempt whose process has ended: it cannot change any more. */
  private ended: { readonly attempt: number; readonly pid: number | null; readonly facts: Partial<Liveness> } | undefined;
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

  /** The latest attempt's process (its pid for stop, its attempt number), once known. */
  get process(): RunProcess | undefined {
    return this.processValue;
  }

  /** The run folder was deleted while watched. */
  get deleted(): boolean {
    return this.lastLiveness.deleted === true;
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
    let dirAgeMs: number;
    try {
      dirAgeMs = Date.now() - createdTime(await stat(this.runDir));
    } catch {
      this.ended = undefined;
      return { hasRunInfo: this.infoValue !== undefined, alive: false, dirAgeMs: Number.POSITIVE_INFINITY, deleted: true };
    }
    // run.json is written once, right after the launcher spawns the first attempt.
    this.infoValue ??= await readRunInfo(this.runDir);
    const proc = await readRunProcess(this.runDir, this.infoValue);
    this.processValue = proc;
    const hasRunInfo = this.infoValue !== undefined;
    const launching = proc?.pending !== undefined && Date.now() - proc.pending.claimedMs < STARTING_GRACE_MS;
    // While a resume starts, the attempt it claimed is the one the status is about.
    const attempt = launching ? proc?.pending?.attempt : proc?.attempt;
    const base = { hasRunInfo, dirAgeMs, ...(attempt !== undefined ? { attempt } : {}), ...(launching ? { launching } : {}) };
    if (proc === undefined) {
      return { ...base, alive: false };
    }
    const ended = this.ended;
    if (ended !== undefined && ended.attempt === proc.attempt && ended.pid === proc.pid) {
      return { ...base, ...ended.facts, alive: false };
    }
    let remote: RemoteState | undefined;
    if (this.infoValue?.target.kind === 'ssh') {
      // The process is on a host: its mirror (remote.json) says what was last learned there.
      // Until it says the process ended, the events decide; while the host cannot be reached,
      // the run is not taken for lost.
      remote = await readRemoteState(this.runDir);
      if (remote?.alive !== false) {
        this.ended = undefined;
        return {
          ...base,
          alive: true,
          ...(remote?.unreachable !== undefined ? { unreachable: remote.unreachable } : {}),
          ...(remote?.queued !== undefined ? { queued: remote.queued } : {}),
        };
      }
    } else if (typeof proc.pid === 'number' && isProcessAlive(proc.pid, proc.pid_start_time)) {
      this.ended = undefined;
      return { ...base, alive: true };
    }
    const facts = await this.endFacts(proc, remote);
    this.ended = { attempt: proc.attempt, pid: proc.pid, facts };
    return { ...base, ...facts, alive: false };
  }

  /** How the attempt's process ended: its exit record and, when that says it failed, the end of its log. */
  private async endFacts(proc: RunProcess, remote: RemoteState | undefined): Promise<Partial<Liveness>> {
    const record = await readExitRecord(this.runDir);
    // A SLURM job records no pid of its own (null): its attempt alone names the record.
    const jobRun = proc.pid === null && this.infoValue?.target.kind === 'ssh';
    const exit = record !== undefined && record.attempt === proc.attempt && (jobRun || record.pid === proc.pid) ? record : undefined;
    const host = this.infoValue?.target.kind === 'ssh' ? { host: this.infoValue.target.name } : {};
    const free = (): Promise<number | undefined> => (remote !== undefined ? Promise.resolve(remote.free_bytes) : freeSpace(this.runDir));
    if (exit === undefined) {
      // No exit record: the whole group was killed, or the disk was too full to write it.
      const freeBytes = await free();
      return { ...host, ...(freeBytes !== undefined ? { freeBytes } : {}) };
    }
    if (exit.code === 0 && exit.signal === null) {
      return { exit };
    }
    const [logTail, freeBytes] = await Promise.all([readLogTail(runPaths(this.runDir).stdoutLog), free()]);
    return { exit, ...host, ...(logTail !== undefined ? { logTail } : {}), ...(freeBytes !== undefined ? { freeBytes } : {}) };
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
      for (const resolve of this.terminalWaiters.splice(0)) {
        resolve(this.summaryValue);
      }
    }
  }
}

export const LOG_TAIL_BYTES = 16 * 1024;
/** stdout.log lines the launcher writes before each resumed attempt's output. */
export const ATTEMPT_MARKER = '[medvlm-studio] attempt ';

/** The end of stdout.log, from the latest attempt's marker on; undefined when unreadable. */
export async function readLogTail(file: string, bytes = LOG_TAIL_BYTES): Promise<string | undefined> {
  let handle;
  try {
    handle = await open(file, 'r');
  } catch {
    return undefined;
  }
  try {
    const { size } = await handle.stat();
    const start = Math.max(0, size - bytes);
    const buffer = Buffer.alloc(size - start);
    const { bytesRead } = await handle.read(buffer, 0, buffer.length, start);
    const text = buffer.toString('utf8', 0, bytesRead);
    const marker = text.lastIndexOf(`\n${ATTEMPT_MARKER}`);
    return marker >= 0 ? text.slice(marker + 1) : text;
  } catch {
    return undefined;
  } finally {
    await handle.close();
  }
}

async function freeSpace(dir: string): Promise<number | undefined> {
  try {
    const fs = await statfs(dir);
    return fs.bavail * fs.bsize;
  } catch {
    return undefined;
  }
}
