// "Open W&B run": the run's page on Weights & Biases, as the trainer reported it in its events
// (a run logging to W&B online). Only an http(s) URL from the run's own events is opened.

import * as vscode from 'vscode';
import type { RunRegistry } from '../runs/runRegistry';
import { pickRun } from './pickRun';

export function registerOpenWandbRun(registry: RunRegistry): vscode.Disposable {
  return vscode.commands.registerCommand('medvlm.openWandbRun', async (arg?: unknown) => {
    const record = await pickRun(registry, arg, {
      prompt: 'Run whose W&B page to open',
      none: 'no run has reported a W&B run (set logging.report_to: [wandb] in the run config).',
      filter: (r) => r.summary.wandbUrl !== undefined,
    });
    if (!record) {
      return;
    }
    const url = record.summary.wandbUrl;
    if (url === undefined || !/^https?:\/\/\S+$/.test(url)) {
      void vscode.window.showInformationMessage(`MedVLM: run ${record.runId} has not reported an online W&B run (offline W&B runs are uploaded with \`wandb sync\`).`);
      return;
    }
    await vscode.env.openExternal(vscode.Uri.parse(url, true));
  });
}
