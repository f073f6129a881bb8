// "Open run log": the trainer's stdout.log in an editor (the run panel shows only its tail).

import { stat } from 'node:fs/promises';
import * as vscode from 'vscode';
import { runPaths } from '../core/runDir';
import type { RunRegistry } from '../runs/runRegistry';
import { pickRun } from './pickRun';

export function registerOpenRunLog(registry: RunRegistry): vscode.Disposable {
  return vscode.commands.registerCommand('medvlm.openRunLog', async (arg?: unknown) => {
    const record = await pickRun(registry, arg, { prompt: 'Run whose log to open', none: 'there are no runs yet.' });
    if (!record) {
      return;
    }
    const log = runPaths(record.runDir).stdoutLog;
    const exists = await stat(log).then(
      () => true,
      () => false,
    );
    if (!exists) {
      void vscode.window.showInformationMessage(`MedVLM: run ${record.runId} has no log yet (${log}).`);
      return;
    }
    await vscode.window.showTextDocument(vscode.Uri.file(log), { preview: true });
  });
}
