import * as vscode from 'vscode';
import type { RunRegistry } from '../runs/runRegistry';

export function registerRefreshRuns(registry: RunRegistry): vscode.Disposable {
  return vscode.commands.registerCommand('medvlm.refreshRuns', () => registry.refresh());
}
