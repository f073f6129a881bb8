// Loads a webview the way VS Code does, in headless Chromium: the page is exactly what the
// host's HTML builder returns, served from a VS Code-like resource origin, with the theme's
// --vscode-* variables set and a stub `acquireVsCodeApi` that records what the page posts.

import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { BrowserContext, Page } from 'playwright-core';
import { chromium } from 'playwright-core';
import { after, before } from 'node:test';
import { repoRoot } from '../unit/testUtil';

/**
 * Chromium's flags for every browser test (notes/environment.md): headless, no GPU, and none
 * of the background connections that this machine's closed network refuses.
 */
export const CHROMIUM_FLAGS: readonly string[] = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

/** The origin VS Code serves webview resources from, and the CSP source it reports. */
export const RESOURCE_ORIGIN = 'https://file+.vscode-resource.vscode-cdn.net';
export const CSP_SOURCE = 'https://*.vscode-cdn.net';
const EXTENSION_ROOT = `${RESOURCE_ORIGIN}/extension`;

/** A subset of VS Code's Dark Modern theme, as VS Code sets it on the webview's <html>. */
export const DARK_THEME: Readonly<Record<string, string>> = {
  '--vscode-editor-background': '#1f1f1f',
  '--vscode-editor-foreground': '#cccccc',
  '--vscode-foreground': '#cccccc',
  '--vscode-descriptionForeground': '#9d9d9d',
  '--vscode-font-family': '"DejaVu Sans", "Liberation Sans", sans-serif',
  '--vscode-font-size': '13px',
  '--vscode-editor-font-family': '"DejaVu Sans Mono", monospace',
  '--vscode-editor-font-size': '12px',
  '--vscode-charts-blue': '#3794ff',
  '--vscode-charts-orange': '#d18616',
  '--vscode-charts-purple': '#b180d7',
  '--vscode-charts-green': '#89d185',
  '--vscode-editorWidget-border': '#454545',
  '--vscode-badge-background': '#616161',
  '--vscode-badge-foreground': '#f8f8f8',
  '--vscode-button-background': '#0078d4',
  '--vscode-button-foreground': '#ffffff',
  '--vscode-button-hoverBackground': '#026ec1',
  '--vscode-button-secondaryBackground': '#313131',
  '--vscode-button-secondaryForeground': '#cccccc',
  '--vscode-focusBorder': '#0078d4',
  '--vscode-errorForeground': '#f85149',
  '--vscode-inputValidation-errorBackground': '#5a1d1d',
  '--vscode-inputValidation-errorBorder': '#be1100',
  '--vscode-textCodeBlock-background': '#2b2b2b',
};

/** Screenshots the render tests leave for people to look at. */
export const ARTIFACTS = path.join(repoRoot, 'test-artifacts');

/**
 * One browser for a describe block: checks the built bundles are there, launches Chromium
 * before the tests and closes it after them. Returns the harness's accessor.
 */
export function useBrowser(bundles: readonly string[]): () => Harness {
  let harness: Harness | undefined;
  before(async () => {
    const missing = bundles.filter((name) => !existsSync(path.join(repoRoot, 'dist', 'webview', `${name}.js`)));
    assert.deepEqual(missing, [], `dist/webview/{${missing.join(',')}}.js missing: run npm run build first`);
    harness = await launchChromium();
    mkdirSync(ARTIFACTS, { recursive: true });
  });
  after(async () => {
    await harness?.close();
  });
  return () => {
    assert.ok(harness, 'the browser did not start');
    return harness;
  };
}

export function findChromium(): string | undefined {
  const candidates = [process.env.CHROMIUM_PATH, '/usr/bin/chromium', '/usr/bin/chromium-browser', '/usr/bin/google-chrome'];
  return candidates.find((p): p is string => p !== undefined && p !== '' && existsSync(p));
}

export interface Harness {
  readonly context: BrowserContext;
  close(): Promise<void>;
}

export async function launchChromium(): Promise<Harness> {
  const executablePath = findChromium();
  if (executablePath === undefined) {
    throw new Error('No Chromium found: apt-get install -y chromium (or set CHROMIUM_PATH).');
  }
  // A new, empty profile each run, so nothing cached or synced leaks between runs.
  const userDataDir = mkdtempSync(path.join(os.tmpdir(), 'medvlm-chromium-'));
  const context = await chromium.launchPersistentContext(userDataDir, {
    executablePath,
    headless: true,
    viewport: { width: 1000, height: 760 },
    args: [...CHROMIUM_FLAGS],
  });
  return {
    context,
    close: async () => {
      await context.close();
      rmSync(userDataDir, { recursive: true, force: true });
    },
  };
}

export interface WebviewPage {
  readonly page: Page;
  readonly consoleErrors: string[];
  /** Everything the page posted through the stub VS Code API, in order. */
  posted(): Promise<unknown[]>;
  /** Delivers a message the way the host's postMessage does. */
  send(message: unknown): Promise<void>;
}

/** Serves `html` and the built webview bundle from the resource origin; nothing else loads. */
export async function openWebview(context: BrowserContext, html: string, theme = DARK_THEME): Promise<WebviewPage> {
  const page = await context.newPage();
  const consoleErrors: string[] = [];
  page.on('console', (msg) => {
    if (msg.type() === 'error') consoleErrors.push(msg.text());
  });
  page.on('pageerror', (err) => consoleErrors.push(`pageerror: ${err.message}`));
  page.on('requestfailed', (req) => consoleErrors.push(`requestfailed: ${req.url()}`));

  await page.route('**/*', async (route) => {
    const url = new URL(route.request().url());
    if (url.origin !== RESOURCE_ORIGIN) {
      return route.abort();
    }
    if (url.pathname === '/index.html') {
      return route.fulfill({ status: 200, contentType: 'text/html', body: html });
    }
    const prefix = '/extension/';
    const file = path.join(repoRoot, decodeURIComponent(url.pathname.slice(prefix.length)));
    if (url.pathname.startsWith(prefix) && file.startsWith(path.join(repoRoot, 'dist')) && existsSync(file)) {
      return route.fulfill({ status: 200, contentType: 'text/javascript', body: readFileSync(file) });
    }
    return route.fulfill({ status: 404, body: '' });
  });

  // Runs before the page's own scripts, like VS Code's webview preload; CSSOM and script
  // injection through the debugger are not subject to the page's CSP, as in VS Code.
  await page.addInitScript((vars: Record<string, string>) => {
    const w = window as unknown as { __posted: unknown[]; acquireVsCodeApi: () => unknown };
    w.__posted = [];
    let acquired = false;
    // Like VS Code, the saved state outlives a reload of the page (a hidden webview is reloaded).
    const STATE_KEY = '__medvlmWebviewState';
    w.acquireVsCodeApi = () => {
      if (acquired) throw new Error('An instance of the VS Code API has already been acquired');
      acquired = true;
      return {
        postMessage: (m: unknown) => w.__posted.push(JSON.parse(JSON.stringify(m))),
        getState: (): unknown => JSON.parse(sessionStorage.getItem(STATE_KEY) ?? 'null'),
        setState: (s: unknown) => sessionStorage.setItem(STATE_KEY, JSON.stringify(s)),
      };
    };
    const sheet = new CSSStyleSheet();
    sheet.replaceSync(`:root { ${Object.entries(vars).map(([k, v]) => `${k}: ${v};`).join(' ')} }`);
    document.adoptedStyleSheets = [sheet];
    document.addEventListener('DOMContentLoaded', () => document.body.classList.add('vscode-dark'));
  }, { ...theme });

  await page.goto(`${RESOURCE_ORIGIN}/index.html`);
  return {
    page,
    consoleErrors,
    posted: () => page.evaluate(() => (window as unknown as { __posted: unknown[] }).__posted),
    send: (message) => page.evaluate((m) => window.postMessage(m, '*'), message),
  };
}

export function webviewScriptUri(name: string): string {
  return `${EXTENSION_ROOT}/dist/webview/${name}.js`;
}

/** Counts pixels within `tolerance` per channel of `hex`, in a PNG decoded by the browser. */
export async function countColour(context: BrowserContext, png: Buffer, hex: string, tolerance = 24): Promise<number> {
  const page = await context.newPage();
  try {
    return await page.evaluate(
      async ({ dataUrl, hex, tolerance }) => {
        const img = new Image();
        img.src = dataUrl;
        await img.decode();
        const canvas = document.createElement('canvas');
        canvas.width = img.width;
        canvas.height = img.height;
        const ctx = canvas.getContext('2d');
        if (ctx === null) throw new Error('no 2d context');
        ctx.drawImage(img, 0, 0);
        const { data } = ctx.getImageData(0, 0, img.width, img.height);
        const want = [1, 3, 5].map((i) => parseInt(hex.slice(i, i + 2), 16));
        let count = 0;
        for (let i = 0; i < data.length; i += 4) {
          if (want.every((c, k) => Math.abs((data[i + k] ?? 0) - c) <= tolerance)) count++;
        }
        return count;
      },
      { dataUrl: `data:image/png;base64,${png.toString('base64')}`, hex, tolerance },
    );
  } finally {
    await page.close();
  }
}
