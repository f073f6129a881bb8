// "Delete run": moves an ended run's folder to the trash after a confirmation that names
// everything that goes with it (each checkpoint, any merged model). Deleting for good needs a
// second, explicit confirmation, asked only when the trash cannot take the folder.

import path from 'node:path';
import * as vscode from 'vscode';
import { scanRunArtifacts } from '../core/runArtifacts';
import { isActiveStatus } from '../core/runExplorer';
import { deleteConfirmation, permanentDeleteConfirmation } from '../core/runNotices';
import type { Confirmation, DeletePlan } from '../core/runNotices';
import type { RunRegistry } from '../runs/runRegistry';
import { STATUS_LABELS } from '../shared/runStatus';
import { isMerging } from './mergeRun';
import { pickRun } from './pickRun';
import { aliveProcess, reportError } from './runGuards';

export function registerDeleteRun(registry: RunRegistry, log: vscode.LogOutputChannel): vscode.Disposable {
  return vscode.commands.registerCommand('medvlm.deleteRun', async (arg?: unknown) => {
    try {
      await deleteRun(registry, log, arg);
    } catch (err) {
      await reportError(log, 'Delete run', err);
    }
  });
}

async function deleteRun(registry: RunRegistry, log: vscode.LogOutputChannel, arg: unknown): Promise<void> {
  const record = await pickRun(registry, arg, {
    filter: (r) => !isActiveStatus(r.summary.status),
    prompt: 'Run to delete (its folder goes to the trash)',
    none: 'no run has ended; a run can be deleted once it has ended.',
  });
  if (!record) {
    return;
  }
  const { runId, runDir } = record;
  if (isActiveStatus(record.summary.status)) {
    void vscode.window.showErrorMessage(`MedVLM: run ${runId} is ${STATUS_LABELS[record.summary.status]}; stop it before deleting it.`);
    return;
  }
  const pid = await aliveProcess(record);
  if (pid !== undefined) {
    void vscode.window.showErrorMessage(`MedVLM: the process of run ${runId} (pid ${pid}) is still running, so its folder is kept.`);
    return;
  }
  if (isMerging(runId)) {
    void vscode.window.showErrorMessage(`MedVLM: run ${runId} is being merged; cancel the merge or wait for it before deleting the run.`);
    return;
  }
  // Read now, not from the last scan: the dialog must name exactly what is on disk.
  const artifacts = await scanRunArtifacts(runDir, record.state.checkpoints);
  const plan: DeletePlan = {
    runId,
    runDir,
    checkpoints: artifacts.checkpoints.map((c) => c.name),
    merged: artifacts.merged.map((m) => path.relative(runDir, m)),
    ...(record.info?.target.kind === 'ssh' ? { remoteFolder: `${record.info.target.host}:${record.info.target.run_dir}` } : {}),
  };
  if (!(await confirm(deleteConfirmation(plan)))) {
    return;
  }
  const uri = vscode.Uri.file(runDir);
  try {
    await vscode.workspace.fs.delete(uri, { recursive: true, useTrash: true });
    log.info(`moved run ${runId} to the trash: ${runDir}`);
  } catch (err) {
    if (!(await exists(uri))) {
      // Gone anyway (deleted meanwhile, or the trash took it and then complained).
      log.warn(`deleting ${runDir}: ${String(err)}`);
    } else {
      const reason = err instanceof Error ? err.message : String(err);
      log.warn(`moving ${runDir} to the trash failed: ${reason}`);
      if (!(await confirm(permanentDeleteConfirmation(plan, reason)))) {
        return;
      }
      await vscode.workspace.fs.delete(uri, { recursive: true, useTrash: false });
      log.info(`deleted run ${runId} permanently: ${runDir}`);
    }
  }
  await registry.refresh();
}

async function confirm(confirmation: Confirmation): Promise<boolean> {
  const choice = await vscode.window.showWarningMessage(
    confirmation.message,
    { modal: true, detail: confirmation.detail },
    confirmation.button,
  );
  return choice === confirmation.button;
}

async function exists(uri: vscode.Uri): Promise<boolean> {
  try {
    await vscode.workspace.fs.stat(uri);
    return true;
  } catch {
    return false;
  }
}
