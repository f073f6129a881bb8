// "MedVLM: Check dataset": every record of a records file against its images, metadata and
// landmarks, reported in the Problems panel on the record's line (palette, or a records
// file's context menu). Reading files runs nothing, so it works in any workspace.

import { readFileSync } from 'node:fs';
import path from 'node:path';
import * as vscode from 'vscode';
import type { DatasetProblem } from '../core/preview/datasetCheck';
import { checkDataset } from '../core/preview/datasetCheck';
import type { PythonEnvironment } from '../python/pythonEnv';
import { pickRecords, readyTrainer, tasksBeside } from './recordsPick';

export const DATASET_DIAGNOSTIC_SOURCE = 'MedVLM dataset';

function toDiagnostic(problem: DatasetProblem, lines: readonly string[]): vscode.Diagnostic {
  const line = problem.line > 0 ? problem.line - 1 : 0;
  const range = new vscode.Range(line, 0, line, problem.line > 0 ? (lines[line]?.length ?? 0) : 0);
  const message = problem.line > 0 ? problem.message : `record ${problem.index}: ${problem.message}`;
  const diagnostic = new vscode.Diagnostic(range, message, problem.severity === 'error' ? vscode.DiagnosticSeverity.Error : vscode.DiagnosticSeverity.Warning);
  diagnostic.source = DATASET_DIAGNOSTIC_SOURCE;
  return diagnostic;
}

export interface CheckDatasetDeps {
  readonly extensionUri: vscode.Uri;
  readonly python: PythonEnvironment;
}

export function registerCheckDataset(deps: CheckDatasetDeps): vscode.Disposable {
  const diagnostics = vscode.languages.createDiagnosticCollection('medvlm-dataset');
  const command = vscode.commands.registerCommand('medvlm.checkDataset', async (arg?: unknown, tasksArg?: unknown) => {
    const records = await pickRecords(arg, 'Check dataset');
    if (records === undefined) return;
    // A config's data source names its tasks file; from the explorer it is the one beside.
    const tasksFile = typeof tasksArg === 'string' ? tasksArg : tasksArg instanceof vscode.Uri ? tasksArg.fsPath : tasksBeside(records);
    const name = path.basename(records);
    // .parquet is read through the trainer (a trusted workspace with a ready environment).
    const runner = records.toLowerCase().endsWith('.parquet') ? await readyTrainer(deps.extensionUri, deps.python) : undefined;
    const result = await vscode.window.withProgress(
      { location: vscode.ProgressLocation.Notification, title: `Checking ${name}`, cancellable: true },
      async (progress, token) => {
        let reported = 0;
        try {
          return await checkDataset({
            recordsFile: records,
            ...(tasksFile !== undefined ? { tasksFile } : {}),
            ...(runner !== undefined ? { runner } : {}),
            progress: (done, total) => {
              const percent = Math.floor((100 * done) / Math.max(1, total));
              if (percent > reported) {
                progress.report({ increment: percent - reported, message: `${done} of ${total} records` });
                reported = percent;
              }
              return !token.isCancellationRequested;
            },
          });
        } catch (err) {
          void vscode.window.showErrorMessage(`MedVLM: cannot check ${name}: ${(err as Error).message}`);
          return undefined;
        }
      },
    );
    if (result === undefined) return;
    const uri = vscode.Uri.file(records);
    const lines = records.toLowerCase().endsWith('.parquet') ? [] : readFileSync(records, 'utf8').split('\n');
    diagnostics.set(uri, result.problems.map((p) => toDiagnostic(p, lines)));
    const errors = result.problems.filter((p) => p.severity === 'error').length;
    const warnings = result.problems.length - errors;
    const checked = `Checked ${result.records} records and ${result.volumes} volumes of ${name}`;
    if (result.problems.length === 0) {
      void vscode.window.showInformationMessage(`MedVLM: ${checked}: no problems.`);
      return;
    }
    await vscode.commands.executeCommand('workbench.actions.view.problems');
    void vscode.window.showWarningMessage(`MedVLM: ${checked}: ${errors} errors, ${warnings} warnings (in the Problems panel).`);
  });
  return vscode.Disposable.from(diagnostics, command);
}
