// Keeps every remote run's mirror going while this window is open: a run started here, and
// after an editor restart or a window reload every remote run whose mirror is not complete
// (re-attach, design: remote runs). Mirrors start when the registry lists such a run and stop
// by themselves once the run has ended and everything it wrote is copied. A run that another
// window mirrors is left to it; when that window closes, the next look here takes it over.

import * as vscode from 'vscode';
import { RemoteRunMirror } from '../core/remote/remoteMirror';
import { readRunProcess } from '../core/runDir';
import { readRemoteState } from '../core/runEnd';
import { sshHostOf } from '../launch/sshLauncher';
import type { RunRecord, RunRegistry } from './runRegistry';

/** How often runs mirrored elsewhere (another window) are looked at again. */
const RECHECK_MS = 15_000;

export class RemoteMirrors implements vscode.Disposable {
  private readonly mirrors = new Map<string, RemoteRunMirror>();
  /**
   * Runs found complete (ended, all copied), not looked at again on every change; forgotten at
   * each periodic look, since another window may have resumed one meanwhile.
   */
  private readonly complete = new Set<string>();
  private readonly starting = new Set<string>();
  private readonly subscription: vscode.Disposable;
  private readonly timer: NodeJS.Timeout;
  private disposed = false;

  constructor(
    private readonly registry: RunRegistry,
    private readonly log: vscode.LogOutputChannel,
  ) {
    this.subscription = registry.onDidChange(() => void this.sync());
    this.timer = setInterval(() => {
      this.complete.clear();
      void this.sync();
    }, RECHECK_MS);
  }

  /** Starts a mirror for each remote run that needs one and has none in this window. */
  async sync(): Promise<void> {
    if (this.disposed || !vscode.workspace.isTrusted) return;
    await Promise.all(this.registry.list().map((record) => this.ensure(record)));
  }

  /** After a resume: follows the run's new attempt now. */
  async follow(runId: string): Promise<void> {
    this.complete.delete(runId);
    const record = this.registry.get(runId);
    if (record !== undefined) await this.ensure(record);
  }

  dispose(): void {
    this.disposed = true;
    this.subscription.dispose();
    clearInterval(this.timer);
    for (const mirror of this.mirrors.values()) void mirror.dispose();
    this.mirrors.clear();
  }

  private async ensure(record: RunRecord): Promise<void> {
    const info = record.info;
    const { runId } = record;
    if (info?.target.kind !== 'ssh' || record.removed) return;
    if (this.mirrors.has(runId) || this.starting.has(runId) || this.complete.has(runId)) return;
    this.starting.add(runId);
    try {
      // Complete (the run ended, all copied): nothing to do, until a resume says it runs again.
      if ((await readRemoteState(record.runDir))?.alive === false) {
        this.complete.add(runId);
        return;
      }
      // The latest attempt's process: run.json's, or a resume's launch record.
      const proc = await readRunProcess(record.runDir, info);
      const target = info.target;
      // A SLURM run is followed by its attempt's job; any other by its process.
      if (proc?.jobId === undefined && typeof proc?.pid !== 'number') return;
      const mirror = await RemoteRunMirror.start({
        host: sshHostOf(target),
        localDir: record.runDir,
        remoteDir: target.run_dir,
        pid: proc?.pid ?? null,
        startTime: proc?.pid_start_time ?? null,
        ...(proc?.jobId !== undefined ? { jobId: proc.jobId } : {}),
        onError: (err) => this.log.warn(`mirror of ${runId} on ${target.name}: ${err instanceof Error ? err.message : String(err)}`),
      });
      if (mirror === undefined || this.disposed) {
        void mirror?.dispose();
        return;
      }
      this.log.info(`following ${runId} on ${target.name} (${target.host}:${target.run_dir})`);
      this.mirrors.set(runId, mirror);
      void mirror.done.then(() => {
        if (this.mirrors.get(runId) === mirror) this.mirrors.delete(runId);
        void this.registry.rescanArtifacts(runId);
        // A resume may have started the next attempt while this one was being finished.
        void this.follow(runId);
      });
    } catch (err) {
      this.log.warn(`could not follow ${runId}: ${err instanceof Error ? err.message : String(err)}`);
    } finally {
      this.starting.delete(runId);
    }
  }
}
