// The harness's own promise, tested: a webview that fails to render makes its test FAIL (not
// hang, not pass), the failure leaves a screenshot, the page's console log and the code-server
// log in the artifacts folder, and the session's processes are all gone afterwards. The
// failing test runs in a child `node --test` (fixtures/brokenWebview.e2e.ts) with a test-only
// extension whose webview throws.

import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { artifactsDir, resetArtifacts } from './harness/artifacts';
import { decodePng } from './harness/png';
import { groupAlive, pidsMentioning } from './harness/processes';

// Where the child's artifacts go: E2E_ARTIFACTS_DIR/<the fixture's suite name>.
const CHILD_ROOT = artifactsDir('harness-self-test');
const CHILD_SUITE_DIR = path.join(CHILD_ROOT, 'broken-webview');
const FIXTURE = path.join(__dirname, 'fixtures', 'brokenWebview.e2e.js');

function runChild(env: NodeJS.ProcessEnv, timeoutMs: number): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--test', '--test-reporter=tap', FIXTURE], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    const timer = setTimeout(() => child.kill('SIGTERM'), timeoutMs);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, output });
    });
  });
}

test('a webview that fails to render fails its test and leaves a screenshot and the logs', { timeout: 12 * 60_000 }, async () => {
  resetArtifacts('harness-self-test');
  const record = path.join(CHILD_ROOT, 'session.json');
  const env: NodeJS.ProcessEnv = { ...process.env, E2E_ARTIFACTS_DIR: CHILD_ROOT, E2E_SESSION_RECORD: record };
  // Set by our own runner; it would make the child report in the runner's binary protocol.
  delete env.NODE_TEST_CONTEXT;
  const { code, output } = await runChild(env, 11 * 60_000);
  const context = `child output:\n${output}`;

  assert.notEqual(code, 0, `the child run must fail\n${context}`);
  assert.match(output, /^# pass 0$/m, context);
  assert.match(output, /^# fail 1$/m, `exactly its one test fails\n${context}`);
  assert.match(output, /webview "broken fixture" did not render/, `it fails for the webview, not for the harness\n${context}`);

  const files = existsSync(CHILD_SUITE_DIR) ? readdirSync(CHILD_SUITE_DIR) : [];
  const named = (suffix: string): string => {
    const name = files.find((f) => f.endsWith(suffix));
    assert.ok(name, `the failed test left a *${suffix} in ${CHILD_SUITE_DIR} (there: ${files.join(', ') || 'nothing'})`);
    return path.join(CHILD_SUITE_DIR, name);
  };
  const screenshot = decodePng(readFileSync(named('.png')));
  assert.ok(screenshot.width >= 800 && screenshot.height >= 600, 'a screenshot of the whole window');
  const consoleLog = readFileSync(named('.console.log'), 'utf8');
  assert.match(consoleLog, /broken webview: about to throw/, 'the console log has what the webview logged');
  assert.match(consoleLog, /deliberately broken webview/, 'and the error it threw');
  assert.match(readFileSync(named('.code-server.log'), 'utf8'), /HTTP server listening on/, 'the code-server log');
  // The error names the webview's own errors, told apart from the workbench's by frame.
  assert.match(readFileSync(named('.error.txt'), 'utf8'), /Errors in this webview:\n(\s+\[.*\n)*\s+\[pageerror\] deliberately broken webview/);

  // Nothing the failed session started is still running, and its temp folder is gone.
  const session = JSON.parse(readFileSync(record, 'utf8')) as { dir: string; pgid: number };
  assert.equal(groupAlive(session.pgid), false, `code-server's process group ${session.pgid} is gone`);
  assert.deepEqual(pidsMentioning(session.dir), [], `no process mentions ${session.dir}`);
  assert.equal(existsSync(session.dir), false, 'the session folder was removed');
  rmSync(record);
});
