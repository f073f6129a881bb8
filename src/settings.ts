// The extension's settings, read where they are used so a change applies without a reload.

import path from 'node:path';
import * as vscode from 'vscode';

export const DEFAULT_RUNS_ROOT = '.medvlm/runs';

/**
 * The runs root as an absolute path: `medvlm.runsRoot` as is when absolute, else relative to
 * the first workspace folder. Undefined without a workspace folder for a relative setting.
 */
export function runsRoot(): string | undefined {
  const raw = vscode.workspace.getConfiguration('medvlm').get<string>('runsRoot')?.trim() || DEFAULT_RUNS_ROOT;
  if (path.isAbsolute(raw)) {
    return raw;
  }
  const folder = vscode.workspace.workspaceFolders?.[0];
  return folder ? path.join(folder.uri.fsPath, raw) : undefined;
}

/** How long a stopping trainer may take to checkpoint before it is killed. */
export function stopGraceMs(): number {
  const seconds = vscode.workspace.getConfiguration('medvlm').get<number>('stopGraceSeconds', 60);
  return Math.max(1, seconds) * 1000;
}
