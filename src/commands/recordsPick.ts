// Which records file a dataset command works on: the one it was given (explorer context menu,
// config editor), else the active editor's, else the user's pick. Its task metadata is the
// tasks.json beside it, when there is one.

import { existsSync } from 'node:fs';
import path from 'node:path';
import * as vscode from 'vscode';

const RECORDS = /\.(jsonl|json|parquet)$/i;

export function tasksBeside(records: string): string | undefined {
  const beside = path.join(path.dirname(records), 'tasks.json');
  return existsSync(beside) && path.basename(records) !== 'tasks.json' ? beside : undefined;
}

export async function pickRecords(arg: unknown, openLabel: string): Promise<string | undefined> {
  if (arg instanceof vscode.Uri && RECORDS.test(arg.fsPath)) return arg.fsPath;
  if (typeof arg === 'string' && RECORDS.test(arg)) return arg;
  const active = vscode.window.activeTextEditor?.document.uri;
  if (active?.scheme === 'file' && RECORDS.test(active.fsPath) && path.basename(active.fsPath) !== 'tasks.json') return active.fsPath;
  const picked = await vscode.window.showOpenDialog({
    canSelectMany: false,
    openLabel,
    filters: { 'Records (JSON Lines, JSON, Parquet)': ['jsonl', 'json', 'parquet'] },
    ...(vscode.workspace.workspaceFolders?.[0] !== undefined ? { defaultUri: vscode.workspace.workspaceFolders[0].uri } : {}),
  });
  return picked?.[0]?.fsPath;
}
