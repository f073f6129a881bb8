// What the dataset commands share: which records file they work on (the one given by the
// explorer or the config editor, else the active editor's, else the user's pick), its task
// metadata (the tasks.json beside it, when there is one) and the trainer, when it may run.

import { existsSync } from 'node:fs';
import path from 'node:path';
import * as vscode from 'vscode';
import type { TrainerRunner } from '../core/preview/recordsFile';
import { trainerEnv } from '../core/trainerCommand';
import type { PythonEnvironment } from '../python/pythonEnv';

const RECORDS = /\.(jsonl|json|parquet)$/i;

/**
 * The trainer, to read .parquet, format prompts or split a config: only in a trusted
 * workspace and with an environment that is ready (none is created for this).
 */
export async function readyTrainer(extensionUri: vscode.Uri, python: PythonEnvironment): Promise<TrainerRunner | undefined> {
  if (!vscode.workspace.isTrusted) return undefined;
  const interpreter = await python.existing();
  return interpreter === undefined ? undefined : { python: interpreter, env: trainerEnv(extensionUri.fsPath) };
}

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
