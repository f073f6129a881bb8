// The config editor as a user meets it in a real VS Code (code-server + Chromium), on the
// demo workspace: typing a wrong value shows the schema's diagnostic at once, the trainer's
// cross-field rules show up after a pause, a quick fix repairs a typo, and the form view
// edits the YAML (one line, comments kept), follows text edits, and undoes.

import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { after, afterEach, before, describe, test } from 'node:test';
import type { Page } from 'playwright-core';
import { resetArtifacts, saveArtifactsAfterEach } from './harness/artifacts';
import { DEMO_CONFIG, makeDemoWorkspace } from './harness/demoWorkspace';
import type { Session } from './harness/session';
import { startSession } from './harness/session';
import { openFile, runCommand, waitUntil } from './harness/workbench';

const SUITE = 'config-editor';

/** Puts the cursor at the end of a 1-based line of the active text editor. */
async function goToLineEnd(page: Page, line: number): Promise<void> {
  await page.keyboard.press('Control+g');
  const input = page.locator('.quick-input-widget input.input');
  await input.waitFor({ state: 'visible', timeout: 5_000 });
  await input.fill(`:${line}`);
  await page.keyboard.press('Enter');
  await input.waitFor({ state: 'hidden', timeout: 5_000 });
  await page.keyboard.press('End');
}

/** Replaces a 1-based line's text (after its indentation) by typing, as a user would. */
async function retypeLine(page: Page, line: number, text: string): Promise<void> {
  await goToLineEnd(page, line);
  await page.keyboard.press('Shift+Home');
  await page.keyboard.type(text, { delay: 5 });
  // Completions may have opened while typing; a user dismisses them.
  await page.keyboard.press('Escape');
}

/** The Problems panel's rows, as their accessible labels (message, source, position). */
async function problems(page: Page): Promise<string[]> {
  return page.locator('.markers-panel .monaco-list-row').evaluateAll((rows) => rows.map((row) => row.getAttribute('aria-label') ?? row.textContent ?? ''));
}

async function showProblems(page: Page): Promise<void> {
  if (!(await page.locator('.markers-panel').isVisible())) {
    await runCommand(page, 'Problems: Focus on Problems View');
  }
  await page.locator('.markers-panel').waitFor({ state: 'visible', timeout: 10_000 });
}

function lineOf(text: string, needle: string): number {
  const index = text.split('\n').findIndex((l) => l.includes(needle));
  assert.ok(index >= 0, `${needle} is in the demo config`);
  return index + 1;
}

describe('config editor in VS Code (code-server + Chromium)', () => {
  let session: Session | undefined;
  let original = '';
  const need = (): Session => {
    assert.ok(session, 'the session did not start');
    return session;
  };
  const configPath = (): string => path.join(need().workspace, DEMO_CONFIG);

  before(async () => {
    resetArtifacts(SUITE);
    session = await startSession({ name: 'config-editor', prepareWorkspace: makeDemoWorkspace });
    original = readFileSync(configPath(), 'utf8');
  }, { timeout: 20 * 60_000 });
  after(async () => {
    await session?.close();
  });
  afterEach(saveArtifactsAfterEach(SUITE, () => session));

  test('typing a wrong value shows the diagnostic at once, with its position', { timeout: 120_000 }, async () => {
    const s = need();
    await openFile(s.page, DEMO_CONFIG);
    await showProblems(s.page);
    const line = lineOf(original, 'per_device_batch_size: 2');
    await retypeLine(s.page, line, 'per_device_batch_size: lots');
    const row = await waitUntil(
      'the wrong value in the Problems panel',
      async () => (await problems(s.page)).find((p) => p.includes('`lots` should be an integer')),
      20_000,
    );
    assert.match(row, /train\.per_device_batch_size/);
    assert.match(row, new RegExp(`${line}`), 'the problem names its line');
    await retypeLine(s.page, line, 'per_device_batch_size: 2');
    await waitUntil('the problem to go', async () => !(await problems(s.page)).some((p) => p.includes('`lots`')), 20_000);
  });

  test('the trainer’s cross-field rules appear after a pause (no validation set but eval on)', { timeout: 120_000 }, async () => {
    const s = need();
    const line = lineOf(original, 'val_limit: 4');
    await retypeLine(s.page, line, 'val_limit: 0');
    const row = await waitUntil(
      'the trainer’s eval-without-validation-data rule in the Problems panel',
      async () => (await problems(s.page)).find((p) => /no source holds out validation samples/.test(p)),
      60_000,
    );
    assert.match(row, /eval/);
    await retypeLine(s.page, line, 'val_limit: 4');
    await waitUntil('the rule’s problem to go', async () => !(await problems(s.page)).some((p) => /no source holds out/.test(p)), 60_000);
  });

  test('a quick fix repairs a mistyped choice', { timeout: 120_000 }, async () => {
    const s = need();
    const line = lineOf(original, 'optimizer: adamw_torch');
    await retypeLine(s.page, line, 'optimizer: adamw_torh');
    await waitUntil('the typo in the Problems panel', async () => (await problems(s.page)).some((p) => p.includes('did you mean `adamw_torch`')), 20_000);
    await goToLineEnd(s.page, line);
    await s.page.keyboard.press('Control+.');
    const fix = s.page.locator('.action-widget .monaco-list-row[aria-label="Change to `adamw_torch`"]');
    await fix.waitFor({ state: 'visible', timeout: 10_000 });
    // The preferred fix is focused; Enter applies it, as from the keyboard.
    assert.match((await fix.getAttribute('class')) ?? '', /\bfocused\b/);
    await s.page.keyboard.press('Enter');
    await waitUntil('the typo’s problem to go', async () => !(await problems(s.page)).some((p) => p.includes('adamw_torh')), 20_000);
    await runCommand(s.page, 'File: Save');
    await waitUntil('the saved file to equal the original', () => readFileSync(configPath(), 'utf8') === original, 10_000);
  });
});
