// The run panel's HTML: a strict Content-Security-Policy whose nonce is the only way a script
// or style can run, and nothing that loads from outside the webview's resource roots.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { buildRunPanelHtml } from '../../src/webviews/runPanelHtml';
import { buildContentSecurityPolicy, createNonce, escapeHtml } from '../../src/webviews/webviewHtml';

const CSP_SOURCE = 'https://*.vscode-cdn.net';
const RESOURCE_ROOT = 'https://file+.vscode-resource.vscode-cdn.net/ext/dist/webview/';
const SCRIPT_URI = `${RESOURCE_ROOT}runPanel.js`;

function build(nonce = createNonce(), title = 'Run demo'): string {
  return buildRunPanelHtml({ cspSource: CSP_SOURCE, scriptUri: SCRIPT_URI, nonce, title });
}

function cspOf(html: string): string {
  const match = /<meta http-equiv="Content-Security-Policy" content="([^"]*)">/.exec(html);
  assert.ok(match?.[1] !== undefined, 'has a CSP meta tag');
  return match[1].replace(/&#39;/g, "'");
}

describe('run panel HTML', () => {
  it('has a strict CSP whose nonce matches the script and style tags', () => {
    const nonce = createNonce();
    const html = build(nonce);
    const csp = cspOf(html);
    assert.equal(csp, buildContentSecurityPolicy(CSP_SOURCE, nonce, { workers: true }));
    assert.match(csp, /^default-src 'none';/);
    const scriptNonce = /script-src 'nonce-([^']+)'/.exec(csp)?.[1];
    assert.equal(scriptNonce, nonce);
    const scripts = [...html.matchAll(/<script\b([^>]*)>/g)];
    assert.equal(scripts.length, 1);
    assert.match(scripts[0]?.[1] ?? '', new RegExp(`nonce="${escapeRegExp(nonce)}"`));
    assert.match(scripts[0]?.[1] ?? '', new RegExp(`src="${escapeRegExp(SCRIPT_URI)}"`));
    for (const [, attrs] of html.matchAll(/<style\b([^>]*)>/g)) {
      assert.match(attrs ?? '', new RegExp(`nonce="${escapeRegExp(nonce)}"`));
    }
  });

  it('lets the page start its chart worker from a blob: URL and fetch only its own resources', () => {
    const directives = new Map(
      cspOf(build())
        .split(';')
        .map((d) => d.trim().split(/\s+/))
        .map(([name, ...sources]) => [name, sources] as const),
    );
    assert.deepEqual(directives.get('worker-src'), ['blob:'], 'workers from blob: URLs only');
    assert.deepEqual(directives.get('connect-src'), [CSP_SOURCE], 'fetches from the webview resource origin only');
    assert.equal(directives.get('child-src'), undefined);
    assert.deepEqual(directives.get('default-src'), ["'none'"]);
  });

  it('allows nothing unsafe', () => {
    const html = build();
    const csp = cspOf(html);
    assert.doesNotMatch(csp, /unsafe-inline|unsafe-eval|unsafe-hashes|\*(?!\.vscode-cdn\.net)/);
    assert.match(csp, /script-src 'nonce-[^']+'(;|$)/, 'scripts only by nonce, not even cspSource');
    assert.doesNotMatch(html, /\son\w+\s*=/i, 'no inline event handlers');
    assert.doesNotMatch(html, /javascript:/i);
  });

  it('loads only webview-resource URLs', () => {
    const html = build();
    const urls = [...html.matchAll(/\b(?:src|href)\s*=\s*"([^"]*)"/gi)].map((m) => m[1] ?? '');
    assert.ok(urls.length > 0);
    for (const url of urls) assert.ok(url.startsWith(RESOURCE_ROOT), url);
    assert.doesNotMatch(html.replace(/content="[^"]*"/, ''), /https?:\/\/(?!file\+\.vscode-resource\.vscode-cdn\.net)/);
  });

  it('uses a fresh nonce each load', () => {
    const nonces = new Set(Array.from({ length: 50 }, () => createNonce()));
    assert.equal(nonces.size, 50);
    for (const nonce of nonces) assert.match(nonce, /^[A-Za-z0-9+/]{22}==$/);
    const first = /nonce-([^']+)'/.exec(cspOf(build()))?.[1];
    const second = /nonce-([^']+)'/.exec(cspOf(build()))?.[1];
    assert.ok(first !== undefined && second !== undefined && first !== second);
  });

  it('escapes the title, which comes from the run config', () => {
    const html = build(createNonce(), 'x"><script>alert(1)</script>');
    assert.equal([...html.matchAll(/<script\b/g)].length, 1);
    assert.ok(html.includes(escapeHtml('x"><script>alert(1)</script>')));
  });
});

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
