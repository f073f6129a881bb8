// The NIfTI viewer's HTML: the shared webview shell, the panels' base stylesheet and its own.

import type { WebviewPageOptions } from './webviewHtml';
import { buildWebviewPage, PANEL_BASE_CSS } from './webviewHtml';

export function buildNiftiViewerHtml(options: WebviewPageOptions): string {
  return buildWebviewPage(options, PANEL_BASE_CSS + NIFTI_VIEWER_CSS);
}

const NIFTI_VIEWER_CSS = `
.title { font-size: 1.15em; font-weight: 600; margin: 0 0 6px; overflow-wrap: anywhere; }
.note { color: var(--vscode-descriptionForeground); margin: 4px 0; }
.error-text { color: var(--vscode-errorForeground, #f48771); }
.toolbar { display: flex; flex-wrap: wrap; align-items: center; gap: 8px 20px; margin: 8px 0; }
.control { display: inline-flex; align-items: center; gap: 6px; }
.control select {
  color: var(--vscode-dropdown-foreground, inherit);
  background: var(--vscode-dropdown-background, transparent);
  border: 1px solid var(--vscode-dropdown-border, var(--vscode-editorWidget-border, #454545));
  font: inherit; padding: 1px 4px;
}
.control input[type="range"] { width: 220px; accent-color: var(--vscode-button-background); }
.control .value { min-width: 6em; font-variant-numeric: tabular-nums; }
.layout { display: grid; grid-template-columns: minmax(0, 1fr) minmax(180px, 260px); gap: 16px; align-items: start; }
.stage { max-height: calc(100vh - 150px); overflow: auto; }
.slice-control { display: inline-flex; align-items: center; gap: 6px; }
.slice-control button {
  color: var(--vscode-button-secondaryForeground, inherit); background: var(--vscode-button-secondaryBackground, transparent);
  border: 1px solid var(--vscode-button-border, transparent); border-radius: 2px; font: inherit; padding: 0 6px; cursor: pointer;
}
.slice-control button:disabled { opacity: 0.5; cursor: default; }
.slice-control button.link { background: none; border: none; color: var(--vscode-textLink-foreground); text-decoration: underline; }
.slice-control button[hidden] { display: none; }
.stage canvas { display: block; image-rendering: pixelated; cursor: crosshair; touch-action: none; }
table.header { border-collapse: collapse; font-size: 0.95em; }
table.header th { text-align: left; font-weight: normal; color: var(--vscode-descriptionForeground); padding: 2px 12px 2px 0; vertical-align: top; }
table.header td { font-variant-numeric: tabular-nums; overflow-wrap: anywhere; }
`;
