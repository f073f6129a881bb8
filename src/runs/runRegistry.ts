// The extension's view of every run: a RunCatalog (rebuilt from the run folders, one watch per
// live or open run) with VS Code events, a watcher on the runs root, and what a run panel
// needs. The Runs view, the status bar and the run panels read runs from here and never
// follow a run's files themselves.

import { open } from 'node:fs/promises';
import path from 'node:path';
import * as vscode from 'vscode';
import { RunCatalog } from '../core/runCatalog';
import type { RunEnded, RunRecord } from '../core/runCatalog';
import { runPaths } from '../core/runDir';
import { stopLocalRun } from '../launch/localStop';
import type { StopOutcome } from '../launch/localStop';
import { stopSshRun } from '../launch/sshLauncher';
import type { RunPanelLocations } from '../webviews/runPanel';
import type { RunPanelSource } from '../webviews/runPanelSource';
import { stopGraceMs } from '../settings';

export type { RunEnded, RunRecord } from '../core/runCatalog';

const REFRESH_DEBOUNCE_MS = 300;

export class RunRegistry implements vscode.Disposable {
  private readonly changed = new vscode.EventEmitter<void>();
  private readonly ended = new vscode.EventEmitter<RunEnded>();
  /** The list of runs, a run's summary or its files changed. */
  readonly onDidChange = this.changed.event;
  /** A run this window saw running has finished, failed, stopped or been lost. */
  readonly onDidEnd = this.ended.event;
  private readonly catalog: RunCatalog;
  private rootWatcher: vscode.FileSystemWatcher | undefined;
  private debounce: NodeJS.Timeout | undefined;

  constructor(
    rootProvider: () => string | undefined,
    private readonly log: vscode.LogOutputChannel,
  ) {
    this.catalog = new RunCatalog({
      root: rootProvider,
      onChange: () => this.changed.fire(),
      onEnd: (ended) => this.ended.fire(ended),
      onRootChange: (root) => this.watchRoot(root),
      onWarning: (message) => log.warn(message),
    });
  }

  get runsRoot(): string | undefined {
    return this.catalog.runsRoot;
  }

  /** Runs whose folder exists, newest first. */
  list(): RunRecord[] {
    return this.catalog.list();
  }

  /** A run by id; one whose folder was deleted while a panel showed it comes back `removed`. */
  get(runId: string): RunRecord | undefined {
    return this.catalog.get(runId);
  }

  /** Whether a run panel (or anything else) follows the run now. */
  isFollowed(runId: string): boolean {
    return this.catalog.hasSubscribers(runId);
  }

  /** Rescans the runs root; resolves after a scan that began after this call. */
  refresh(): Promise<void> {
    return this.catalog.refresh();
  }

  /** After a new process started in a run's folder (resume): follow it again. */
  rewatch(runId: string): Promise<void> {
    return this.catalog.rewatch(runId);
  }

  /** Rereads a run's checkpoints and merged models. */
  rescanArtifacts(runId: string): Promise<void> {
    return this.catalog.rescanArtifacts(runId);
  }

  /** What a run panel needs to show `runId`. */
  panelSource(runId: string): (RunPanelSource & RunPanelLocations) | undefined {
    const record = this.catalog.get(runId);
    if (!record) {
      return undefined;
    }
    const runDir = record.runDir;
    return {
      runId,
      title: runId,
      runDir: vscode.Uri.file(runDir),
      subscribe: (onEvents, onSummary) => new vscode.Disposable(this.catalog.subscribe(runId, { onEvents, onSummary })),
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
    const record = this.catalog.get(runId);
    if (!record || record.removed) {
      return 'not-running';
    }
    this.log.info(`stopping ${runId}`);
    const outcome =
      record.info?.target.kind === 'ssh'
        ? await stopSshRun(record.runDir, { graceMs: stopGraceMs() })
        : await stopLocalRun(record.runDir, { graceMs: stopGraceMs() });
    this.log.info(`stop ${runId}: ${outcome}`);
    await this.catalog.refreshWatch(runId);
    return outcome;
  }

  dispose(): void {
    clearTimeout(this.debounce);
    this.rootWatcher?.dispose();
    this.catalog.dispose();
    this.changed.dispose();
    this.ended.dispose();
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
