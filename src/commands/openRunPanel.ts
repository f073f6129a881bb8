import * as vscode from 'vscode';
import type { RunRegistry } from '../runs/runRegistry';
import { RunPanel } from '../webviews/runPanel';
import { pickRun } from './pickRun';

export function showRunPanel(extensionUri: vscode.Uri, registry: RunRegistry, log: vscode.LogOutputChannel, runId: string): void {
  const source = registry.panelSource(runId);
  if (!source) {
    void vscode.window.showErrorMessage(`MedVLM: there is no run ${runId}.`);
    return;
  }
  RunPanel.show(extensionUri, source, { log: (line) => log.warn(line) });
}

export function registerOpenRunPanel(extensionUri: vscode.Uri, registry: RunRegistry, log: vscode.LogOutputChannel): vscode.Disposable {
  return vscode.commands.registerCommand('medvlm.openRunPanel', async (arg?: unknown) => {
    const record = await pickRun(registry, arg, { prompt: 'Run to show', none: 'there are no runs yet.' });
    if (record) {
      showRunPanel(extensionUri, registry, log, record.runId);
    }
  });
}
