// Whether a run's panel is on screen, told from the editor tabs: the run panel module keeps
// its open panels private, and a panel in a background tab is open but not visible anyway.

import * as vscode from 'vscode';
import { RUN_PANEL_VIEW_TYPE } from '../webviews/runPanel';

/**
 * True when the active tab of some editor group is the run panel of `runId`. Webview tabs
 * report the view type with a prefix VS Code adds, hence the suffix match; the label is the
 * panel title, which RunPanel.show sets to `Run: <title>` and the registry's title is the id.
 */
export function isRunPanelVisible(runId: string): boolean {
  return vscode.window.tabGroups.all.some((group) => {
    const tab = group.activeTab;
    return (
      tab !== undefined &&
      tab.input instanceof vscode.TabInputWebview &&
      tab.input.viewType.endsWith(RUN_PANEL_VIEW_TYPE) &&
      tab.label === `Run: ${runId}`
    );
  });
}
