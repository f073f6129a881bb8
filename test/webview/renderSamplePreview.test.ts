// Renders the real sample preview bundle (dist/webview/samplePreview.js) in headless Chromium
// under the production CSP and drives it as the host would: the record list, one sample's
// slice with its overlays at the pixels the format puts them, the layer toggles, keyboard
// stepping, a stale sample ignored, the trainer's text, and a clean console.

import assert from 'node:assert/strict';
import path from 'node:path';
import { describe, it } from 'node:test';
import { envelope } from '../../src/shared/protocol/message';
import type { InitPayload, SamplePayload } from '../../src/shared/protocol/samplePreview';
import { ChatMessage, InitMessage, SampleMessage, SelectMessage } from '../../src/shared/protocol/samplePreview';
import { buildSamplePreviewHtml } from '../../src/webviews/samplePreviewHtml';
import { createNonce } from '../../src/webviews/webviewHtml';
import type { SamplePreviewTestHooks } from '../../webview/samplePreview/testHooks';
import { OVERLAY_COLOURS } from '../../webview/samplePreview/draw';
import type { WebviewPage } from './browserHarness';
import { ARTIFACTS, countColour, CSP_SOURCE, useBrowser, openWebview, webviewScriptUri } from './browserHarness';


const init: InitPayload = {
  title: 'Samples: records.jsonl',
  source: '/data/records.jsonl · tasks: /data/tasks.json',
  family: 'qwen2_5_vl',
  selected: 0,
  records: [
    { index: 0, line: 1, kind: 'detection', dataset: 'KiTS', detail: 'kidney tumor' },
    { index: 1, line: 2, kind: 'tumor_lesion', dataset: 'KiTS', detail: 'kidney tumor' },
    { index: 2, line: 4, kind: 'generic', detail: 'pic.png' },
    { index: 3, line: 5, error: 'line 5 is not valid JSON' },
  ],
};

/** A 40 x 30 dark slice (grey 40) with a box, both axes and a landmark. */
function sample(index: number): Omit<SamplePayload, 'image'> & { image: { width: number; height: number; min: number; max: number; spacing: [number, number]; normalization?: string } } {
  return {
    index,
    caption: `line ${index + 1} · Images/case.nii.gz · slice 3 along dimension 2`,
    image: { width: 40, height: 30, min: -1000, max: 400, spacing: [0.8, 0.8] },
    slice: { dim: 2, index: 3, count: 8, record: 3 },
    overlays: {
      boxes: [{ x0: 5, y0: 6, x1: 14, y1: 20, label: 'kidney tumor' }],
      points: [{ x: 30, y: 25, label: 'P1' }],
      lines: [
        { x0: 20, y0: 4, x1: 36, y1: 4, label: 'major' },
        { x0: 28, y0: 8, x1: 28, y1: 18, label: 'minor' },
      ],
    },
    measurements: [{ label: 'kidney tumor height', measured: 12, unit: 'mm', recorded: 12 }],
    problems: [],
  };
}

async function sendSample(view: WebviewPage, payload: ReturnType<typeof sample>): Promise<void> {
  // Typed arrays do not survive page.evaluate's argument encoding: the pixels are made in the page.
  await view.page.evaluate(
    ({ message, size }) => {
      // Grey 40 as trained; raw value 40 (HU) except a bright first row at 400.
      const m = message as { payload: { image: { pixels?: Uint8Array; values?: Float32Array; width: number } } };
      m.payload.image.pixels = new Uint8Array(size).fill(40);
      m.payload.image.values = new Float32Array(size).fill(40).fill(400, 0, m.payload.image.width);
      window.postMessage(m, '*');
    },
    { message: envelope(SampleMessage, payload as unknown as SamplePayload), size: payload.image.width * payload.image.height },
  );
}

type Hooks = SamplePreviewTestHooks;

describe('sample preview in headless Chromium', () => {
  const browser = useBrowser(['samplePreview']);

  it('draws the slice with its overlays where the format puts them, steps with the keyboard, and shows the trainer’s text', async () => {
    const view = await openWebview(browser().context, buildSamplePreviewHtml({ cspSource: CSP_SOURCE, scriptUri: webviewScriptUri('samplePreview'), nonce: createNonce(), title: 'Samples' }));
    await view.page.waitForFunction(() => (window as unknown as { __posted: unknown[] }).__posted.length > 0);
    assert.deepEqual(await view.posted(), [{ type: 'preview/ready', payload: {} }]);
    await view.send(envelope(InitMessage, init));
    assert.equal(await view.page.locator('.records li').count(), 4);
    await view.page.locator('input[aria-label="Filter records"]').fill('kidney TUMOR');
    assert.equal(await view.page.locator('.records li').count(), 2, 'the filter matches dataset and label words');
    await view.page.locator('input[aria-label="Filter records"]').fill('');
    assert.equal(await view.page.locator('.records li').count(), 4);
    assert.match((await view.page.locator('.records li.broken').textContent()) ?? '', /line 5 is not valid JSON/);

    await sendSample(view, sample(0));
    await view.page.waitForFunction(() => document.body.dataset.drawn === '0');
    const rect = await view.page.evaluate(() => (window.__medvlmSamplePreview as Hooks).canvasRect());
    assert.ok(rect !== undefined && rect.scale >= 4, `the slice is scaled up to fit: ${JSON.stringify(rect)}`);
    const s = rect.scale;
    const at = (x: number, y: number, w: number, h: number) => view.page.screenshot({ clip: { x: rect.left + x * s, y: rect.top + y * s, width: w * s, height: h * s } });
    const boxColour = OVERLAY_COLOURS.box;
    // The box's left edge runs along x = 5 (the left of pixel column 5), rows 6 to 21.
    assert.ok((await countColour(browser().context, await at(4.5, 10, 1, 6), boxColour)) > 0, 'the box edge is on column 5');
    assert.equal(await countColour(browser().context, await at(8, 10, 3, 6), boxColour), 0, 'nothing inside the box');
    // The major axis runs between pixel centres of row 4; the minor one down column 28.
    assert.ok((await countColour(browser().context, await at(22, 4, 10, 1), OVERLAY_COLOURS.major)) > 0);
    assert.ok((await countColour(browser().context, await at(28, 10, 1, 6), OVERLAY_COLOURS.minor)) > 0);
    assert.ok((await countColour(browser().context, await at(29.5, 24.5, 1, 1), OVERLAY_COLOURS.point)) > 0, 'the landmark at (30, 25)');
    // A 5 mm scale bar (40 px x 0.8 mm: a quarter of 32 mm rounds down to 5) at the bottom left.
    const bar = await view.page.screenshot({ clip: { x: rect.left + 10, y: rect.top + rect.height - 12, width: (5 / 0.8) * s, height: 3 } });
    assert.ok((await countColour(browser().context, bar, '#ffffff')) >= (5 / 0.8) * s, 'the scale bar is drawn');
    await view.page.screenshot({ path: path.join(ARTIFACTS, 'sample-preview.png') });

    // Zoom: the canvas grows by the zoom factor (the stage scrolls to pan); fit goes back.
    await view.page.locator('button[aria-label="Zoom in"]').click();
    await view.page.locator('button[aria-label="Zoom in"]').click();
    const zoomed = await view.page.evaluate(() => (window.__medvlmSamplePreview as Hooks).canvasRect());
    assert.ok(zoomed !== undefined && Math.abs(zoomed.width - rect.width * 2) <= 1, `zoomed 2x: ${JSON.stringify(zoomed)}`);
    await view.page.locator('.slice-control button.link', { hasText: 'fit' }).click();
    assert.equal((await view.page.evaluate(() => (window.__medvlmSamplePreview as Hooks).canvasRect()))?.width, rect.width);

    await view.page.locator('input[data-layer="boxes"]').uncheck();
    await view.page.waitForFunction(() => !(document.querySelector('input[data-layer="boxes"]') as HTMLInputElement).checked);
    assert.equal(await countColour(browser().context, await at(4.5, 10, 1, 6), boxColour), 0, 'the box layer is off');
    assert.ok((await countColour(browser().context, await at(22, 4, 10, 1), OVERLAY_COLOURS.major)) > 0, 'the other layers stay');

    // The same sample with its text and the family's resize, as the host sends it.
    const withText = { ...sample(0), text: { prompt: 'Task:\nGiven the input medical image…', target: '0.125, 0.578, 0.312, 0.875' }, resize: { family: 'qwen2_5_vl' as const } };
    await sendSample(view, { ...withText, image: { ...withText.image, normalization: 'CT soft tissue' } });
    await view.page.waitForFunction(() => document.body.dataset.texts === 'qwen2_5_vl');
    assert.equal(await view.page.locator('select[aria-label="Display window"] option[value="trained"]').textContent(), 'As trained (CT soft tissue)', 'the run config’s window names the trained grey levels');
    await sendSample(view, withText);
    await view.page.waitForFunction(() => document.querySelector('select[aria-label="Display window"] option[value="trained"]')?.textContent === 'As trained (min-max)');
    assert.equal(await view.page.locator('pre.prompt').textContent(), 'Task:\nGiven the input medical image…');
    assert.equal(await view.page.locator('pre.target').textContent(), '0.125, 0.578, 0.312, 0.875');
    // smart_resize(30, 40): 28 x 28 is under min_pixels 3136, so scaled up to 56 x 84 = 2 x 3 tokens.
    assert.match((await view.page.locator('p.note[data-model-size]').textContent()) ?? '', /30 x 40 px stored · 56 x 84 px as Qwen2\.5-VL input, 6 image tokens/);
    assert.match((await view.page.locator('.chat + p.note').textContent()) ?? '', /Asking the model’s processor/);
    const turn = '<|im_start|>user\n<|vision_start|><|image_pad|><|vision_end|>Task:…<|im_end|>\n<|im_start|>assistant\n';
    await view.send(envelope(ChatMessage, { index: 0, family: 'qwen2_5_vl', text: `${turn}0.125, 0.578, 0.312, 0.875<|im_end|>\n`, answerStart: turn.length }));
    await view.page.waitForFunction(() => document.body.dataset.chat === '0:text');
    assert.equal(await view.page.locator('pre.chat').textContent(), `${turn}0.125, 0.578, 0.312, 0.875<|im_end|>\n`);
    assert.equal(await view.page.locator('pre.chat span.answer').textContent(), '0.125, 0.578, 0.312, 0.875<|im_end|>\n', 'the trained answer is marked');
    await view.send(envelope(ChatMessage, { index: 1, family: 'qwen2_5_vl', unavailable: 'another record' }));
    await view.send(envelope(ChatMessage, { index: 0, family: 'qwen2_5_vl', text: 'x', unavailable: 'both' }));
    assert.equal(await view.page.evaluate(() => document.body.dataset.chat), '0:text', 'a turn for another record, or a malformed one, changes nothing');
    assert.equal(await view.page.evaluate(() => (window.__medvlmSamplePreview as Hooks).rejectedMessages()), 1, 'the malformed turn (text and unavailable) is rejected');
    // The target text drawn back: x 0.125-0.312 of 40 px, y from (1 - 0.875) x 30 = 3.75 down:
    // its top edge runs above the record's box (which starts at row 6).
    await view.page.locator('input[data-layer="boxes"]').check();
    await view.page.waitForFunction(() => (document.querySelector('input[data-layer="boxes"]') as HTMLInputElement).checked);
    assert.ok((await countColour(browser().context, await at(6, 3.25, 5, 1), OVERLAY_COLOURS.target)) > 0, 'the target box drawn back');
    assert.equal(await countColour(browser().context, await at(6, 3.25, 5, 1), OVERLAY_COLOURS.box), 0);

    // The model-input view: the slice at the processor's 56 x 84, overlays stretched with it.
    // Drawn as wide as before, so rows shrink by (56 / 30) / (84 / 40): the box's top edge
    // (stored row 6) moves up to 6 x 0.889 = 5.33 stored rows.
    await view.page.locator('label.control', { hasText: 'Model input' }).locator('input').check();
    await view.page.waitForFunction(() => document.body.dataset.view === 'model');
    const squeezed = 56 / 30 / (84 / 40);
    const model = await view.page.evaluate(() => (window.__medvlmSamplePreview as Hooks).canvasRect());
    assert.ok(model !== undefined && Math.abs(model.width - rect.width) <= 1 && Math.abs(model.height - rect.height * squeezed) <= 1, `stretched: ${JSON.stringify(model)}`);
    const topEdge = 6 * squeezed;
    assert.ok((await countColour(browser().context, await at(8, topEdge - 0.3, 4, 0.6), boxColour)) > 0, 'the box top edge follows the resize');
    assert.equal(await countColour(browser().context, await at(8, 6 - 0.3 + 0.5, 4, 0.2), boxColour), 0, 'not where the stored view has it');
    assert.match((await view.page.locator('p.note[data-model-size]').textContent()) ?? '', /showing the model input/);
    await view.page.locator('label.control', { hasText: 'Model input' }).locator('input').uncheck();
    await view.page.waitForFunction(() => document.body.dataset.view === 'stored');

    // Window presets draw the raw values: value 40 at CT soft tissue (W 400, L 40) is mid grey,
    // where the trained grey level is 40; the first row (400 HU) is white.
    const dpr = await view.page.evaluate(() => window.devicePixelRatio);
    /** The red channel of the canvas at the centre of stored pixel (x, y). */
    const grey = (x: number, y: number) =>
      view.page.evaluate(
        ([px, py]) => {
          const canvas = document.querySelector('.stage canvas') as HTMLCanvasElement;
          return (canvas.getContext('2d') as CanvasRenderingContext2D).getImageData(px as number, py as number, 1, 1).data[0] ?? -1;
        },
        [Math.floor((x + 0.5) * s * dpr), Math.floor((y + 0.5) * s * dpr)],
      );
    assert.equal(await grey(2, 12), 40, 'as trained');
    await view.page.locator('select[aria-label="Display window"]').selectOption('soft');
    assert.ok(Math.abs((await grey(2, 12)) - 128) <= 1, `value 40 at level 40 is mid grey, got ${await grey(2, 12)}`);
    assert.equal(await grey(2, 0), 255);
    // MR: the slice's 1st to 99th percentile (40 to 400 here) spans black to white.
    await view.page.locator('select[aria-label="Display window"]').selectOption('mr');
    assert.deepEqual([await grey(2, 12), await grey(2, 0)], [0, 255]);
    // Stepping through the volume asks for the next slice of the same record.
    let sent = (await view.posted()).length;
    await view.page.locator('button[aria-label="Next slice"]').click();
    await view.page.waitForFunction((n) => (window as unknown as { __posted: unknown[] }).__posted.length > n, sent);
    assert.deepEqual((await view.posted()).slice(sent), [envelope(SelectMessage, { index: 0, slice: 4 })]);
    await sendSample(view, { ...sample(0), slice: { dim: 2, index: 4, count: 8, record: 3 }, overlays: undefined as never, measurements: [] });
    await view.page.waitForFunction(() => document.querySelector('.slice-control')?.getAttribute('data-slice') === '4');
    assert.equal(await countColour(browser().context, await at(22, 4, 10, 1), OVERLAY_COLOURS.major), 0, 'no overlays off the record’s slice');
    sent = (await view.posted()).length;
    await view.page.locator('.slice-control button.link', { hasText: 'back to the record' }).click();
    await view.page.waitForFunction((n) => (window as unknown as { __posted: unknown[] }).__posted.length > n, sent);
    assert.deepEqual((await view.posted()).slice(sent), [envelope(SelectMessage, { index: 0 })]);
    await view.page.locator('select[aria-label="Display window"]').selectOption('trained');

    await view.page.locator('.records').focus();
    await view.page.keyboard.press('ArrowDown');
    await view.page.waitForFunction(() => document.body.dataset.selected === '1');
    const posted = await view.posted();
    assert.deepEqual(posted[posted.length - 1], envelope(SelectMessage, { index: 1 }));
    // A slow answer for the record left behind is dropped.
    await sendSample(view, { ...sample(0), caption: 'stale' });
    await sendSample(view, { ...sample(1), caption: 'line 2 · the tumour' });
    await view.page.waitForFunction(() => document.body.dataset.drawn === '1');
    assert.equal(await view.page.locator('.caption').textContent(), 'line 2 · the tumour');
    assert.equal(await view.page.locator('pre.prompt').textContent(), '', 'no text for a record the trainer gave none');

    // A generic record's PNG: decoded by the page, overlays over it, no display windows.
    await view.page.keyboard.press('ArrowDown');
    await view.page.waitForFunction(() => document.body.dataset.selected === '2');
    await view.page.evaluate(async (message) => {
      const canvas = new OffscreenCanvas(20, 10);
      const g = canvas.getContext('2d') as OffscreenCanvasRenderingContext2D;
      g.fillStyle = '#c81e1e';
      g.fillRect(0, 0, 20, 10);
      const bytes = new Uint8Array(await (await canvas.convertToBlob({ type: 'image/png' })).arrayBuffer());
      const m = message as unknown as { payload: Record<string, unknown> };
      m.payload.picture = { bytes, mime: 'image/png' };
      window.postMessage(m, '*');
    }, envelope(SampleMessage, { index: 2, caption: 'line 4 · pic.png', overlays: { boxes: [], points: [], lines: [{ x0: 1, y0: 5, x1: 18, y1: 5, label: '' }] }, measurements: [], problems: [] }));
    await view.page.waitForFunction(() => document.body.dataset.drawn === '2');
    const picture = await view.page.evaluate(() => (window.__medvlmSamplePreview as Hooks).canvasRect());
    assert.equal(picture, undefined, 'no NIfTI slice');
    const png = await view.page.locator('.stage canvas').screenshot();
    assert.ok((await countColour(browser().context, png, '#c81e1e')) > 100, 'the picture is drawn');
    assert.ok((await countColour(browser().context, png, OVERLAY_COLOURS.line)) > 10, 'its line overlay over it');
    assert.ok(await view.page.locator('select[aria-label="Display window"]').isHidden());

    assert.equal(await view.page.evaluate(() => (window.__medvlmSamplePreview as Hooks).rejectedMessages()), 1, 'only the malformed chat turn');
    assert.deepEqual(view.consoleErrors, []);
    await view.page.close();
  });

  it('filters by the run config’s split once the host knows it', async () => {
    const view = await openWebview(browser().context, buildSamplePreviewHtml({ cspSource: CSP_SOURCE, scriptUri: webviewScriptUri('samplePreview'), nonce: createNonce(), title: 'Samples' }));
    await view.page.waitForFunction(() => (window as unknown as { __posted: unknown[] }).__posted.length > 0);
    await view.send(envelope(InitMessage, init));
    assert.ok(await view.page.locator('select[aria-label="Split"]').isHidden(), 'no split filter before the splits are known');
    const splits = ['train', 'val', 'unused'];
    await view.send(envelope(InitMessage, { ...init, records: init.records.map((r, i) => (i < 3 ? { ...r, split: splits[i] as string } : { ...r, split: 'error' })) }));
    await view.page.locator('select[aria-label="Split"]').selectOption('val');
    assert.deepEqual(await view.page.locator('.records li .index').allTextContents(), ['1']);
    await view.page.locator('select[aria-label="Split"]').selectOption('');
    assert.equal(await view.page.locator('.records li').count(), 4);
    assert.deepEqual(view.consoleErrors, []);
    await view.page.close();
  });
});
