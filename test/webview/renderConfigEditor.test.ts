// Renders the real config editor bundle (dist/webview/configEditor.js, from `npm run build`) in
// headless Chromium under the production CSP, feeds it states as the host would, and checks
// what a user sees and what the form posts: values and defaults, problems under their fields,
// the intents a field edit, a checkbox, a picker and the card buttons send, focus kept while a
// snapshot arrives, the read-only mode on a YAML syntax error, and a clean console.
import assert from 'node:assert/strict';
import { copyFileSync, existsSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import type { JsonValue } from '../../src/shared/configSchema';
import type { ConfigEditorState } from '../../src/shared/protocol/configEditor';
import {
  AppendItemMessage,
  DatasetActionMessage,
  ApplyPresetMessage,
  NoticeMessage,
  ReadyMessage,
  RemoveValueMessage,
  SetValueMessage,
  StartRunMessage,
  StateMessage,
} from '../../src/shared/protocol/configEditor';
import { envelope } from '../../src/shared/protocol/message';
import { deriveNumbers } from '../../src/core/config/derivedNumbers';
import { CONFIG_PRESETS } from '../../src/core/config/presets';
import { buildConfigEditorHtml } from '../../src/webviews/configEditorHtml';
import { derivedItems } from '../../src/webviews/configEditorState';
import { createNonce } from '../../src/webviews/webviewHtml';
import type { ConfigEditorTestHooks } from '../../webview/configEditor/testHooks';
import { repoRoot } from '../unit/testUtil';
import type { Harness, WebviewPage } from './browserHarness';
import { ARTIFACTS, CSP_SOURCE, useBrowser, openWebview, webviewScriptUri } from './browserHarness';

const README_SHOT = path.join(repoRoot, 'media/screenshots/config-editor.png');

type Hooks = ConfigEditorTestHooks;

const CONFIG: JsonValue = {
  model: { base: 'google/medgemma-4b-it', family: 'medgemma', quantization: '4bit', gradient_checkpointing: true },
  data: {
    sources: [
      { name: 'detection', records: 'data/detection/records.jsonl', tasks: 'data/detection/tasks.json', train_limit: 11000, val_limit: 105 },
      { name: 'lesion-size', records: 'data/lesion/records.jsonl', tasks: 'data/lesion/tasks.json', val_limit: 50 },
    ],
  },
  train: { epochs: 3, per_device_batch_size: 2, gradient_accumulation_steps: 8, learning_rate: 0.0002, use_cpu: false },
  lora: { r: 16, alpha: 32 },
  eval: { strategy: 'steps', steps: 100 },
  checkpoints: { save_steps: 100, save_total_limit: 3 },
};

function baseState(overrides: Partial<ConfigEditorState> = {}): ConfigEditorState {
  return {
    fileName: 'medgemma-4b-qlora.sft.yaml',
    version: 1,
    value: CONFIG,
    problems: [
      { path: ['train', 'learning_rate'], message: 'a learning rate above 1e-4 with 4-bit weights often diverges', severity: 'warning', code: 'lr-high' },
      { path: ['data', 'sources', 1, 'records'], message: 'file not found: data/lesion/records.jsonl', severity: 'error', code: 'data-missing' },
      { path: ['train', 'lerning_rate'], message: 'unknown key; did you mean `learning_rate`?', severity: 'error', code: 'unknown-key' },
    ],
    trainerCheck: 'done',
    // What the host sends for this config and these dataset sizes.
    derived: derivedItems(deriveNumbers(CONFIG, { train: 15_850, val: 155, exact: true, sources: [] })),
    presets: CONFIG_PRESETS.map(({ id, label, detail }) => ({ id, label, detail })),
    startRun: { enabled: true },
    ...overrides,
  };
}

function editorHtml(): string {
  return buildConfigEditorHtml({ cspSource: CSP_SOURCE, scriptUri: webviewScriptUri('configEditor'), nonce: createNonce(), title: 'config' });
}

async function posted(view: WebviewPage): Promise<unknown[]> {
  return view.posted();
}

/** Waits until the page has posted `count` messages, and returns those after the first `from`. */
async function postedAfter(view: WebviewPage, from: number, count = 1): Promise<unknown[]> {
  await view.page.waitForFunction((n) => (window as unknown as { __posted: unknown[] }).__posted.length >= n, from + count);
  return (await posted(view)).slice(from);
}

async function openEditor(harness: Harness, state = baseState()): Promise<WebviewPage> {
  const view = await openWebview(harness.context, editorHtml());
  await view.page.waitForFunction(() => (window as unknown as { __posted: unknown[] }).__posted.length > 0);
  assert.deepEqual((await posted(view))[0], envelope(ReadyMessage, {}), 'the webview posts ready first');
  await view.send(envelope(StateMessage, state));
  await view.page.waitForFunction((v) => document.body.dataset.version === String(v), state.version);
  return view;
}

describe('config editor in headless Chromium', () => {
  const browser = useBrowser(['configEditor']);

  it('renders fields with values, defaults and problems, and posts intents', async () => {
    const view = await openEditor(browser());
    const page = view.page;

    // Every schema field is there, with a stable data-path on its control.
    const paths = await page.evaluate(() => (window.__medvlmConfigEditor as Hooks).fieldPaths());
    for (const p of ['model.base', 'train.learning_rate', 'data.sources[0].records', 'data.image.window', 'launch.slurm.partition', 'logging.wandb.mode']) {
      assert.ok(paths.includes(p), `field ${p}`);
    }
    assert.equal(await page.locator('[data-path="train.learning_rate"] >> input').inputValue(), '0.0002');
    // Absent keys show the default as a placeholder.
    const warmup = page.locator('[data-path="train.warmup_ratio"] >> input');
    assert.equal(await warmup.inputValue(), '');
    assert.equal(await warmup.getAttribute('placeholder'), 'default: 0.03');
    const family = await page.evaluate(() => (window.__medvlmConfigEditor as Hooks).field('model.family'));
    assert.deepEqual(
      { kind: family?.kind, present: family?.present, shown: family?.shown, defaultText: family?.defaultText, disabled: family?.disabled },
      { kind: 'enum', present: true, shown: 'medgemma', defaultText: 'auto', disabled: false },
    );
    assert.equal(await page.locator('[data-path="model.family"]').evaluate((el) => (el as HTMLElement & { value: string }).value), 'medgemma');
    // Descriptions render backticks as <code>, as text.
    const description = page.locator('[data-field="model.base"] .description');
    assert.equal(await description.locator('code').first().textContent(), 'google/medgemma-4b-it');
    // Labels are bound to their inputs.
    assert.equal(await page.getByLabel('warmup_ratio', { exact: true }).getAttribute('placeholder'), 'default: 0.03');

    // Problems under their fields; the unknown key at the top.
    assert.match((await page.locator('[data-field="train.learning_rate"] .problem.warning').textContent()) ?? '', /often diverges/);
    assert.match((await page.locator('[data-field="data.sources[1].records"] .problem.error').textContent()) ?? '', /file not found/);
    assert.match((await page.locator('.top-problems').textContent()) ?? '', /train\.lerning_rate: unknown key/);
    assert.deepEqual(await page.locator('[data-card]').evaluateAll((cards) => cards.map((c) => c.getAttribute('aria-label'))), [
      'source 1: detection',
      'source 2: lesion-size',
    ]);
    assert.equal(await page.locator('[data-derived="effectiveBatch"] .derived-value').textContent(), '16');
    assert.equal(await page.locator('[data-derived="totalSteps"] .derived-value').textContent(), '2,973');
    assert.match((await page.locator('[data-derived="memory"]').textContent()) ?? '', /about \d+\.\d GiB[\s\S]*activations/);

    // A text field commits on Enter (one intent), not per keystroke; the blur after is a no-op.
    let sent = (await posted(view)).length;
    const lr = page.locator('[data-path="train.learning_rate"] >> input');
    await lr.fill('3e-4');
    await lr.press('Enter');
    await page.locator('[data-path="train.seed"] >> input').focus();
    assert.deepEqual(await postedAfter(view, sent), [envelope(SetValueMessage, { path: ['train', 'learning_rate'], value: 0.0003 })]);

    // Text that is not of the field's type stays local, with a message.
    sent = (await posted(view)).length;
    await lr.fill('often');
    await lr.press('Enter');
    assert.match((await page.locator('[data-field="train.learning_rate"] .local-error').textContent()) ?? '', /not a number/);

    // Clearing a field removes the key (the default applies).
    await lr.fill('');
    await lr.press('Enter');
    assert.deepEqual(await postedAfter(view, sent), [envelope(RemoveValueMessage, { path: ['train', 'learning_rate'] })]);
    assert.ok(await page.locator('[data-field="train.learning_rate"] .local-error').isHidden());

    // A checkbox sets an explicit boolean.
    sent = (await posted(view)).length;
    assert.equal(await page.locator('vscode-checkbox[data-path="train.use_cpu"]').evaluate((el) => (el as HTMLElement & { checked: boolean }).checked), false);
    await page.locator('vscode-checkbox[data-path="train.use_cpu"]').click();
    assert.deepEqual(await postedAfter(view, sent), [envelope(SetValueMessage, { path: ['train', 'use_cpu'], value: true })]);

    // An enum picker, through its dropdown.
    sent = (await posted(view)).length;
    await page.locator('vscode-single-select[data-path="model.dtype"]').click();
    await page.locator('vscode-single-select[data-path="model.dtype"] >> li.option', { hasText: 'bfloat16' }).click();
    assert.deepEqual(await postedAfter(view, sent), [envelope(SetValueMessage, { path: ['model', 'dtype'], value: 'bfloat16' })]);

    // Source cards: preview and check one's records (the host reads its paths), remove one, add one.
    sent = (await posted(view)).length;
    await page.locator('[data-dataset-action="preview:1"]').click();
    await page.locator('[data-dataset-action="check:0"]').click();
    assert.deepEqual(await postedAfter(view, sent, 2), [
      envelope(DatasetActionMessage, { action: 'preview', source: 1 }),
      envelope(DatasetActionMessage, { action: 'check', source: 0 }),
    ]);
    sent = (await posted(view)).length;
    await page.locator('[data-remove-for="data.sources[1]"]').click();
    await page.locator('[data-add-for="data.sources"]').click();
    assert.deepEqual(await postedAfter(view, sent, 2), [
      envelope(RemoveValueMessage, { path: ['data', 'sources', 1] }),
      envelope(AppendItemMessage, { listPath: ['data', 'sources'], item: { records: '' } }),
    ]);

    // Presets and Start SFT run.
    sent = (await posted(view)).length;
    await page.locator('#preset').click();
    await page.locator('#preset >> li.option', { hasText: 'MedGemma 4B QLoRA' }).click();
    await page.locator('#start-run').click();
    assert.deepEqual(await postedAfter(view, sent, 2), [
      envelope(ApplyPresetMessage, { presetId: 'medgemma-4b-qlora' }),
      envelope(StartRunMessage, {}),
    ]);
    assert.deepEqual(view.consoleErrors, []);
    await page.close();
  });

  it('keeps focus and typed text when a snapshot arrives, and rebuilds for new cards', async () => {
    const view = await openEditor(browser());
    const page = view.page;
    const base = page.locator('[data-path="model.base"] >> input');
    await base.fill('Qwen/Qwen2.5-VL-7B-Instruct');
    // The YAML changes elsewhere (the user types in the text editor beside the form).
    const next = structuredClone(CONFIG) as { train: Record<string, JsonValue>; data: { sources: JsonValue[] } };
    next.train.epochs = 5;
    await view.send(envelope(StateMessage, baseState({ version: 2, value: next as JsonValue })));
    await page.waitForFunction(() => document.body.dataset.version === '2');
    assert.equal(await page.locator('[data-path="train.epochs"] >> input').inputValue(), '5');
    assert.equal(await base.inputValue(), 'Qwen/Qwen2.5-VL-7B-Instruct', 'uncommitted text survives');
    assert.equal(await page.evaluate(() => (document.activeElement as HTMLElement | null)?.dataset.path), 'model.base', 'focus survives');

    // A third source changes the structure: the form rebuilds and puts focus back.
    next.data.sources.push({ records: 'data/angle/records.jsonl' });
    await view.send(envelope(StateMessage, baseState({ version: 3, value: next as JsonValue })));
    await page.waitForFunction(() => document.body.dataset.version === '3');
    assert.equal(await page.locator('[data-card]').count(), 3);
    await page.waitForFunction(() => (document.activeElement as HTMLElement | null)?.dataset.path === 'model.base');
    assert.equal(await base.inputValue(), 'Qwen/Qwen2.5-VL-7B-Instruct', 'uncommitted text survives a rebuild');
    // ...and is committed as usual.
    const sent = (await posted(view)).length;
    await base.press('Enter');
    assert.deepEqual(await postedAfter(view, sent), [envelope(SetValueMessage, { path: ['model', 'base'], value: 'Qwen/Qwen2.5-VL-7B-Instruct' })]);
    assert.deepEqual(view.consoleErrors, []);
    await page.close();
  });

  it('keeps closed sections and the scroll position when VS Code reloads the hidden page', async () => {
    const view = await openEditor(browser());
    const page = view.page;
    const isOpen = (section: string): Promise<boolean> =>
      page.locator(`[data-section="${section}"]`).evaluate((node) => (node as HTMLElement & { open: boolean }).open);
    assert.equal(await isOpen('model'), true);
    await page.locator('[data-section="model"] >> .collapsible-header').first().click();
    await page.waitForFunction(() => !(document.querySelector('[data-section="model"]') as HTMLElement & { open: boolean }).open);
    await page.evaluate(() => window.scrollTo(0, 300));
    const scrolled = await page.evaluate(() => window.scrollY);
    assert.ok(scrolled > 0, 'the form is taller than the page');
    await page.waitForTimeout(400); // the page saves its scroll position after a pause

    // VS Code discards a hidden webview and loads it again when it is shown.
    await page.reload();
    // The reloaded page starts a fresh record of what it posts: its `ready` comes first.
    await page.waitForFunction(() => (window as unknown as { __posted: unknown[] }).__posted.length > 0);
    await view.send(envelope(StateMessage, baseState()));
    await page.waitForFunction(() => document.body.dataset.version === '1');
    assert.equal(await isOpen('model'), false, 'the section the user closed stays closed');
    assert.equal(await isOpen('train'), true);
    await page.waitForFunction((y) => Math.abs(window.scrollY - y) <= 2, scrolled);
    assert.deepEqual(view.consoleErrors, []);
    await page.close();
  });

  it('edits unions through a kind picker, lists as text, and shows values outside an enum', async () => {
    const value = structuredClone(CONFIG) as { model: Record<string, JsonValue> };
    value.model.dtype = 'bf16';
    const view = await openEditor(browser(), baseState({ value: value as JsonValue }));
    const page = view.page;
    assert.equal(await page.locator('vscode-single-select[data-path="model.dtype"]').evaluate((el) => (el as HTMLElement & { value: string }).value), 'bf16');
    assert.equal(await page.locator('vscode-single-select[data-path="model.dtype"] vscode-option[value="bf16"]').textContent(), 'bf16 (not allowed)');

    // `window`: picking the mapping kind shows its fields before the YAML has them; the first
    // value typed writes the whole mapping.
    const window = page.locator('[data-kind-for="data.image.window"]');
    assert.equal(await window.evaluate((el) => (el as HTMLElement & { value: string }).value), 'default');
    assert.equal(await page.locator('[data-path="data.image.window.center"]').count(), 0);
    await window.click();
    await page.locator('[data-kind-for="data.image.window"] >> li.option', { hasText: '{center, width}' }).click();
    const center = page.locator('[data-path="data.image.window.center"] >> input');
    await center.waitFor();
    const sent = (await posted(view)).length;
    await center.fill('40');
    await center.press('Enter');
    assert.deepEqual(await postedAfter(view, sent), [envelope(SetValueMessage, { path: ['data', 'image', 'window'], value: { center: 40 } })]);

    // `save_total_limit`: null is a kind of its own beside the default and a number.
    const keep = page.locator('[data-kind-for="checkpoints.save_total_limit"]');
    assert.equal(await keep.evaluate((el) => (el as HTMLElement & { value: string }).value), 'integer');
    assert.equal(await page.locator('[data-path="checkpoints.save_total_limit"] >> input').inputValue(), '3');
    await keep.click();
    await page.locator('[data-kind-for="checkpoints.save_total_limit"] >> li.option', { hasText: 'null' }).click();
    assert.deepEqual(await postedAfter(view, sent + 1), [envelope(SetValueMessage, { path: ['checkpoints', 'save_total_limit'], value: null })]);

    // Sections absent from the YAML start folded; the user opens them.
    for (const section of ['launch', 'logging']) {
      await page.locator(`vscode-collapsible[data-section="${section}"] >> .collapsible-header`).first().click();
    }
    // Integer lists are comma-separated.
    const gpus = page.locator('[data-path="launch.gpus"] >> input');
    await gpus.fill('0, 1, 3');
    await gpus.press('Enter');
    assert.deepEqual(await postedAfter(view, sent + 2), [envelope(SetValueMessage, { path: ['launch', 'gpus'], value: [0, 1, 3] })]);
    // String lists are one per line in a text area, committed when it loses focus.
    const modules = page.locator('[data-path="lora.modules_to_save"] >> textarea');
    await modules.fill('lm_head\nembed_tokens');
    await page.locator('[data-path="lora.r"] >> input').focus();
    assert.deepEqual(await postedAfter(view, sent + 3), [
      envelope(SetValueMessage, { path: ['lora', 'modules_to_save'], value: ['lm_head', 'embed_tokens'] }),
    ]);
    // Choice lists are checkboxes.
    await page.locator('[data-path="logging.report_to"] vscode-checkbox[data-choice="tensorboard"]').click();
    assert.deepEqual(await postedAfter(view, sent + 4), [envelope(SetValueMessage, { path: ['logging', 'report_to'], value: ['tensorboard'] })]);
    assert.deepEqual(view.consoleErrors, []);
    await page.close();
  });

  it('is read-only while the YAML has syntax errors, and says why', async () => {
    const view = await openEditor(browser());
    const page = view.page;
    const { value: _value, ...rest } = baseState();
    await view.send(
      envelope(StateMessage, {
        ...rest,
        version: 2,
        readOnlyReason: 'The YAML cannot be read, so the form cannot edit it; fix it in the text editor.\nline 7: YAML syntax error: bad indentation',
        problems: [{ path: [], message: 'YAML syntax error: bad indentation', severity: 'error', code: 'yaml-syntax' }],
      }),
    );
    await page.waitForFunction(() => document.body.dataset.readOnly === 'true');
    assert.ok(await page.locator('.banner.readonly').isVisible());
    assert.match((await page.locator('.banner.readonly').textContent()) ?? '', /line 7: YAML syntax error/);
    // The last readable values stay visible, disabled.
    assert.equal(await page.locator('[data-path="train.learning_rate"] >> input').inputValue(), '0.0002');
    assert.ok(await page.locator('vscode-textfield[data-path="train.learning_rate"]').evaluate((el) => el.hasAttribute('disabled')));
    assert.ok(await page.locator('vscode-checkbox[data-path="train.use_cpu"]').evaluate((el) => el.hasAttribute('disabled')));
    assert.ok(await page.locator('[data-add-for="data.sources"]').evaluate((el) => el.hasAttribute('disabled')));
    assert.equal(await page.evaluate(() => window.__medvlmConfigEditor?.readOnly()), true);

    // A refused edit shows in a banner until the document changes.
    await view.send(envelope(NoticeMessage, { severity: 'error', message: 'Could not set train.seed: the YAML has a syntax error' }));
    await page.waitForSelector('.banner.notice:not([hidden])');
    await view.send(envelope(StateMessage, baseState({ version: 3 })));
    await page.waitForFunction(() => document.body.dataset.readOnly === 'false');
    assert.ok(await page.locator('.banner.notice').isHidden());
    assert.ok(await page.locator('.banner.readonly').isHidden());
    assert.ok(!(await page.locator('vscode-textfield[data-path="train.learning_rate"]').evaluate((el) => el.hasAttribute('disabled'))));
    assert.deepEqual(view.consoleErrors, []);
    await page.close();
  });

  it('disables Start SFT run in an untrusted workspace, and ignores hostile messages', async () => {
    const reason = 'Starting runs is disabled in an untrusted workspace.';
    const view = await openEditor(browser(), baseState({ startRun: { enabled: false, reason } }));
    const page = view.page;
    assert.ok(await page.locator('#start-run').evaluate((el) => el.hasAttribute('disabled')));
    assert.equal(await page.locator('.start-reason').textContent(), reason);

    const sent = (await posted(view)).length;
    await view.send({ type: StateMessage.type, payload: { ...baseState(), version: 'two' } });
    await view.send({ type: StateMessage.type, payload: { ...baseState(), problems: 'none' } });
    await view.send({ type: 'configEditor/eval', payload: { code: 'alert(1)' } });
    await view.send(envelope(StateMessage, baseState({ version: 9, fileName: '<img src=x onerror=alert(1)>.sft.yaml' })));
    await page.waitForFunction(() => document.body.dataset.version === '9');
    assert.equal(await page.evaluate(() => window.__medvlmConfigEditor?.rejectedMessages()), 3);
    assert.equal(await page.locator('img').count(), 0, 'text stays text');
    assert.equal(await page.locator('h1.title').textContent(), '<img src=x onerror=alert(1)>.sft.yaml');
    assert.equal((await posted(view)).length, sent, 'nothing is posted back');
    // The console shows the page's own warnings about ignored messages, and no errors.
    assert.deepEqual(view.consoleErrors, []);
    await page.close();
  });

  it('renders the README screenshot', async () => {
    const view = await openEditor(browser());
    const page = view.page;
    // Show the sections a reader cares about first, the rest folded.
    await page.evaluate(() => {
      for (const section of document.querySelectorAll<HTMLElement & { open: boolean }>('vscode-collapsible.top')) {
        section.open = ['model', 'train'].includes(section.dataset.section ?? '');
      }
    });
    await page.waitForTimeout(100);
    const png = path.join(ARTIFACTS, 'config-editor.png');
    await page.screenshot({ path: png, fullPage: false });
    await page.evaluate(() => {
      for (const section of document.querySelectorAll<HTMLElement & { open: boolean }>('vscode-collapsible')) section.open = true;
    });
    await page.screenshot({ path: path.join(ARTIFACTS, 'config-editor-full.png'), fullPage: true });
    // The README copy changes only on request (or when missing), so test runs leave git clean.
    if (process.env.MEDVLM_UPDATE_SCREENSHOTS === '1' || !existsSync(README_SHOT)) {
      mkdirSync(path.dirname(README_SHOT), { recursive: true });
      copyFileSync(png, README_SHOT);
    }
    assert.deepEqual(view.consoleErrors, []);
    await page.close();
  });
});
