// Every run under the runs root, rebuilt from the run folders (so a window reload loses
// nothing), with one RunWatch per run that is live or open in a panel. The Runs view and
// the run panels read runs from here and never follow a run's files themselves.

import { open } from 'node:fs/promises';
import path from 'node:path';
import * as vscode from 'vscode';
import { compareRunsNewestFirst, listRuns, runPaths } from '../core/runDir';
import type { RunDirEntry, RunInfo } from '../core/runDir';
import { EMPTY_RUN_STATE } from '../core/runStatus';
import type { RunEventsState } from '../core/runStatus';
import { RunWatch } from '../core/runWatch';
import { stopLocalRun } from '../launch/localLauncher';
import type { StopOutcome } from '../launch/localLauncher';
import type { TrainerEvent } from '../shared/events';
import type { RunSummary } from '../shared/runStatus';
import { TERMINAL_STATUSES } from '../shared/runStatus';
import type { RunPanelLocations } from '../webviews/runPanel';
import type { RunPanelSource } from '../webviews/runPanelSource';
import { stopGraceMs } from '../settings';

export interface RunRecord {
  readonly runId: string;
  readonly runDir: string;
  /** The original config file, from run.json. */
  readonly configPath?: string;
  readonly createdMs: number;
  readonly summary: RunSummary;
  readonly state: RunEventsState;
}

interface Subscriber {
  readonly onEvents: (events: readonly TrainerEvent[]) => void;
  readonly onSummary: (summary: RunSummary) => void;
}

interface Entry {
  dir: RunDirEntry;
  watch?: RunWatch;
  summary: RunSummary;
  state: RunEventsState;
  info?: RunInfo;
  seenLive: boolean;
  readonly subscribers: Set<Subscriber>;
}

export interface RunEnded {
  readonly runId: string;
  readonly summary: RunSummary;
}

const REFRESH_DEBOUNCE_MS = 300;

export class RunRegistry implements vscode.Disposable {
  private readonly entries = new Map<string, Entry>();
  private readonly changed = new vscode.EventEmitter<void>();
  private readonly ended = new vscode.EventEmitter<RunEnded>();
  /** The list of runs or a run's summary changed. */
  readonly onDidChange = this.changed.event;
  /** A run this window saw running has finished, failed, stopped or been lost. */
  readonly onDidEnd = this.ended.event;
  private root: string | undefined;
  private rootWatcher: vscode.FileSystemWatcher | undefined;
  private refreshing: Promise<void> | undefined;
  private queued: Promise<void> | undefined;
  private debounce: NodeJS.Timeout | undefined;

  constructor(
    private readonly rootProvider: () => string | undefined,
    private readonly log: vscode.LogOutputChannel,
  ) {}

  get runsRoot(): string | undefined {
    return this.root;
  }

  /** Newest first. */
  list(): RunRecord[] {
    return [...this.entries.values()].sort((a, b) => compareRunsNewestFirst(a.dir, b.dir)).map(toRecord);
  }

  get(runId: string): RunRecord | undefined {
    const entry = this.entries.get(runId);
    return entry ? toRecord(entry) : undefined;
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
      .catch((err: unknown) => this.log.error(`scanning runs: ${String(err)}`))
      .finally(() => {
        if (this.refreshing === scan) {
          this.refreshing = undefined;
        }
      });
    this.refreshing = scan;
    return scan;
  }

  /** What a run panel needs to show `runId`. */
  panelSource(runId: string): (RunPanelSource & RunPanelLocations) | undefined {
    const entry = this.entries.get(runId);
    if (!entry) {
      return undefined;
    }
    const runDir = entry.dir.runDir;
    return {
      runId,
      title: runId,
      runDir: vscode.Uri.file(runDir),
      subscribe: (onEvents, onSummary) => this.subscribe(runId, { onEvents, onSummary }),
      readLogTail: (maxBytes) => readTail(runPaths(runDir).stdoutLog, maxBytes),
      stop: async () => {
        await this.stop(runId);
      },
    };
  }

  /** Stops a run (from the Stop command or a run panel); refused in an untrusted workspace. */
  async stop(runId: string): Promise<StopOutcome> {
    if (!vscode.workspace.isTrusted) {
      // Run folders are workspace content: a planted run.json must not get a process signalled.
      throw new Error('stopping runs is disabled in an untrusted workspace, because it signals the processes that run folders name.');
    }
    const entry = this.entries.get(runId);
    if (!entry) {
      return 'not-running';
    }
    this.log.info(`stopping ${runId}`);
    const outcome = await stopLocalRun(entry.dir.runDir, { graceMs: stopGraceMs() });
    this.log.info(`stop ${runId}: ${outcome}`);
    await entry.watch?.refresh();
    return outcome;
  }

  dispose(): void {
    clearTimeout(this.debounce);
    this.rootWatcher?.dispose();
    for (const entry of this.entries.values()) {
      entry.watch?.dispose();
    }
    this.entries.clear();
    this.changed.dispose();
    this.ended.dispose();
  }

  private async scan(): Promise<void> {
    const root = this.rootProvider();
    if (root !== this.root) {
      this.root = root;
      this.watchRoot(root);
      for (const entry of this.entries.values()) {
        entry.watch?.dispose();
      }
      this.entries.clear();
    }
    const dirs = root === undefined ? [] : await listRuns(root);
    const seen = new Set(dirs.map((d) => d.runId));
    for (const [runId, entry] of this.entries) {
      if (!seen.has(runId)) {
        entry.watch?.dispose();
        this.entries.delete(runId);
      }
    }
    const added: Entry[] = [];
    for (const dir of dirs) {
      const existing = this.entries.get(dir.runId);
      if (existing) {
        existing.dir = dir;
        existing.info ??= dir.info;
        continue;
      }
      const entry: Entry = {
        dir,
        summary: { runId: dir.runId, status: 'starting' },
        state: EMPTY_RUN_STATE,
        ...(dir.info ? { info: dir.info } : {}),
        seenLive: false,
        subscribers: new Set(),
      };
      this.entries.set(dir.runId, entry);
      this.ensureWatch(entry);
      added.push(entry);
    }
    await Promise.all(added.map((entry) => entry.watch?.ready));
    for (const entry of added) {
      this.releaseIfIdle(entry);
    }
    this.changed.fire();
  }

  private watchRoot(root: string | undefined): void {
    this.rootWatcher?.dispose();
    this.rootWatcher = undefined;
    if (root === undefined) {
      return;
    }
    // Inside a workspace folder the workspace's own recursive watcher sees the root appear
    // even when it does not exist yet; outside, watch the folder itself.
    const folder = vscode.workspace.getWorkspaceFolder(vscode.Uri.file(root));
    const pattern = folder
      ? new vscode.RelativePattern(folder, `${path.relative(folder.uri.fsPath, root).split(path.sep).join('/')}/*`)
      : new vscode.RelativePattern(vscode.Uri.file(root), '*');
    const watcher = vscode.workspace.createFileSystemWatcher(pattern, false, true, false);
    const schedule = (): void => {
      clearTimeout(this.debounce);
      this.debounce = setTimeout(() => void this.refresh(), REFRESH_DEBOUNCE_MS);
    };
    watcher.onDidCreate(schedule);
    watcher.onDidDelete(schedule);
    this.rootWatcher = watcher;
  }

  private ensureWatch(entry: Entry): RunWatch {
    if (entry.watch) {
      return entry.watch;
    }
    const watch = new RunWatch(entry.dir.runDir, {
      onEvents: (events) => {
        entry.state = watch.state;
        for (const subscriber of entry.subscribers) {
          subscriber.onEvents(events);
        }
      },
      onSummary: (summary) => this.onSummary(entry, watch, summary),
      onError: (err) => this.log.warn(`${entry.dir.runId}: ${String(err)}`),
    });
    entry.watch = watch;
    return watch;
  }

  private onSummary(entry: Entry, watch: RunWatch, summary: RunSummary): void {
    const previous = entry.summary;
    entry.summary = summary;
    entry.state = watch.state;
    entry.info ??= watch.info;
    // Only a run seen alive in this window ends here: old runs found on disk announce nothing.
    if (!isTerminal(summary)) {
      entry.seenLive = true;
    } else if (entry.seenLive && !isTerminal(previous)) {
      this.ended.fire({ runId: entry.dir.runId, summary });
    }
    for (const subscriber of entry.subscribers) {
      subscriber.onSummary(summary);
    }
    this.changed.fire();
    this.releaseIfIdle(entry);
  }

  private subscribe(runId: string, subscriber: Subscriber): vscode.Disposable {
    const entry = this.entries.get(runId);
    if (!entry) {
      return new vscode.Disposable(() => undefined);
    }
    const watch = this.ensureWatch(entry);
    // The snapshot and the registration happen in one turn, so no batch is missed or repeated.
    if (watch.events.length > 0) {
      subscriber.onEvents([...watch.events]);
    }
    subscriber.onSummary(entry.summary);
    entry.subscribers.add(subscriber);
    return new vscode.Disposable(() => {
      entry.subscribers.delete(subscriber);
      this.releaseIfIdle(entry);
    });
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
}

function isTerminal(summary: RunSummary): boolean {
  return TERMINAL_STATUSES.has(summary.status);
}

function toRecord(entry: Entry): RunRecord {
  return {
    runId: entry.dir.runId,
    runDir: entry.dir.runDir,
    ...(entry.info ? { configPath: entry.info.config_path } : {}),
    createdMs: entry.dir.createdMs,
    summary: entry.summary,
    state: entry.state,
  };
}

/** The last `maxBytes` of a file, starting at a line boundary; '' when it does not exist. */
async function readTail(file: string, maxBytes: number): Promise<string> {
  let handle;
  try {
    handle = await open(file, 'r');
  } catch {
    return '';
  }
  try {
    const { size } = await handle.stat();
    const start = Math.max(0, size - maxBytes);
    const buffer = Buffer.alloc(size - start);
    const { bytesRead } = await handle.read(buffer, 0, buffer.length, start);
    const text = buffer.toString('utf8', 0, bytesRead);
    return start > 0 ? text.slice(text.indexOf('\n') + 1) : text;
  } finally {
    await handle.close();
  }
}
