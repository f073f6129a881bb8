// The sample preview as a user meets it in a real VS Code (code-server + Chromium) on the demo
// dataset: "MedVLM: Preview dataset samples" on the open records file shows the first sample
// with its box drawn over the slice, the trainer's exact prompt and target beside it, and the
// arrow keys step through the records to a tumour's axes. From the run config's data source
// card, the chat-templated turn comes from the config's model. A volume opened from the
// workspace opens in the NIfTI viewer.

import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { after, afterEach, before, describe, test } from 'node:test';
import type { Frame } from 'playwright-core';
import { trainerEnv } from '../../src/core/trainerCommand';
import { OVERLAY_COLOURS } from '../../webview/samplePreview/draw';
import type { SamplePreviewTestHooks } from '../../webview/samplePreview/testHooks';
import { repoRoot } from '../unit/testUtil';
import { artifactsDir, resetArtifacts, saveArtifactsAfterEach } from './harness/artifacts';
import { DEMO_CONFIG, makeDemoWorkspace } from './harness/demoWorkspace';
import { countColour, decodePng, parseCssColour } from './harness/png';
import type { Session } from './harness/session';
import { EXTENSION_ID, startSession, trainerPython } from './harness/session';
import { expectWebviewRendered, frameOffset, openFile, runCommand, webviewConsole } from './harness/workbench';

const SUITE = 'sample-preview';
const RECORDS = 'demo-data/records.jsonl';

/** Pixels of `colour` in a clip of the slice canvas given in stored-pixel units. */
async function overlayPixels(s: Session, frame: Frame, colour: string, name: string, clip: { x: number; y: number; width: number; height: number }): Promise<number> {
  const rect = await frame.evaluate(() => (window.__medvlmSamplePreview as SamplePreviewTestHooks | undefined)?.canvasRect());
  assert.ok(rect !== undefined, 'the slice is drawn');
  const offset = await frameOffset(frame);
  const png = await s.page.screenshot({
    clip: { x: offset.x + rect.left + clip.x * rect.scale, y: offset.y + rect.top + clip.y * rect.scale, width: clip.width * rect.scale, height: clip.height * rect.scale },
    path: path.join(artifactsDir(SUITE), `${name}.png`),
  });
  return countColour(decodePng(png), parseCssColour(colour));
}

describe('sample preview in VS Code (code-server + Chromium)', () => {
  let session: Session | undefined;
  const need = (): Session => {
    assert.ok(session, 'the session did not start');
    return session;
  };

  before(async () => {
    resetArtifacts(SUITE);
    session = await startSession({ name: 'sample-preview', prepareWorkspace: makeDemoWorkspace });
  }, { timeout: 20 * 60_000 });
  after(async () => {
    await session?.close();
  });
  afterEach(saveArtifactsAfterEach(SUITE, () => session));

  test('the demo records: a box over the first slice, the trainer’s text, then a tumour’s axes by arrow key', { timeout: 180_000 }, async () => {
    const s = need();
    await openFile(s.page, 'records.jsonl');
    await runCommand(s.page, 'MedVLM: Preview dataset samples');
    const frame = await expectWebviewRendered(s, { name: 'sample preview', frame: 'ul.records', rendered: 'body[data-drawn="0"]', timeoutMs: 60_000 });
    const records = path.join(s.workspace, RECORDS);
    const first = JSON.parse(execFileSync('head', ['-n', '1', records], { encoding: 'utf8' })) as { bounding_boxes: { min_coords: number[][]; max_coords: number[][] } };
    const [r0, c0] = first.bounding_boxes.min_coords[0] as [number, number];
    const [r1] = first.bounding_boxes.max_coords[0] as [number, number];
    // The box's left edge on column c0, between its rows; nothing of it in the middle of the box.
    const edge = await overlayPixels(s, frame, OVERLAY_COLOURS.box, 'box-edge', { x: c0 - 0.5, y: r0 + 2, width: 1, height: r1 - r0 - 4 });
    assert.ok(edge >= 10, `the box edge on column ${c0}: ${edge} px`);

    // The trainer's own text for this record, as `format` prints it.
    const format = execFileSync(
      trainerPython(),
      ['-m', 'medvlm_sft', 'format', '--records', records, '--tasks', path.join(s.workspace, 'demo-data', 'tasks.json'), '--model-family', 'qwen2_5_vl', '--limit', '1'],
      { env: trainerEnv(repoRoot), encoding: 'utf8' },
    );
    const messages = (JSON.parse(format) as { messages: Array<{ content: Array<{ text?: string }> }> }).messages;
    await frame.waitForFunction(() => document.body.dataset.texts === 'qwen2_5_vl', undefined, { timeout: 60_000 });
    assert.equal(await frame.locator('pre.prompt').textContent(), messages[0]?.content[1]?.text);
    assert.equal(await frame.locator('pre.target').textContent(), messages[1]?.content[0]?.text);
    // A bare records file names no model: the chat-templated turn says where to get it.
    await frame.waitForFunction(() => document.body.dataset.chat === '0:unavailable', undefined, { timeout: 30_000 });
    assert.match((await frame.locator('pre.chat + p.note').textContent()) ?? '', /open this preview from a run config/);

    // Step to the first tumour/lesion record with the arrow key.
    const items = await frame.locator('ul.records li .kind').allTextContents();
    const tumour = items.indexOf('tumour/lesion');
    assert.ok(tumour > 0, `a tumour/lesion record in ${JSON.stringify(items)}`);
    await frame.locator('ul.records').focus();
    for (let i = 0; i < tumour; i++) await s.page.keyboard.press('ArrowDown');
    await frame.waitForFunction((n) => document.body.dataset.drawn === String(n), tumour, { timeout: 30_000 });
    const axes = await overlayPixels(s, frame, OVERLAY_COLOURS.major, 'tumour', { x: 0, y: 0, width: 64, height: 64 });
    const minor = await overlayPixels(s, frame, OVERLAY_COLOURS.minor, 'tumour-minor', { x: 0, y: 0, width: 64, height: 64 });
    assert.ok(axes >= 20 && minor >= 20, `both axes drawn: major ${axes} px, minor ${minor} px`);
    assert.match((await frame.locator('table.measures').textContent()) ?? '', /major axis.*mm \(record: [\d.]+\)/);

    const errors = webviewConsole(s.consoleEntries, frame, EXTENSION_ID).filter((e) => e.type === 'error' || e.type === 'pageerror');
    assert.deepEqual(errors.map((e) => e.text), [], 'the preview logged no errors');
  });

  test('from the run config’s data source: its model’s chat-templated turn, and the model-input view', { timeout: 240_000 }, async () => {
    const s = need();
    await runCommand(s.page, 'View: Close All Editors');
    await openFile(s.page, DEMO_CONFIG);
    await runCommand(s.page, 'MedVLM: Open config editor');
    const editor = await expectWebviewRendered(s, { name: 'config editor', frame: '[data-path="lora.r"]', rendered: 'body[data-version]' });
    await editor.locator('[data-dataset-action="preview:0"]').click();
    const frame = await expectWebviewRendered(s, { name: 'sample preview from the config', frame: 'ul.records', rendered: 'body[data-drawn="0"]', timeoutMs: 60_000 });
    // The tiny model's processor loads in the trainer's `chat` process (seconds on these machines).
    await frame.waitForFunction(() => (document.body.dataset.chat ?? '').startsWith('0:'), undefined, { timeout: 180_000 });
    assert.equal(await frame.evaluate(() => document.body.dataset.chat), '0:text', (await frame.locator('pre.chat + p.note').textContent()) ?? '');
    const chat = (await frame.locator('pre.chat').textContent()) ?? '';
    const target = (await frame.locator('pre.target').textContent()) ?? '';
    const prompt = (await frame.locator('pre.prompt').textContent()) ?? '';
    // The tiny Qwen2.5-VL template: the image's vision tokens, the prompt, then the marked answer.
    assert.ok(chat.includes(`<|vision_start|><|image_pad|><|vision_end|>${prompt}<|im_end|>`), chat);
    assert.equal(await frame.locator('pre.chat span.answer').textContent(), `${target}<|im_end|>\n`);
    // smart_resize(64, 64): 64 / 28 rounds to 2, so 56 x 56, 2 x 2 image tokens.
    assert.match((await frame.locator('p.note[data-model-size]').textContent()) ?? '', /64 x 64 px stored · 56 x 56 px as Qwen2\.5-VL input, 4 image tokens/);
    await frame.locator('label.control', { hasText: 'Model input' }).locator('input').check();
    await frame.waitForFunction(() => document.body.dataset.view === 'model', undefined, { timeout: 10_000 });
    await s.page.screenshot({ path: path.join(artifactsDir(SUITE), 'model-input.png') });
    const errors = webviewConsole(s.consoleEntries, frame, EXTENSION_ID).filter((e) => e.type === 'error' || e.type === 'pageerror');
    assert.deepEqual(errors.map((e) => e.text), [], 'the preview logged no errors');
  });

  test('a .nii.gz opens in the NIfTI viewer: its header and the middle axial slice', { timeout: 120_000 }, async () => {
    const s = need();
    const first = JSON.parse(execFileSync('head', ['-n', '1', path.join(s.workspace, RECORDS)], { encoding: 'utf8' })) as { image_file: string; image_size_3d: number[] };
    await openFile(s.page, path.basename(first.image_file));
    const [x, y, z] = first.image_size_3d as [number, number, number];
    const frame = await expectWebviewRendered(s, { name: 'NIfTI viewer', frame: 'table.header', rendered: `body[data-shown="2:${Math.floor((z - 1) / 2)}"]`, timeoutMs: 60_000 });
    assert.match((await frame.locator('table.header').textContent()) ?? '', new RegExp(`Dimensions${x} x ${y} x ${z}`));
    const errors = webviewConsole(s.consoleEntries, frame, EXTENSION_ID).filter((e) => e.type === 'error' || e.type === 'pageerror');
    assert.deepEqual(errors.map((e) => e.text), [], 'the viewer logged no errors');
  });
});
