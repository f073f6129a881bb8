// "MedVLM: Open config editor": the form of a `*.sft.yaml` run config, beside its YAML. Both
// views edit the same TextDocument, so typing in either shows up in the other at once.

import path from 'node:path';
import * as vscode from 'vscode';
import type { ConfigEditorProvider } from '../webviews/configEditor';
import { CONFIG_EDITOR_VIEW_TYPE } from '../webviews/configEditor';

const CONFIG_SUFFIX = '.sft.yaml';

export function registerOpenConfigEditor(provider: ConfigEditorProvider): vscode.Disposable {
  return vscode.commands.registerCommand('medvlm.openConfigEditor', async (arg?: unknown) => {
    const uri = await pickConfig(arg);
    if (uri === undefined || provider.reveal(uri)) {
      return;
    }
    // Beside the YAML when it is showing (the usual side-by-side use); else where the user is.
    const showing = vscode.window.visibleTextEditors.some((editor) => editor.document.uri.toString() === uri.toString());
    await vscode.commands.executeCommand('vscode.openWith', uri, CONFIG_EDITOR_VIEW_TYPE, showing ? vscode.ViewColumn.Beside : vscode.ViewColumn.Active);
  });
}

/** The uri given (editor title, explorer), else the active config, else the user's pick. */
async function pickConfig(arg: unknown): Promise<vscode.Uri | undefined> {
  if (arg instanceof vscode.Uri && arg.path.endsWith(CONFIG_SUFFIX)) {
    return arg;
  }
  const active = vscode.window.activeTextEditor?.document;
  if (active !== undefined && active.uri.path.endsWith(CONFIG_SUFFIX)) {
    return active.uri;
  }
  // The form itself is no text editor: from its tab, the command reveals it.
  const tab = vscode.window.tabGroups.activeTabGroup.activeTab?.input;
  if (tab instanceof vscode.TabInputCustom && tab.uri.path.endsWith(CONFIG_SUFFIX)) {
    return tab.uri;
  }
  const files = await vscode.workspace.findFiles(`**/*${CONFIG_SUFFIX}`, '**/{node_modules,.medvlm}/**', 500);
  if (files.length === 0) {
    void vscode.window.showErrorMessage(`MedVLM: there is no *${CONFIG_SUFFIX} run config in this workspace.`);
    return undefined;
  }
  const picked = await vscode.window.showQuickPick(
    files
      .map((uri) => ({ label: path.basename(uri.fsPath), description: vscode.workspace.asRelativePath(uri), uri }))
      .sort((a, b) => a.description.localeCompare(b.description)),
    { placeHolder: 'Run config to open in the config editor' },
  );
  return picked?.uri;
}
