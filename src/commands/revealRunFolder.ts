import * as vscode from 'vscode';
import type { RunRegistry } from '../runs/runRegistry';
import { pickRun } from './pickRun';

export function registerRevealRunFolder(registry: RunRegistry): vscode.Disposable {
  return vscode.commands.registerCommand('medvlm.revealRunFolder', async (arg?: unknown) => {
    const record = await pickRun(registry, arg, { prompt: 'Run folder to reveal', none: 'there are no runs yet.' });
    if (!record) {
      return;
    }
    const uri = vscode.Uri.file(record.runDir);
    // Inside the workspace the Explorer is the natural place; elsewhere the OS file manager.
    const command = vscode.workspace.getWorkspaceFolder(uri) ? 'revealInExplorer' : 'revealFileInOS';
    await vscode.commands.executeCommand(command, uri);
  });
}
