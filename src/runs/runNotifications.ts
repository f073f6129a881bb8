// Tells the user when a run they saw running ends, with a way to look at it: its panel (unless
// that is on screen already) and, when it went wrong, its log.

import * as vscode from 'vscode';
import { runEndNotice } from '../core/runNotices';
import type { RunEndAction } from '../core/runNotices';
import type { RunEnded, RunRegistry } from './runRegistry';

export interface RunEndHandlers {
  readonly openPanel: (runId: string) => void;
  readonly openLog: (runId: string) => void;
  /** Whether the run's panel is visible now (then the notification offers no "Open run panel"). */
  readonly isPanelVisible: (runId: string) => boolean;
}

export function notifyRunEnds(registry: RunRegistry, handlers: RunEndHandlers): vscode.Disposable {
  return registry.onDidEnd(async ({ runId, summary }: RunEnded) => {
    const notice = runEndNotice(summary, handlers.isPanelVisible(runId));
    if (!notice) {
      return;
    }
    const show =
      notice.severity === 'error'
        ? vscode.window.showErrorMessage
        : notice.severity === 'warning'
          ? vscode.window.showWarningMessage
          : vscode.window.showInformationMessage;
    const labels = notice.actions.map((a) => a.label);
    const choice = await show(notice.message, ...labels);
    const action: RunEndAction | undefined = notice.actions.find((a) => a.label === choice)?.action;
    if (action === 'openPanel') {
      handlers.openPanel(runId);
    } else if (action === 'openLog') {
      handlers.openLog(runId);
    }
  });
}
