// A status-bar item while runs are active: how many, and where the one run stands. A click
// opens that run's panel, or the Runs view when there are several.

import * as vscode from 'vscode';
import { activeRunsStatus } from '../core/runNotices';
import type { RunRegistry } from '../runs/runRegistry';

/** The command VS Code generates to focus a contributed view. */
const FOCUS_RUNS_VIEW = 'medvlm.runs.focus';

export function showActiveRunsStatus(registry: RunRegistry): vscode.Disposable {
  const item = vscode.window.createStatusBarItem('medvlm.activeRuns', vscode.StatusBarAlignment.Left, 10);
  item.name = 'MedVLM active runs';
  const update = (): void => {
    const status = activeRunsStatus(registry.list().map((record) => record.summary));
    if (status === undefined) {
      item.hide();
      return;
    }
    item.text = status.text;
    item.tooltip = status.tooltip;
    item.command =
      status.runId === undefined
        ? { command: FOCUS_RUNS_VIEW, title: 'Show the Runs view' }
        : { command: 'medvlm.openRunPanel', title: 'Open run panel', arguments: [status.runId] };
    item.show();
  };
  update();
  const subscription = registry.onDidChange(update);
  return vscode.Disposable.from(subscription, item);
}
