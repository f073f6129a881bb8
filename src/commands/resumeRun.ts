// "Resume run": start the trainer again in a stopped, failed or lost run's folder, from its
// latest complete checkpoint or from the one chosen in the Runs view. The launcher relaunches
// it detached with `--resume-from`; the events go on in the same events.jsonl.

import path from 'node:path';
import * as vscode from 'vscode';
import type { Accounts } from '../accounts/accounts';
import type { CheckpointArtifact } from '../core/runArtifacts';
import { latestCompleteCheckpoint } from '../core/runArtifacts';
import { canResume, canResumeRemote } from '../core/runExplorer';
import { resumeLocalRun } from '../launch/localLauncher';
import { resumeSshRun } from '../launch/sshLauncher';
import type { RemoteMirrors } from '../runs/remoteMirrors';
import type { PythonEnvironment } from '../python/pythonEnv';
import type { RunRecord, RunRegistry } from '../runs/runRegistry';
import { STATUS_LABELS } from '../shared/runStatus';
import { pickRun } from './pickRun';
import { ensureTrusted, reportError } from './runGuards';

export interface ResumeRunDeps {
  readonly extensionUri: vscode.Uri;
  readonly python: PythonEnvironment;
  readonly registry: RunRegistry;
  /** Follows runs on remote targets. */
  readonly mirrors: RemoteMirrors;
  readonly log: vscode.LogOutputChannel;
  readonly openPanel: (runId: string) => void;
  /** The kept Hugging Face and W&B tokens, handed to the run in its environment. */
  readonly accounts: Accounts;
}

export function registerResumeRun(deps: ResumeRunDeps): vscode.Disposable {
  return vscode.commands.registerCommand('medvlm.resumeRun', async (arg?: unknown) => {
    try {
      await resumeRun(deps, arg);
    } catch (err) {
      await reportError(deps.log, 'Resume run', err);
    }
  });
}

/** The checkpoint folder of a checkpoint node of the Runs view. */
function checkpointPathFromArgument(arg: unknown): string | undefined {
  if (typeof arg !== 'object' || arg === null) {
    return undefined;
  }
  const checkpoint = (arg as { checkpoint?: { path?: unknown } }).checkpoint;
  return typeof checkpoint?.path === 'string' ? checkpoint.path : undefined;
}

async function resumeRun(deps: ResumeRunDeps, arg: unknown): Promise<void> {
  if (!(await ensureTrusted('Resume run'))) {
    return;
  }
  const chosenPath = checkpointPathFromArgument(arg);
  const record = await pickRun(deps.registry, arg, {
    filter: (r) =>
      r.info?.target.kind === 'ssh'
        ? chosenPath === undefined && canResumeRemote(r.summary.status, r.state.checkpoints.length)
        : canResume(r.summary.status, r.artifacts),
    prompt: 'Run to resume from its latest complete checkpoint',
    none: 'no stopped, failed or lost run has a complete checkpoint to resume from.',
  });
  if (!record) {
    return;
  }
  const { runId, summary, artifacts } = record;
  if (!['stopped', 'failed', 'lost'].includes(summary.status)) {
    void vscode.window.showErrorMessage(
      `MedVLM: run ${runId} is ${STATUS_LABELS[summary.status]}; only a stopped, failed or lost run can be resumed.`,
    );
    return;
  }
  if (record.info?.target.kind === 'ssh') {
    await resumeOnHost(deps, record, chosenPath);
    return;
  }
  let from: CheckpointArtifact | undefined;
  if (chosenPath !== undefined) {
    from = artifacts.checkpoints.find((c) => path.resolve(c.path) === path.resolve(chosenPath));
    if (!from?.complete) {
      void vscode.window.showErrorMessage(
        `MedVLM: ${path.basename(chosenPath)} is not a complete checkpoint (it needs trainer_state.json and its weights), so training cannot resume from it.`,
      );
      return;
    }
  } else {
    from = latestCompleteCheckpoint(artifacts);
    if (!from) {
      void vscode.window.showErrorMessage(`MedVLM: run ${runId} has no complete checkpoint to resume from.`);
      return;
    }
  }
  const python = await deps.python.resolve();
  const env = await deps.accounts.runEnvironment();
  // A run that has just written its end may still be exiting (saving, releasing the GPU):
  // resumeLocalRun waits a little for that process and refuses one that is really alive.
  const started = await vscode.window.withProgress(
    { location: vscode.ProgressLocation.Window, title: `Resuming ${runId}` },
    () =>
      resumeLocalRun({
        pythonPath: python,
        extensionRoot: deps.extensionUri.fsPath,
        runDir: record.runDir,
        from: chosenPath === undefined ? 'latest' : from.path,
        env,
      }),
  );
  deps.log.info(`resumed ${runId} from ${from.name} (pid ${started.pid})`);
  await deps.registry.rewatch(runId);
  deps.openPanel(runId);
}

/**
 * Resumes a run on its remote target, on the host, from the latest complete checkpoint there;
 * a checkpoint fetched here is a copy, and training goes on where the data and the rest are.
 */
async function resumeOnHost(deps: ResumeRunDeps, record: RunRecord, chosenPath: string | undefined): Promise<void> {
  const target = record.info?.target;
  if (target?.kind !== 'ssh') return;
  if (chosenPath !== undefined) {
    void vscode.window.showErrorMessage(
      `MedVLM: ${record.runId} trains on ${target.name}: it resumes there from its latest complete checkpoint (use Resume run on the run), not from a copy fetched to this machine.`,
    );
    return;
  }
  if (!canResumeRemote(record.summary.status, record.state.checkpoints.length)) {
    void vscode.window.showErrorMessage(`MedVLM: run ${record.runId} saved no checkpoint on ${target.name} to resume from.`);
    return;
  }
  const env = await deps.accounts.runEnvironment({});
  const secrets = Object.fromEntries(Object.entries(env).filter((entry): entry is [string, string] => entry[1] !== undefined));
  const started = await vscode.window.withProgress(
    { location: vscode.ProgressLocation.Notification, title: `MedVLM: resuming ${record.runId} on ${target.name}`, cancellable: true },
    async (progress, cancel) => {
      const abort = new AbortController();
      cancel.onCancellationRequested(() => abort.abort());
      return resumeSshRun({
        runDir: record.runDir,
        extensionRoot: deps.extensionUri.fsPath,
        secrets,
        signal: abort.signal,
        onProgress: (message) => {
          deps.log.info(`${target.name}: ${message}`);
          progress.report({ message });
        },
      });
    },
  );
  deps.log.info(`resumed ${record.runId} on ${target.name} (attempt ${started.attempt}, ${started.jobId !== undefined ? `SLURM job ${started.jobId}` : `pid ${String(started.pid)}`})`);
  await deps.registry.rewatch(record.runId);
  await deps.mirrors.follow(record.runId);
  deps.openPanel(record.runId);
}
