// The HTML shell every webview of the extension uses, built without `vscode` so tests can
// check its Content-Security-Policy: one nonce'd stylesheet and one nonce'd script that builds
// the DOM, so nothing inline can run and nothing outside the extension's webview roots can load.

import { randomBytes } from 'node:crypto';

export interface WebviewPageOptions {
  /** `webview.cspSource`. */
  readonly cspSource: string;
  /** `webview.asWebviewUri(dist/webview/<name>.js)`, as a string. */
  readonly scriptUri: string;
  /** Fresh per load, from createNonce(). */
  readonly nonce: string;
  /** Text (a file or run name the user chose): escaped like any other. */
  readonly title: string;
}

/** 128 random bits, base64: a nonce an attacker-controlled log line cannot predict. */
export function createNonce(): string {
  return randomBytes(16).toString('base64');
}

/** What a page may do beyond running its one script and stylesheet. */
export interface PagePermissions {
  /**
   * Start a Web Worker from a blob: URL, built from a script the page fetched from its own
   * resource origin (`cspSource`). A webview's files are served from another origin than the
   * page, and a worker must be same-origin, so this is the only way a webview starts one; no
   * other origin can be fetched or run.
   */
  readonly workers?: boolean;
}

export function buildContentSecurityPolicy(cspSource: string, nonce: string, permissions: PagePermissions = {}): string {
  return [
    "default-src 'none'",
    `img-src ${cspSource} data:`,
    `style-src ${cspSource} 'nonce-${nonce}'`,
    `script-src 'nonce-${nonce}'`,
    `font-src ${cspSource}`,
    ...(permissions.workers === true ? [`connect-src ${cspSource}`, 'worker-src blob:'] : []),
  ].join('; ');
}

const ESCAPES: Readonly<Record<string, string>> = {
  '&': '&amp;',
  '<': '&lt;',
  '>': '&gt;',
  '"': '&quot;',
  "'": '&#39;',
};

export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (ch) => ESCAPES[ch] ?? ch);
}

/**
 * The panels' common base: VS Code's theme colours and font on the body, in light, dark and
 * high-contrast themes alike. A page's own stylesheet follows it.
 */
export const PANEL_BASE_CSS = `
:root { color-scheme: light dark; }
body {
  margin: 0; padding: 12px 16px;
  color: var(--vscode-editor-foreground);
  background: var(--vscode-editor-background);
  font-family: var(--vscode-font-family);
  font-size: var(--vscode-font-size, 13px);
}
`;

/** The page: `css` in a nonce'd style element, `<main id="app">` for the script to fill. */
export function buildWebviewPage(options: WebviewPageOptions, css: string, mainAttributes = '', permissions: PagePermissions = {}): string {
  const nonce = escapeHtml(options.nonce);
  const csp = escapeHtml(buildContentSecurityPolicy(options.cspSource, options.nonce, permissions));
  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="UTF-8">
<meta http-equiv="Content-Security-Policy" content="${csp}">
<meta name="viewport" content="width=device-width, initial-scale=1.0">
<title>${escapeHtml(options.title)}</title>
<style nonce="${nonce}">${css}</style>
</head>
<body>
<main id="app"${mainAttributes}></main>
<script nonce="${nonce}" src="${escapeHtml(options.scriptUri)}"></script>
</body>
</html>
`;
}
