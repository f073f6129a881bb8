// The config editor's HTML: the shared webview shell (same CSP and nonce as the run panel,
// so the two webviews cannot drift apart) with the form's stylesheet.

import type { WebviewPageOptions } from './webviewHtml';
import { buildWebviewPage } from './webviewHtml';

export function buildConfigEditorHtml(options: WebviewPageOptions): string {
  return buildWebviewPage(options, CONFIG_EDITOR_CSS);
}

// Colours come from the theme's --vscode-* variables so the form follows light, dark and
// high-contrast themes, like VS Code's own settings editor.
const CONFIG_EDITOR_CSS = `
:root { color-scheme: light dark; }
body {
  margin: 0; padding: 0 16px 24px;
  color: var(--vscode-foreground);
  background: var(--vscode-editor-background);
  font-family: var(--vscode-font-family);
  font-size: var(--vscode-font-size, 13px);
}
[hidden] { display: none !important; }
code {
  font-family: var(--vscode-editor-font-family, monospace); font-size: 0.95em;
  padding: 0 3px; border-radius: 3px;
  background: var(--vscode-textCodeBlock-background, rgba(127,127,127,0.15));
}
.toolbar {
  position: sticky; top: 0; z-index: 5; display: flex; flex-wrap: wrap; align-items: center; gap: 6px 16px;
  padding: 10px 0; background: var(--vscode-editor-background);
  border-bottom: 1px solid var(--vscode-editorWidget-border, rgba(127,127,127,0.3));
}
.title { font-size: 1.2em; font-weight: 600; margin: 0; overflow-wrap: anywhere; }
.check-status { color: var(--vscode-descriptionForeground); }
.actions { margin-left: auto; display: flex; flex-wrap: wrap; align-items: center; gap: 6px; }
.actions vscode-single-select { width: 220px; }
.start-reason { flex-basis: 100%; margin: 0; color: var(--vscode-descriptionForeground); text-align: right; }
.banner, .top-problems {
  margin: 12px 0 0; padding: 8px 12px;
  border: 1px solid var(--vscode-inputValidation-warningBorder, #b89500);
  background: var(--vscode-inputValidation-warningBackground, rgba(184,149,0,0.15));
}
.banner.readonly, .banner.notice[data-severity="error"] {
  border-color: var(--vscode-inputValidation-errorBorder, #be1100);
  background: var(--vscode-inputValidation-errorBackground, #5a1d1d);
}
.banner h2, .top-problems h2 { margin: 0 0 4px; font-size: 1em; }
.banner p { margin: 0; white-space: pre-wrap; }
.layout { display: grid; grid-template-columns: minmax(0, 1fr); gap: 16px; margin-top: 12px; }
@media (min-width: 900px) {
  .layout { grid-template-columns: minmax(0, 1fr) 280px; }
  .derived { grid-column: 2; grid-row: 1; position: sticky; top: 64px; align-self: start; }
  .form { grid-column: 1; grid-row: 1; }
}
.derived {
  padding: 8px 12px; border: 1px solid var(--vscode-editorWidget-border, rgba(127,127,127,0.3)); border-radius: 4px;
}
.derived h2 { font-size: 1em; margin: 0 0 8px; }
.derived-list { margin: 0; }
.derived-item { display: flex; flex-wrap: wrap; justify-content: space-between; gap: 0 8px; margin: 0 0 6px; }
.derived-item dt { color: var(--vscode-descriptionForeground); }
.derived-item dd { margin: 0; }
.derived-why, .derived-item dd:has(.breakdown) { flex-basis: 100%; }
.derived-value { font-weight: 600; font-variant-numeric: tabular-nums; text-align: right; }
.derived-value.unknown { font-weight: normal; font-style: italic; }
.derived-why { font-size: 0.9em; color: var(--vscode-descriptionForeground); }
.breakdown { list-style: none; margin: 2px 0 0; padding: 0 0 0 8px; font-size: 0.9em; }
.breakdown li { display: flex; justify-content: space-between; gap: 8px; }
.breakdown-value { font-variant-numeric: tabular-nums; }
vscode-collapsible.section { display: block; margin-bottom: 6px; }
vscode-collapsible.nested { margin: 8px 0 4px; }
.section-body { padding: 6px 12px 10px; }
.section-description, .description { margin: 0 0 4px; color: var(--vscode-descriptionForeground); }
.section-note { margin: 0 0 6px; color: var(--vscode-editorWarning-foreground, #cca700); }
.problem-badge {
  padding: 0 6px; border-radius: 8px; font-size: 0.85em;
  background: var(--vscode-editorWarning-foreground, #cca700); color: var(--vscode-editor-background);
}
.problem-badge.has-error { background: var(--vscode-errorForeground, #f48771); }
.field { padding: 8px 0; border-bottom: 1px solid var(--vscode-editorWidget-border, rgba(127,127,127,0.15)); }
.field-head { display: flex; align-items: center; gap: 8px; min-height: 26px; }
.field-head vscode-label { font-weight: 600; padding: 0; }
.field-head vscode-checkbox { font-weight: 600; }
.default-badge { font-size: 0.85em; color: var(--vscode-descriptionForeground); font-style: italic; }
.field-head .reset { margin-left: auto; }
.field .control, .field vscode-single-select { display: block; max-width: 520px; margin: 2px 0; }
.field vscode-textarea.control { width: 100%; }
.field vscode-textfield.control { width: 100%; }
.choices { display: flex; flex-wrap: wrap; gap: 4px 16px; }
.object-fields { padding-left: 12px; border-left: 2px solid var(--vscode-editorWidget-border, rgba(127,127,127,0.3)); }
.hint { margin: 2px 0 0; font-size: 0.9em; color: var(--vscode-descriptionForeground); }
.problems { list-style: none; margin: 4px 0 0; padding: 0; }
.problem { margin: 2px 0; padding-left: 6px; border-left: 3px solid; overflow-wrap: anywhere; }
.problem.error { color: var(--vscode-errorForeground, #f48771); }
.problem.warning { color: var(--vscode-editorWarning-foreground, #cca700); }
.local-error { margin: 2px 0 0; color: var(--vscode-errorForeground, #f48771); }
.cards-heading { font-size: 1em; margin: 10px 0 2px; }
.card {
  margin: 8px 0; padding: 4px 12px;
  border: 1px solid var(--vscode-editorWidget-border, rgba(127,127,127,0.3)); border-radius: 4px;
}
.card-header { display: flex; align-items: center; gap: 8px; }
.card-title { margin: 6px 0; font-size: 1em; flex: 1; overflow-wrap: anywhere; }
`;
