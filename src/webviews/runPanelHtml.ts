// The run panel's HTML: the shared webview shell with the panel's stylesheet.

import type { WebviewPageOptions } from './webviewHtml';
import { buildWebviewPage } from './webviewHtml';

export function buildRunPanelHtml(options: WebviewPageOptions): string {
  return buildWebviewPage(options, RUN_PANEL_CSS, ' aria-live="polite"');
}

// Colours come from the theme's --vscode-* variables so the panel follows light, dark and
// high-contrast themes; the chart reads the same variables at runtime.
const RUN_PANEL_CSS = `
:root { color-scheme: light dark; }
body {
  margin: 0; padding: 12px 16px;
  color: var(--vscode-editor-foreground);
  background: var(--vscode-editor-background);
  font-family: var(--vscode-font-family);
  font-size: var(--vscode-font-size, 13px);
}
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
.actions { margin-left: auto; display: flex; gap: 6px; }
.stats { display: flex; flex-wrap: wrap; gap: 4px 20px; margin: 0 0 12px; padding: 0; }
.stats div { display: flex; gap: 6px; }
.stats dt { color: var(--vscode-descriptionForeground); }
.stats dd { margin: 0; font-variant-numeric: tabular-nums; }
.charts { display: grid; grid-template-columns: minmax(0, 1fr); gap: 12px; }
/* Chart.js sizes its canvas to the parent, which therefore needs a definite height. */
.chart { position: relative; height: 300px; min-width: 0; }
.chart.small { height: 150px; }
.empty { color: var(--vscode-descriptionForeground); font-style: italic; }
.error {
  margin: 12px 0; padding: 8px 12px;
  border: 1px solid var(--vscode-inputValidation-errorBorder, #be1100);
  background: var(--vscode-inputValidation-errorBackground, #5a1d1d);
}
.error h2 { margin: 0 0 6px; font-size: 1.05em; color: var(--vscode-errorForeground, #f48771); }
.error[hidden], .hidden { display: none; }
h2.section { font-size: 1em; margin: 16px 0 6px; display: flex; align-items: center; gap: 8px; }
pre {
  margin: 0; padding: 8px; max-height: 320px; overflow: auto; white-space: pre-wrap; overflow-wrap: anywhere;
  font-family: var(--vscode-editor-font-family, monospace); font-size: var(--vscode-editor-font-size, 12px);
  background: var(--vscode-textCodeBlock-background, rgba(127,127,127,0.1));
}
`;
