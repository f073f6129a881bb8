// "MedVLM: Preview dataset samples": a records file's samples as the trainer sees them (palette,
// or the explorer's context menu on a .jsonl/.json records file). The task metadata is the
// tasks.json beside the records when there is one. Reading images and records runs nothing;
// the trainer's exact prompts need its Python, so only in a trusted workspace.

import path from 'node:path';
import * as vscode from 'vscode';
import { SampleSource } from '../core/preview/sampleSource';
import type { PythonEnvironment } from '../python/pythonEnv';
import { SamplePreviewPanel } from '../webviews/samplePreview';
import { pickRecords, readyTrainer, tasksBeside } from './recordsPick';

export interface PreviewSamplesDeps {
  readonly extensionUri: vscode.Uri;
  readonly python: PythonEnvironment;
  readonly log: vscode.LogOutputChannel;
}

export function registerPreviewSamples(deps: PreviewSamplesDeps): vscode.Disposable {
  return vscode.commands.registerCommand('medvlm.previewSamples', async (arg?: unknown, tasksArg?: unknown, configArg?: unknown, sourceArg?: unknown) => {
    const records = await pickRecords(arg, 'Preview samples');
    if (records === undefined) return;
    const tasksFile = typeof tasksArg === 'string' ? tasksArg : tasksArg instanceof vscode.Uri ? tasksArg.fsPath : tasksBeside(records);
    const runner = () => readyTrainer(deps.extensionUri, deps.python);
    let source: SampleSource;
    try {
      const trainer = records.toLowerCase().endsWith('.parquet') ? await runner() : undefined;
      source = await SampleSource.open({ recordsFile: records, ...(tasksFile !== undefined ? { tasksFile } : {}), ...(trainer !== undefined ? { runner: trainer } : {}) });
    } catch (err) {
      void vscode.window.showErrorMessage(`MedVLM: cannot preview ${path.basename(records)}: ${(err as Error).message}`);
      return;
    }
    SamplePreviewPanel.show(deps.extensionUri, source, {
      title: `Samples: ${path.basename(records)}`,
      // From a config editor's data source card: the records show the run's own split.
      ...(typeof configArg === 'string' && typeof sourceArg === 'number' ? { config: { file: configArg, source: sourceArg } } : {}),
      log: (line) => deps.log.warn(line),
      runner,
    });
  });
}
