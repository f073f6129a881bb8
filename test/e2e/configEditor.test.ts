// The config editor as a user meets it in a real VS Code (code-server + Chromium), on the
// demo workspace: typing a wrong value shows the schema's diagnostic at once, the trainer's
// cross-field rules show up after a pause, a quick fix repairs a typo, and the form view
// edits the YAML (one line, comments kept), follows text edits, and undoes.

import assert from 'node:assert/strict';
import { cpSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { after, afterEach, before, describe, test } from 'node:test';
import type { Frame, Page } from 'playwright-core';
import type { FieldSnapshot } from '../../webview/configEditor/testHooks';
import { resetArtifacts, saveArtifactsAfterEach } from './harness/artifacts';
import { DEMO_CONFIG, makeDemoWorkspace } from './harness/demoWorkspace';
import type { Session } from './harness/session';
import { startSession } from './harness/session';
import { expectWebviewRendered, openFile, runCommand, waitUntil } from './harness/workbench';

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

async function field(frame: Frame, dotted: string): Promise<FieldSnapshot | undefined> {
  return frame.evaluate((p) => window.__medvlmConfigEditor?.field(p), dotted);
}

/** The lines that differ between two versions of a file (same line count expected). */
function changedLines(before: string, after: string): [string, string][] {
  const a = before.split('\n');
  const b = after.split('\n');
  assert.equal(b.length, a.length, 'the edit keeps the number of lines');
  return a.flatMap((line, i) => (line === b[i] ? [] : [[line, b[i]!] as [string, string]]));
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

  test('a form edit changes one line of the YAML, comments kept; undo restores it', { timeout: 180_000 }, async () => {
    const s = need();
    await openFile(s.page, DEMO_CONFIG);
    await runCommand(s.page, 'MedVLM: Open config editor');
    const frame = await expectWebviewRendered(s, { name: 'config editor', frame: '[data-path="lora.r"]', rendered: 'body[data-version]' });
    assert.equal((await field(frame, 'lora.r'))?.value, 8);
    assert.equal((await field(frame, 'train.max_steps'))?.value, 8);
    // Derived numbers, with the dataset sizes from the trainer's check of the demo data
    // (27 training samples after 4 are held out for validation).
    const derived = (key: string): Promise<string | null> => frame.locator(`[data-derived="${key}"] .derived-value`).textContent();
    await waitUntil('the trainer’s dataset sizes in the derived numbers', async () => (await derived('trainSamples')) === '27', 60_000);
    assert.equal(await derived('effectiveBatch'), '2');
    assert.equal(await derived('stepsPerEpoch'), '14');
    assert.equal(await derived('totalSteps'), '8');

    await frame.locator('[data-path="lora.r"] >> input').fill('32');
    await frame.locator('[data-path="lora.r"] >> input').press('Enter');
    await waitUntil('the form to show the edited document', async () => (await field(frame, 'lora.r'))?.value === 32, 10_000);
    await runCommand(s.page, 'File: Save');
    // The save may be caught half-written (VS Code truncates, then writes): wait for the edit.
    const saved = await waitUntil('the edit to be saved', () => {
      const text = readFileSync(configPath(), 'utf8');
      return /^ {2}r: 32$/m.test(text) && text.length === original.length + 1 ? text : undefined;
    }, 10_000);
    assert.deepEqual(changedLines(original, saved), [['  r: 8', '  r: 32']], 'only the edited line changed: comments, order and formatting kept');

    await runCommand(s.page, 'Undo');
    await waitUntil('the form to show the undone value', async () => (await field(frame, 'lora.r'))?.value === 8, 10_000);
    await runCommand(s.page, 'File: Save');
    await waitUntil('the saved file to equal the original again', () => readFileSync(configPath(), 'utf8') === original, 10_000);
  });

  test('text edits show up in the form at once', { timeout: 120_000 }, async () => {
    const s = need();
    const frame = await expectWebviewRendered(s, { name: 'config editor', frame: '[data-path="lora.r"]', rendered: 'body[data-version]' });
    await runCommand(s.page, 'View: Focus First Editor Group');
    const line = lineOf(original, 'dropout: 0.0');
    await retypeLine(s.page, line, 'dropout: 0.25');
    await waitUntil('the form to show the typed value', async () => (await field(frame, 'lora.dropout'))?.value === 0.25, 10_000);
    await retypeLine(s.page, line, 'dropout: 5');
    // Typing passes through other states (`dropout: ` is empty for a moment): wait for the
    // problem of the final text.
    const shown = await waitUntil('the form to show the problem under the field', async () => {
      const f = await field(frame, 'lora.dropout');
      return f !== undefined && f.problems.some((p) => /out of range/.test(p)) ? f : undefined;
    }, 10_000);
    assert.equal(shown.problems.length, 1, `one problem under the field: ${JSON.stringify(shown.problems)}`);
    await retypeLine(s.page, line, 'dropout: 0.0');
    await runCommand(s.page, 'File: Save');
    await waitUntil('the saved file to equal the original', () => readFileSync(configPath(), 'utf8') === original, 10_000);
  });
  test('a local model folder outside the estimate\'s list gets a memory estimate from its config.json', { timeout: 120_000 }, async () => {
    const s = need();
    // The tiny model under another name: not in KNOWN_MODELS, so only its config.json can tell.
    cpSync(path.join(s.workspace, 'tiny-qwen2_5_vl'), path.join(s.workspace, 'my-ct-model'), { recursive: true });
    // The config editor beside the text, as the earlier tests left them.
    const frame = await expectWebviewRendered(s, { name: 'config editor', frame: '[data-path="lora.r"]', rendered: 'body[data-version]' });
    await runCommand(s.page, 'View: Focus First Editor Group');
    const baseLine = lineOf(original, 'base: tiny-qwen2_5_vl');
    const cpuLine = lineOf(original, 'use_cpu: true');
    await retypeLine(s.page, cpuLine, 'use_cpu: false');
    await retypeLine(s.page, baseLine, 'base: my-ct-model');
    const memory = frame.locator('[data-derived="memory"]');
    let last = '';
    const shown = await waitUntil(
      'the memory estimate from my-ct-model/config.json',
      async () => {
        // How a known number comes about is the row's tooltip.
        const text = `${(await memory.textContent()) ?? ''} | ${(await memory.getAttribute('title')) ?? ''}`;
        last = text;
        return /my-ct-model \(shapes from its config\.json\)/.test(text) ? text : undefined;
      },
      20_000,
    ).catch((err: Error) => {
      throw new Error(`${err.message}; the memory row says: ${last}`);
    });
    assert.match(shown, /^GPU memory per GPUabout \d+\.\d GiB/, `a number, not "unknown": ${shown}`);
    // The form's model.base field opens the Hub picker (its own e2e test is in walkingSkeleton).
    await frame.locator('[data-pick-base-model="model.base"]').click();
    await s.page.locator('.quick-input-widget .quick-input-title', { hasText: 'Base model (model.base)' }).waitFor({ timeout: 10_000 });
    await s.page.locator('.quick-input-widget .monaco-list-row', { hasText: 'google/medgemma-4b-it' }).waitFor({ timeout: 10_000 });
    await s.page.keyboard.press('Escape');
    await s.page.locator('.quick-input-widget').waitFor({ state: 'hidden', timeout: 5_000 });
    await runCommand(s.page, 'View: Focus First Editor Group');
    await retypeLine(s.page, baseLine, 'base: tiny-qwen2_5_vl');
    await retypeLine(s.page, cpuLine, 'use_cpu: true');
    await runCommand(s.page, 'File: Save');
    await waitUntil('the saved file to equal the original', () => readFileSync(configPath(), 'utf8') === original, 10_000);
  });
});
