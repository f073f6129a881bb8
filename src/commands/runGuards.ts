// Checks shared by the commands that act on a run's folder or start Python for it.

import * as vscode from 'vscode';
import { isProcessAlive } from '../core/processAlive';
import { readRunProcess } from '../core/runDir';
import type { RunRecord } from '../runs/runRegistry';

/**
 * False (after saying why, with a way to change it) in an untrusted workspace: run folders
 * and configs are workspace content, and these commands run Python on them.
 */
export async function ensureTrusted(action: string): Promise<boolean> {
  if (vscode.workspace.isTrusted) {
    return true;
  }
  const choice = await vscode.window.showWarningMessage(
    `MedVLM: ${action} is disabled in an untrusted workspace, because it runs Python code on files in the workspace. Trust the workspace to use it.`,
    'Manage Workspace Trust',
  );
  if (choice) {
    await vscode.commands.executeCommand('workbench.trust.manage');
  }
  return false;
}

/**
 * The pid of the run's latest attempt (run.json's, or a resume's launch record), when that very
 * process is still alive: a run can read as ended while its process is still exiting.
 */
export async function aliveProcess(record: RunRecord): Promise<number | undefined> {
  // A remote run's pid is a process on its host; its mirror says whether that one lives.
  if (record.info !== undefined && record.info.target.kind !== 'local') return undefined;
  const proc = await readRunProcess(record.runDir, record.info);
  const pid = proc?.pid;
  return typeof pid === 'number' && isProcessAlive(pid, proc?.pid_start_time) ? pid : undefined;
}

/** Logs an error and shows it, with the log one click away. */
export async function reportError(log: vscode.LogOutputChannel, what: string, err: unknown): Promise<void> {
  const message = err instanceof Error ? err.message : String(err);
  log.error(`${what}: ${message}`);
  const choice = await vscode.window.showErrorMessage(`MedVLM: ${message}`, 'Show output');
  if (choice === 'Show output') {
    log.show(true);
  }
}
