// "Restart with edited config": a new run from a run's config, either the original file as it
// is now, or a copy of the very config the run used, opened for editing with the config form.
// It never writes over a file, and never starts anything the user has not looked at.

import { readFile } from 'node:fs/promises';
import path from 'node:path';
import * as vscode from 'vscode';
import { writeConfigCopy } from '../core/configCopy';
import { isDirectory, isFile } from '../core/runArtifacts';
import { CONFIG_SNAPSHOT } from '../core/runDir';
import type { RunRecord, RunRegistry } from '../runs/runRegistry';
import { pickRun } from './pickRun';
import { reportError } from './runGuards';

export function registerRestartRun(registry: RunRegistry, log: vscode.LogOutputChannel): vscode.Disposable {
  return vscode.commands.registerCommand('medvlm.restartRun', async (arg?: unknown) => {
    try {
      await restartRun(registry, arg);
    } catch (err) {
      await reportError(log, 'Restart run', err);
    }
  });
}

type Choice = vscode.QuickPickItem & { readonly action: 'start' | 'copy' };

async function restartRun(registry: RunRegistry, arg: unknown): Promise<void> {
  const record = await pickRun(registry, arg, { prompt: 'Run whose config to start again', none: 'there are no runs yet.' });
  if (!record) {
    return;
  }
  const original = record.info?.config_path;
  const snapshot = path.join(record.runDir, record.info?.config_file ?? CONFIG_SNAPSHOT);
  const [originalExists, snapshotExists] = await Promise.all([original === undefined ? false : isFile(original), isFile(snapshot)]);
  const choices: Choice[] = [];
  if (original !== undefined && originalExists) {
    choices.push({
      action: 'start',
      label: `Start again with ${vscode.workspace.asRelativePath(original)} as it is now`,
      detail: 'Start SFT run on that file, with any edits made since this run started.',
    });
  }
  if (snapshotExists) {
    choices.push({
      action: 'copy',
      label: "Edit a copy of this run's config first",
      detail: 'Writes the config this run used to a new file and opens it with the config form; start it with Start SFT run.',
    });
  }
  if (choices.length === 0) {
    void vscode.window.showErrorMessage(
      `MedVLM: run ${record.runId} has neither its original config${original ? ` (${original})` : ''} nor its config snapshot any more.`,
    );
    return;
  }
  const picked = await vscode.window.showQuickPick(choices, { placeHolder: `Start a new run from the config of ${record.runId}` });
  if (!picked) {
    return;
  }
  if (picked.action === 'start' && original !== undefined) {
    await vscode.commands.executeCommand('medvlm.startRun', vscode.Uri.file(original));
    return;
  }
  await editCopy(record, snapshot, original);
}

async function editCopy(record: RunRecord, snapshot: string, original: string | undefined): Promise<void> {
  const besideOriginal = original !== undefined && (await isDirectory(path.dirname(original))) ? path.dirname(original) : undefined;
  const dir = besideOriginal ?? vscode.workspace.workspaceFolders?.[0]?.uri.fsPath;
  if (dir === undefined) {
    throw new Error(`the folder of the original config is gone and there is no workspace folder to put a copy of ${record.runId}'s config in.`);
  }
  const copy = await writeConfigCopy(dir, original ?? snapshot, await readFile(snapshot, 'utf8'));
  const uri = vscode.Uri.file(copy);
  await vscode.window.showTextDocument(uri, { preview: false });
  // With the YAML showing, the config editor opens beside it.
  await vscode.commands.executeCommand('medvlm.openConfigEditor', uri);
  if (besideOriginal === undefined) {
    void vscode.window.showWarningMessage(
      `MedVLM: the folder of the original config is gone, so the copy is in the workspace folder ${dir}; relative paths in it (data, model) now resolve from there.`,
    );
  }
}
