import * as vscode from 'vscode';
import type { RunRegistry } from '../runs/runRegistry';
import { TERMINAL_STATUSES } from '../shared/runStatus';
import { stopGraceMs } from '../settings';
import { pickRun } from './pickRun';

/** "Stop run": SIGTERM (the trainer checkpoints and stops), SIGKILL after the grace period. */
export function registerStopRun(registry: RunRegistry): vscode.Disposable {
  return vscode.commands.registerCommand('medvlm.stopRun', async (arg?: unknown) => {
    const record = await pickRun(registry, arg, {
      filter: (r) => !TERMINAL_STATUSES.has(r.summary.status),
      prompt: 'Run to stop',
      none: 'no run is active.',
    });
    if (!record) {
      return;
    }
    try {
      const outcome = await vscode.window.withProgress(
        { location: vscode.ProgressLocation.Window, title: `Stopping ${record.runId} (saving a checkpoint)` },
        () => registry.stop(record.runId),
      );
      if (outcome === 'not-running') {
        void vscode.window.showInformationMessage(`MedVLM: run ${record.runId} is not running.`);
      } else if (outcome === 'killed') {
        void vscode.window.showWarningMessage(
          `MedVLM: run ${record.runId} did not stop within ${Math.round(stopGraceMs() / 1000)} s of SIGTERM and was killed.`,
        );
      }
    } catch (err) {
      void vscode.window.showErrorMessage(`MedVLM: ${err instanceof Error ? err.message : String(err)}`);
    }
  });
}
