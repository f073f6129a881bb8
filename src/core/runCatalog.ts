// Every run under the runs root, rebuilt from the run folders (so a window reload loses
// nothing, and a run still training is followed again), with one RunWatch per run that is
// live or has subscribers (open run panels). No `vscode` here: the extension's RunRegistry
// wraps it with events and a file watcher, and tests drive it on real folders.

import { compareRunsNewestFirst, listRuns } from './runDir';
import type { RunDirEntry, RunInfo } from './runDir';
import { NO_ARTIFACTS, scanRunArtifacts } from './runArtifacts';
import type { RunArtifacts } from './runArtifacts';
import { EMPTY_RUN_STATE } from './runStatus';
import type { RunEventsState } from './runStatus';
import { RunWatch } from './runWatch';
import type { RunWatchOptions } from './runWatch';
import type { TrainerEvent } from '../shared/events';
import type { RunSummary } from '../shared/runStatus';
import { TERMINAL_STATUSES } from '../shared/runStatus';

export interface RunRecord {
  readonly runId: string;
  readonly runDir: string;
  /** The original config file, from run.json. */
  readonly configPath?: string;
  /** run.json, once the launcher has written it. */
  readonly info?: RunInfo;
  readonly createdMs: number;
  readonly summary: RunSummary;
  readonly state: RunEventsState;
  readonly artifacts: RunArtifacts;
  /**
   * The run folder was deleted while something (a run panel) still followed the run; the
   * record stays, with its last events, until the last subscriber lets go.
   */
  readonly removed: boolean;
}

export interface RunSubscriber {
  readonly onEvents: (events: readonly TrainerEvent[]) => void;
  readonly onSummary: (summary: RunSummary) => void;
}

export interface RunEnded {
  readonly runId: string;
  readonly summary: RunSummary;
}

export interface RunCatalogOptions {
  /** The runs root now (a setting may change it between scans). */
  readonly root: () => string | undefined;
  /** The list of runs, a run's summary or its files changed. */
  readonly onChange?: () => void;
  /** A run seen alive by this catalog has finished, failed, stopped or been lost. */
  readonly onEnd?: (ended: RunEnded) => void;
  /** A scan found a different runs root than the previous one. */
  readonly onRootChange?: (root: string | undefined) => void;
  readonly onWarning?: (message: string) => void;
  /** Polling intervals of the watches (tests make them short). */
  readonly watch?: Pick<RunWatchOptions, 'pollMs' | 'livenessMs'>;
}

/** Why a run whose folder has gone is lost (the words RunWatch uses for it too). */
export const REMOVED_REASON = 'the run folder was deleted';

interface Entry {
  dir: RunDirEntry;
  watch?: RunWatch;
  summary: RunSummary;
  state: RunEventsState;
  info?: RunInfo;
  artifacts: RunArtifacts;
  /** Chains artifact scans, so an older scan never overwrites a newer one. */
  artifactScan: Promise<void>;
  seenLive: boolean;
  removed: boolean;
  readonly subscribers: Set<RunSubscriber>;
}

export class RunCatalog {
  private readonly entries = new Map<string, Entry>();
  /** Runs whose folder is gone but whose subscribers are still there. */
  private readonly removedEntries = new Map<string, Entry>();
  private root: string | undefined;
  private refreshing: Promise<void> | undefined;
  private queued: Promise<void> | undefined;
  private disposed = false;

  constructor(private readonly options: RunCatalogOptions) {}

  get runsRoot(): string | undefined {
    return this.root;
  }

  /** Runs whose folder exists, newest first. */
  list(): RunRecord[] {
    return [...this.entries.values()].sort((a, b) => compareRunsNewestFirst(a.dir, b.dir)).map(toRecord);
  }

  /** A run by id, including one whose folder was deleted while it was followed (`removed`). */
  get(runId: string): RunRecord | undefined {
    const entry = this.entries.get(runId) ?? this.removedEntries.get(runId);
    return entry ? toRecord(entry) : undefined;
  }

  /** Whether something (a run panel) follows the run now. */
  hasSubscribers(runId: string): boolean {
    return (this.entries.get(runId)?.subscribers.size ?? 0) > 0 || (this.removedEntries.get(runId)?.subscribers.size ?? 0) > 0;
  }

  /**
   * Rescans the runs root. Resolves after a scan that began after this call, so a caller that
   * just created a run folder finds it; calls during a scan share the one scan queued after it.
   */
  refresh(): Promise<void> {
    if (this.refreshing) {
      this.queued ??= this.refreshing.then(() => {
        this.queued = undefined;
        return this.refresh();
      });
      return this.queued;
    }
    const scan = this.scan()
      .catch((err: unknown) => this.options.onWarning?.(`scanning runs: ${String(err)}`))
      .finally(() => {
        if (this.refreshing === scan) {
          this.refreshing = undefined;
        }
      });
    this.refreshing = scan;
    return scan;
  }

  /**
   * Calls `onEvents` with every event so far and then each new batch, and `onSummary` with the
   * summary now and each change. Returns the function that ends the subscription.
   */
  subscribe(runId: string, subscriber: RunSubscriber): () => void {
    const entry = this.entries.get(runId) ?? this.removedEntries.get(runId);
    if (!entry) {
      return () => undefined;
    }
    const watch = entry.removed ? undefined : this.ensureWatch(entry);
    // The snapshot and the registration happen in one turn, so no batch is missed or repeated.
    if (watch && watch.events.length > 0) {
      subscriber.onEvents([...watch.events]);
    }
    subscriber.onSummary(entry.summary);
    entry.subscribers.add(subscriber);
    return () => {
      entry.subscribers.delete(subscriber);
      if (entry.removed) {
        if (entry.subscribers.size === 0 && this.removedEntries.get(runId) === entry) {
          this.removedEntries.delete(runId);
        }
        return;
      }
      this.releaseIfIdle(entry);
    };
  }

  /**
   * Follows a run again after a new attempt started in its folder (a resume). A watch that is
   * still there (a panel follows the run) notices the attempt itself and is only asked to look
   * now; a run nobody followed had its watch released when it ended and gets a new one.
   */
  async rewatch(runId: string): Promise<void> {
    await this.refresh();
    const entry = this.entries.get(runId);
    if (!entry) {
      return;
    }
    // This window started the attempt: its end is worth a notification, even one that comes
    // before the attempt was ever seen running.
    entry.seenLive = true;
    entry.summary = { runId, status: 'starting' };
    this.changed();
    const existing = entry.watch;
    if (existing) {
      await existing.refresh();
      return;
    }
    const watch = this.ensureWatch(entry);
    await watch.ready;
    this.releaseIfIdle(entry);
  }

  /** Reads a followed run's new events and checks its process now (after a stop, say). */
  async refreshWatch(runId: string): Promise<void> {
    await this.entries.get(runId)?.watch?.refresh();
  }

  /** Rereads one run's checkpoints and merged models (after a merge, say). */
  async rescanArtifacts(runId: string): Promise<void> {
    const entry = this.entries.get(runId);
    if (entry) {
      await this.scanArtifacts(entry);
      this.changed();
    }
  }

  dispose(): void {
    this.disposed = true;
    for (const entry of [...this.entries.values(), ...this.removedEntries.values()]) {
      entry.watch?.dispose();
    }
    this.entries.clear();
    this.removedEntries.clear();
  }

  private async scan(): Promise<void> {
    const root = this.options.root();
    if (root !== this.root) {
      this.root = root;
      this.options.onRootChange?.(root);
      for (const entry of this.entries.values()) {
        this.remove(entry);
      }
    }
    const dirs = root === undefined ? [] : await listRuns(root);
    if (this.disposed) {
      return;
    }
    const seen = new Set(dirs.map((d) => d.runId));
    for (const [runId, entry] of this.entries) {
      if (!seen.has(runId)) {
        this.remove(entry);
      }
    }
    const added: Entry[] = [];
    for (const dir of dirs) {
      const existing = this.entries.get(dir.runId);
      if (existing) {
        existing.dir = dir;
        // run.json comes after the folder: the launcher writes it once the trainer runs.
        existing.info ??= dir.info;
        continue;
      }
      const entry: Entry = {
        dir,
        summary: { runId: dir.runId, status: 'starting' },
        state: EMPTY_RUN_STATE,
        ...(dir.info ? { info: dir.info } : {}),
        artifacts: NO_ARTIFACTS,
        artifactScan: Promise.resolve(),
        seenLive: false,
        removed: false,
        subscribers: new Set(),
      };
      this.entries.set(dir.runId, entry);
      this.ensureWatch(entry);
      added.push(entry);
    }
    await Promise.all(added.map((entry) => entry.watch?.ready));
    // Every scan rereads the files of every run: checkpoints come and go without events
    // (rotation, a merge or a delete from a terminal), and a scan is what the user asks for.
    await Promise.all([...this.entries.values()].map((entry) => this.scanArtifacts(entry)));
    if (this.disposed) {
      return;
    }
    for (const entry of added) {
      this.releaseIfIdle(entry);
    }
    this.changed();
  }

  /** Drops a run whose folder is gone; its subscribers keep a record marked removed. */
  private remove(entry: Entry): void {
    const runId = entry.dir.runId;
    entry.watch?.dispose();
    entry.watch = undefined;
    this.entries.delete(runId);
    if (entry.subscribers.size === 0) {
      return;
    }
    entry.removed = true;
    entry.artifacts = NO_ARTIFACTS;
    // A run that had ended keeps its outcome; one that had not can no longer be followed.
    if (!isTerminal(entry.summary)) {
      entry.summary = { ...entry.summary, status: 'lost', reason: REMOVED_REASON };
    }
    this.removedEntries.set(runId, entry);
    for (const subscriber of entry.subscribers) {
      subscriber.onSummary(entry.summary);
    }
  }

  private ensureWatch(entry: Entry): RunWatch {
    if (entry.watch) {
      return entry.watch;
    }
    const watch = new RunWatch(entry.dir.runDir, {
      ...this.options.watch,
      onEvents: (events) => {
        if (entry.watch !== watch) {
          return;
        }
        entry.state = watch.state;
        for (const subscriber of entry.subscribers) {
          subscriber.onEvents(events);
        }
        // A checkpoint event changes no summary, but a new child in the Runs view.
        if (events.some((e) => e.type === 'checkpoint')) {
          void this.scanArtifacts(entry).then(() => this.changed());
        }
      },
      onSummary: (summary) => {
        if (entry.watch === watch) {
          this.onSummary(entry, watch, summary);
        }
      },
      onError: (err) => this.options.onWarning?.(`${entry.dir.runId}: ${String(err)}`),
    });
    entry.watch = watch;
    return watch;
  }

  private onSummary(entry: Entry, watch: RunWatch, summary: RunSummary): void {
    const previous = entry.summary;
    entry.summary = summary;
    entry.state = watch.state;
    entry.info ??= watch.info;
    // Only a run seen alive here ends here: old runs found on disk announce nothing.
    if (!isTerminal(summary)) {
      entry.seenLive = true;
    } else if (entry.seenLive && !isTerminal(previous)) {
      this.options.onEnd?.({ runId: entry.dir.runId, summary });
    }
    for (const subscriber of entry.subscribers) {
      subscriber.onSummary(summary);
    }
    this.changed();
    // An ended run may have written its final adapter or merged model without an event.
    if (summary.status !== previous.status) {
      void this.scanArtifacts(entry).then(() => this.changed());
    }
    this.releaseIfIdle(entry);
  }

  private scanArtifacts(entry: Entry): Promise<void> {
    entry.artifactScan = entry.artifactScan.then(async () => {
      const artifacts = await scanRunArtifacts(entry.dir.runDir, entry.state.checkpoints);
      if (!entry.removed) {
        entry.artifacts = artifacts;
      }
    });
    return entry.artifactScan;
  }

  /** A finished run nobody looks at needs no watch; its summary and state stay. */
  private releaseIfIdle(entry: Entry): void {
    const watch = entry.watch;
    if (watch && watch.isTerminal && entry.subscribers.size === 0) {
      entry.state = watch.state;
      entry.summary = watch.summary;
      watch.dispose();
      entry.watch = undefined;
    }
  }

  private changed(): void {
    if (!this.disposed) {
      this.options.onChange?.();
    }
  }
}

function isTerminal(summary: RunSummary): boolean {
  return TERMINAL_STATUSES.has(summary.status);
}

function toRecord(entry: Entry): RunRecord {
  return {
    runId: entry.dir.runId,
    runDir: entry.dir.runDir,
    ...(entry.info ? { configPath: entry.info.config_path, info: entry.info } : {}),
    createdMs: entry.dir.createdMs,
    summary: entry.summary,
    state: entry.state,
    artifacts: entry.artifacts,
    removed: entry.removed,
  };
}
