// The config editor's HTML: the run panel's strict Content-Security-Policy (one policy for
// every webview), a nonce on the one script and the one stylesheet, nothing inline that runs,
// and nothing loaded from outside the extension's webview folder.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { buildConfigEditorHtml } from '../../src/webviews/configEditorHtml';
import { buildContentSecurityPolicy, createNonce, escapeHtml } from '../../src/webviews/webviewHtml';

const CSP_SOURCE = 'https://*.vscode-cdn.net';
const RESOURCE_ROOT = 'https://file+.vscode-resource.vscode-cdn.net/ext/dist/webview/';
const SCRIPT_URI = `${RESOURCE_ROOT}configEditor.js`;

function build(nonce = createNonce(), title = 'demo.sft.yaml'): string {
  return buildConfigEditorHtml({ cspSource: CSP_SOURCE, scriptUri: SCRIPT_URI, nonce, title });
}

function cspOf(html: string): string {
  const match = /<meta http-equiv="Content-Security-Policy" content="([^"]*)">/.exec(html);
  assert.ok(match?.[1] !== undefined, 'has a CSP meta tag');
  return match[1].replace(/&#39;/g, "'");
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

describe('config editor HTML', () => {
  it('has the shared strict CSP, whose nonce matches the script and style tags', () => {
    const nonce = createNonce();
    const html = build(nonce);
    const csp = cspOf(html);
    assert.equal(csp, buildContentSecurityPolicy(CSP_SOURCE, nonce));
    assert.match(csp, /^default-src 'none';/);
    const scripts = [...html.matchAll(/<script\b([^>]*)>/g)];
    assert.equal(scripts.length, 1);
    assert.match(scripts[0]?.[1] ?? '', new RegExp(`nonce="${escapeRegExp(nonce)}"`));
    assert.match(scripts[0]?.[1] ?? '', new RegExp(`src="${escapeRegExp(SCRIPT_URI)}"`));
    const styles = [...html.matchAll(/<style\b([^>]*)>/g)];
    assert.equal(styles.length, 1);
    assert.match(styles[0]?.[1] ?? '', new RegExp(`nonce="${escapeRegExp(nonce)}"`));
  });

  it('allows nothing unsafe and has no inline handlers', () => {
    const html = build();
    const csp = cspOf(html);
    assert.doesNotMatch(csp, /unsafe-inline|unsafe-eval|unsafe-hashes|\*(?!\.vscode-cdn\.net)/);
    assert.match(csp, /script-src 'nonce-[^']+'(;|$)/, 'scripts only by nonce');
    // Only the run panel starts a worker; the form has no use for workers or fetches.
    assert.doesNotMatch(csp, /worker-src|connect-src|child-src/, 'no workers, no fetches');
    assert.doesNotMatch(html, /\son\w+\s*=/i, 'no inline event handlers');
    assert.doesNotMatch(html, /javascript:/i);
    assert.doesNotMatch(html, /@import|url\(/i, 'the stylesheet loads nothing');
  });

  it('loads only the bundle from the webview folder', () => {
    const html = build();
    const urls = [...html.matchAll(/\b(?:src|href)\s*=\s*"([^"]*)"/gi)].map((m) => m[1] ?? '');
    assert.deepEqual(urls, [SCRIPT_URI]);
    assert.doesNotMatch(html.replace(/content="[^"]*"/, ''), /https?:\/\/(?!file\+\.vscode-resource\.vscode-cdn\.net)/);
  });

  it('uses a fresh nonce each load', () => {
    const first = /nonce-([^']+)'/.exec(cspOf(build()))?.[1];
    const second = /nonce-([^']+)'/.exec(cspOf(build()))?.[1];
    assert.ok(first !== undefined && second !== undefined && first !== second);
  });

  it('escapes the file name, which the user chose', () => {
    const name = 'x"><script>alert(1)</script>.sft.yaml';
    const html = build(createNonce(), name);
    assert.equal([...html.matchAll(/<script\b/g)].length, 1);
    assert.ok(html.includes(`<title>${escapeHtml(name)}</title>`));
  });
});
