// "Merge LoRA": fold an ended run's adapter into its base model (RUN_DIR/merged), in the
// background with a cancellable notification and the trainer's output in the MedVLM log.

import path from 'node:path';
import * as vscode from 'vscode';
import type { Accounts } from '../accounts/accounts';
import { mergeArgs, mergeRun } from '../core/mergeRun';
import { hasAdapter } from '../core/runArtifacts';
import { isActiveStatus } from '../core/runExplorer';
import type { PythonEnvironment } from '../python/pythonEnv';
import type { RunRegistry } from '../runs/runRegistry';
import { STATUS_LABELS } from '../shared/runStatus';
import { pickRun } from './pickRun';
import { aliveProcess, ensureTrusted, reportError } from './runGuards';

export interface MergeRunDeps {
  readonly extensionUri: vscode.Uri;
  readonly python: PythonEnvironment;
  readonly registry: RunRegistry;
  readonly log: vscode.LogOutputChannel;
  /** The kept Hugging Face token: a Hub base model (MedGemma is gated) is loaded with it. */
  readonly accounts: Accounts;
}

/** Runs being merged now; deleting one of them is refused. */
const merging = new Set<string>();

export function isMerging(runId: string): boolean {
  return merging.has(runId);
}

export function registerMergeRun(deps: MergeRunDeps): vscode.Disposable {
  return vscode.commands.registerCommand('medvlm.mergeRun', async (arg?: unknown) => {
    try {
      await merge(deps, arg);
    } catch (err) {
      await reportError(deps.log, 'Merge LoRA', err);
    }
  });
}

async function merge(deps: MergeRunDeps, arg: unknown): Promise<void> {
  if (!(await ensureTrusted('Merge LoRA'))) {
    return;
  }
  const { registry, log } = deps;
  const record = await pickRun(registry, arg, {
    // A remote run merges where its base model is, not here (a fetched adapter is a copy).
    filter: (r) => r.info?.target.kind !== 'ssh' && !isActiveStatus(r.summary.status) && hasAdapter(r.artifacts),
    prompt: 'Run whose LoRA adapter to merge into its base model',
    none: 'no ended run has a LoRA adapter to merge.',
  });
  if (!record) {
    return;
  }
  const { runId, runDir } = record;
  if (record.info?.target.kind === 'ssh') {
    const { name, host, run_dir: dir } = record.info.target;
    void vscode.window.showErrorMessage(
      `MedVLM: ${runId} ran on ${name} (${host}:${dir}); Merge LoRA works on runs that trained on this machine, where their base model and checkpoints are.`,
    );
    return;
  }
  if (isActiveStatus(record.summary.status)) {
    void vscode.window.showErrorMessage(
      `MedVLM: run ${runId} is ${STATUS_LABELS[record.summary.status]}; merge it once it has ended (stopping it saves a checkpoint).`,
    );
    return;
  }
  const pid = await aliveProcess(record);
  if (pid !== undefined) {
    void vscode.window.showErrorMessage(`MedVLM: the process of run ${runId} (pid ${pid}) is still running; merge once it has exited.`);
    return;
  }
  if (!hasAdapter(record.artifacts)) {
    void vscode.window.showErrorMessage(
      `MedVLM: run ${runId} has no checkpoint with a LoRA adapter (adapter_config.json), so there is nothing to merge.`,
    );
    return;
  }
  if (merging.has(runId)) {
    void vscode.window.showInformationMessage(`MedVLM: run ${runId} is being merged already.`);
    return;
  }
  if (record.artifacts.merged.some((m) => path.basename(m) === 'merged')) {
    const replace = 'Merge Again';
    const choice = await vscode.window.showWarningMessage(
      `Run ${runId} has a merged model already. Merge again?`,
      { modal: true, detail: `The new merge replaces ${path.join(runDir, 'merged')} once it is complete.` },
      replace,
    );
    if (choice !== replace) {
      return;
    }
  }
  const python = await deps.python.resolve();
  const baseEnv = await deps.accounts.runEnvironment();
  merging.add(runId);
  try {
    const outcome = await vscode.window.withProgress(
      { location: vscode.ProgressLocation.Notification, title: `MedVLM: merging the LoRA adapter of ${runId}`, cancellable: true },
      (progress, token) => {
        const abort = new AbortController();
        token.onCancellationRequested(() => abort.abort());
        log.info(`$ ${python} ${mergeArgs(runDir).join(' ')}`);
        return mergeRun({
          python,
          extensionRoot: deps.extensionUri.fsPath,
          baseEnv,
          runDir,
          signal: abort.signal,
          onLine: (line) => {
            log.info(`merge ${runId}: ${line}`);
            if (line.trim().length > 0) {
              progress.report({ message: line.trim().slice(0, 120) });
            }
          },
        });
      },
    );
    await registry.rescanArtifacts(runId);
    switch (outcome.kind) {
      case 'merged':
        log.info(`merged ${runId} into ${outcome.out}`);
        void vscode.window.showInformationMessage(`MedVLM: the merged model of ${runId} is in ${outcome.out}.`);
        break;
      case 'cancelled':
        log.info(`merge of ${runId} cancelled`);
        void vscode.window.showInformationMessage(`MedVLM: merge of ${runId} cancelled; nothing was written to its merged/ folder.`);
        break;
      case 'failed':
        throw new Error(`merging ${runId} failed: ${outcome.message}`);
    }
  } finally {
    merging.delete(runId);
  }
}
