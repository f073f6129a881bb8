// The sample preview's HTML: the shared webview shell with the preview's stylesheet. No
// worker, no network: the host sends the slices.

import type { WebviewPageOptions } from './webviewHtml';
import { buildWebviewPage, PANEL_BASE_CSS } from './webviewHtml';

export function buildSamplePreviewHtml(options: WebviewPageOptions): string {
  return buildWebviewPage(options, PANEL_BASE_CSS + SAMPLE_PREVIEW_CSS);
}

const SAMPLE_PREVIEW_CSS = `
.title { font-size: 1.25em; font-weight: 600; margin: 0; overflow-wrap: anywhere; }
.note { color: var(--vscode-descriptionForeground); margin: 4px 0; overflow-wrap: anywhere; }
.toolbar { display: flex; flex-wrap: wrap; align-items: center; gap: 8px 20px; margin: 8px 0; }
.control { display: inline-flex; align-items: center; gap: 6px; }
.control select, .control input[type="number"] {
  color: var(--vscode-dropdown-foreground, inherit);
  background: var(--vscode-dropdown-background, transparent);
  border: 1px solid var(--vscode-dropdown-border, var(--vscode-editorWidget-border, #454545));
  font: inherit; padding: 1px 4px;
}
.control input[type="number"] { width: 6em; }
.control input[type="search"] {
  color: var(--vscode-input-foreground, inherit); background: var(--vscode-input-background, transparent);
  border: 1px solid var(--vscode-input-border, var(--vscode-editorWidget-border, #454545)); font: inherit; padding: 1px 4px; width: 12em;
}
.control input[type="checkbox"] { margin: 0; accent-color: var(--vscode-button-background); }
.body { display: grid; grid-template-columns: minmax(200px, 300px) minmax(0, 1fr); gap: 16px; align-items: start; }
.records {
  list-style: none; margin: 0; padding: 0; max-height: calc(100vh - 120px); overflow: auto;
  border: 1px solid var(--vscode-editorWidget-border, rgba(128, 128, 128, 0.35));
}
.records:focus { outline: 1px solid var(--vscode-focusBorder); }
.records li { display: grid; grid-template-columns: 3em 7.5em minmax(0, 1fr); gap: 6px; padding: 2px 6px; cursor: pointer; }
.records li:hover { background: var(--vscode-list-hoverBackground); }
.records li[aria-selected="true"] {
  background: var(--vscode-list-activeSelectionBackground); color: var(--vscode-list-activeSelectionForeground);
}
.records .index { font-variant-numeric: tabular-nums; color: var(--vscode-descriptionForeground); }
.records .detail { overflow: hidden; text-overflow: ellipsis; white-space: nowrap; }
.records li.broken .detail, .error-text { color: var(--vscode-errorForeground, #f48771); }
.caption { margin: 0 0 4px; font-weight: 600; overflow-wrap: anywhere; }
.slice-control[hidden], .control[hidden] { display: none; }
.slice-control button {
  color: var(--vscode-button-secondaryForeground, inherit);
  background: var(--vscode-button-secondaryBackground, transparent);
  border: 1px solid var(--vscode-button-border, transparent); border-radius: 2px;
  font: inherit; padding: 0 6px; cursor: pointer;
}
.slice-control button:disabled { opacity: 0.5; cursor: default; }
.slice-control button.link { background: none; border: none; color: var(--vscode-textLink-foreground); text-decoration: underline; }
.slice-control button[hidden] { display: none; }
.stage canvas { cursor: crosshair; touch-action: none; }
.problems { margin: 4px 0; padding-left: 18px; }
.stage { margin: 6px 0; max-height: 70vh; overflow: auto; }
.stage[hidden] { display: none; }
.stage canvas { display: block; image-rendering: pixelated; }
table.measures { border-collapse: collapse; margin: 6px 0; }
table.measures td { padding: 2px 14px 2px 0; }
table.measures td.number { font-variant-numeric: tabular-nums; }
h2.section { font-size: 1em; margin: 12px 0 4px; }
pre {
  margin: 0; padding: 8px; white-space: pre-wrap; overflow-wrap: anywhere;
  font-family: var(--vscode-editor-font-family, monospace); font-size: var(--vscode-editor-font-size, 12px);
  background: var(--vscode-textCodeBlock-background, rgba(127,127,127,0.1));
}
pre.chat span.answer {
  background: var(--vscode-editor-findMatchHighlightBackground, rgba(234,92,0,0.33));
  outline: 1px solid var(--vscode-editor-findMatchHighlightBorder, transparent);
}
`;
