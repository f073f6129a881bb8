// Tells the user when a run they saw running ends, with a way to look at it.

import * as vscode from 'vscode';
import type { RunEnded, RunRegistry } from './runRegistry';

const OPEN_PANEL = 'Open run panel';

export function notifyRunEnds(registry: RunRegistry, openPanel: (runId: string) => void): vscode.Disposable {
  return registry.onDidEnd(async ({ runId, summary }: RunEnded) => {
    let choice: string | undefined;
    switch (summary.status) {
      case 'finished':
        choice = await vscode.window.showInformationMessage(`MedVLM: run ${runId} finished.`, OPEN_PANEL);
        break;
      case 'stopped':
        choice = await vscode.window.showInformationMessage(`MedVLM: run ${runId} stopped.`, OPEN_PANEL);
        break;
      case 'failed':
        choice = await vscode.window.showErrorMessage(`MedVLM: run ${runId} failed: ${summary.error ?? 'see its log'}`, OPEN_PANEL);
        break;
      case 'lost':
        choice = await vscode.window.showWarningMessage(
          `MedVLM: run ${runId} is lost: its process ended without reporting how${summary.error ? ` (last error: ${summary.error})` : ''}.`,
          OPEN_PANEL,
        );
        break;
      default:
        return;
    }
    if (choice === OPEN_PANEL) {
      openPanel(runId);
    }
  });
}
