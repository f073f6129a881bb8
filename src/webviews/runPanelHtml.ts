// The run panel's HTML: the shared webview shell with the panel's stylesheet. The panel may
// start one worker (its charts draw off the main thread), from a blob: URL only.

import type { WebviewPageOptions } from './webviewHtml';
import { buildWebviewPage, PANEL_BASE_CSS } from './webviewHtml';

export function buildRunPanelHtml(options: WebviewPageOptions): string {
  return buildWebviewPage(options, PANEL_BASE_CSS + RUN_PANEL_CSS, '', { workers: true });
}

// Colours come from the theme's --vscode-* variables so the panel follows light, dark and
// high-contrast themes; the chart reads the same variables at runtime.
const RUN_PANEL_CSS = `
.header { display: flex; flex-wrap: wrap; align-items: center; gap: 8px 16px; margin-bottom: 12px; }
.title { font-size: 1.25em; font-weight: 600; margin: 0; overflow-wrap: anywhere; }
.status {
  padding: 1px 8px; border-radius: 10px; font-size: 0.9em;
  background: var(--vscode-badge-background); color: var(--vscode-badge-foreground);
}
.status[data-status="failed"], .status[data-status="lost"] {
  background: var(--vscode-inputValidation-errorBackground, #5a1d1d);
  color: var(--vscode-errorForeground, #f48771);
}
.status[data-status="finished"] { background: var(--vscode-testing-iconPassed, #388a34); color: #fff; }
.actions { margin-left: auto; display: flex; flex-wrap: wrap; gap: 6px; }
/* vscode-button styles its host as inline-block, which would beat the hidden attribute. */
vscode-button[hidden], .actions[hidden] { display: none !important; }
.stats { display: flex; flex-wrap: wrap; gap: 4px 20px; margin: 0 0 12px; padding: 0; }
.stats div { display: flex; gap: 6px; }
.stats dt { color: var(--vscode-descriptionForeground); }
.stats dd { margin: 0; font-variant-numeric: tabular-nums; }
.toolbar { display: flex; flex-wrap: wrap; align-items: center; gap: 8px 20px; margin: 0 0 10px; }
.control { display: inline-flex; align-items: center; gap: 6px; }
.control input[type="range"] { width: 140px; accent-color: var(--vscode-button-background); }
.control input[type="checkbox"] { margin: 0; accent-color: var(--vscode-button-background); }
.control .value { min-width: 3.5em; font-variant-numeric: tabular-nums; color: var(--vscode-descriptionForeground); }
.control select {
  color: var(--vscode-dropdown-foreground, inherit);
  background: var(--vscode-dropdown-background, transparent);
  border: 1px solid var(--vscode-dropdown-border, var(--vscode-editorWidget-border, #454545));
  font: inherit; padding: 1px 4px;
}
.run-legend { list-style: none; display: flex; flex-wrap: wrap; gap: 4px 18px; margin: 0 0 10px; padding: 0; }
.run-legend li { display: inline-flex; align-items: center; gap: 6px; }
.run-legend .run-status, .run-legend .legend-note { color: var(--vscode-descriptionForeground); }
.swatch { display: inline-block; width: 12px; height: 3px; border-radius: 1px; margin-right: 4px; vertical-align: middle; }
.charts { display: grid; grid-template-columns: repeat(auto-fill, minmax(320px, 1fr)); gap: 12px 16px; }
.chart-box { min-width: 0; margin: 0; }
.chart-box.tall { grid-column: 1 / -1; }
.chart-box[hidden] { display: none; }
.chart-head { display: flex; flex-wrap: wrap; align-items: baseline; gap: 4px 12px; margin: 0 0 2px; }
.chart-head h3 { font-size: 0.95em; font-weight: 600; margin: 0; }
.chart-legend { display: inline-flex; flex-wrap: wrap; gap: 4px 12px; color: var(--vscode-descriptionForeground); font-size: 0.9em; }
/* The engine sizes its drawing from this box, which therefore needs a definite height. */
.chart-holder { position: relative; height: 170px; min-width: 0; }
.chart-box.tall .chart-holder { height: 280px; }
.chart-holder canvas { position: absolute; inset: 0; width: 100%; height: 100%; display: block; }
.empty { color: var(--vscode-descriptionForeground); font-style: italic; }
.note { color: var(--vscode-descriptionForeground); margin: 4px 0; }
.error {
  margin: 12px 0; padding: 8px 12px;
  border: 1px solid var(--vscode-inputValidation-errorBorder, #be1100);
  background: var(--vscode-inputValidation-errorBackground, #5a1d1d);
}
.error h2 { margin: 0 0 6px; font-size: 1.05em; color: var(--vscode-errorForeground, #f48771); }
.error[hidden], .hidden, section[hidden], .run-legend[hidden], .stats[hidden], .status[hidden] { display: none; }
h2.section { font-size: 1em; margin: 16px 0 6px; display: flex; align-items: center; gap: 8px; }
table.diff { border-collapse: collapse; width: 100%; font-size: 0.95em; }
table.diff th, table.diff td {
  text-align: left; vertical-align: top; padding: 3px 10px 3px 0;
  border-bottom: 1px solid var(--vscode-editorWidget-border, rgba(128, 128, 128, 0.35));
  overflow-wrap: anywhere;
}
table.diff td.path { font-family: var(--vscode-editor-font-family, monospace); white-space: nowrap; }
table.diff td.absent { color: var(--vscode-descriptionForeground); }
pre {
  margin: 0; padding: 8px; max-height: 320px; overflow: auto; white-space: pre-wrap; overflow-wrap: anywhere;
  font-family: var(--vscode-editor-font-family, monospace); font-size: var(--vscode-editor-font-size, 12px);
  background: var(--vscode-textCodeBlock-background, rgba(127,127,127,0.1));
}
.log-error {
  color: var(--vscode-errorForeground, #f48771);
  background: var(--vscode-inputValidation-errorBackground, rgba(90, 29, 29, 0.5));
}
`;
