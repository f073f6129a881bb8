// Renders the real NIfTI viewer bundle (dist/webview/niftiViewer.js) in headless Chromium
// under the production CSP and drives it as the host would: the header table, the middle
// axial slice asked for first, planes and the slider asking for the right slices, a stale
// slice ignored, the drawn grey levels, a read error shown, and a clean console.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { envelope } from '../../src/shared/protocol/message';
import type { VolumeInfo } from '../../src/shared/protocol/niftiViewer';
import { ShowSliceMessage, SliceMessage, VolumeErrorMessage, VolumeMessage } from '../../src/shared/protocol/niftiViewer';
import { buildNiftiViewerHtml } from '../../src/webviews/niftiViewerHtml';
import { createNonce } from '../../src/webviews/webviewHtml';
import type { WebviewPage } from './browserHarness';
import { CSP_SOURCE, openWebview, useBrowser, webviewScriptUri } from './browserHarness';

const info: VolumeInfo = { file: '/data/case.nii.gz', shape: [20, 30, 9], dtype: 'int16', version: 1, littleEndian: true, spacing: [0.7, 0.7, 2.5], slope: 1, inter: 0 };

/** A slice whose grey level is its index times 10 (pixels made in the page: typed arrays). */
async function sendSlice(view: WebviewPage, dim: number, index: number): Promise<void> {
  const [h, w] = dim === 0 ? [30, 9] : dim === 1 ? [20, 9] : [20, 30];
  await view.page.evaluate(
    ({ message, size, grey }) => {
      const m = message as { payload: { image: { pixels?: Uint8Array; values?: Float32Array } } };
      m.payload.image.pixels = new Uint8Array(size).fill(grey);
      m.payload.image.values = new Float32Array(size).fill(grey);
      window.postMessage(m, '*');
    },
    { message: envelope(SliceMessage, { dim, index, image: { width: w, height: h, min: 0, max: 255, spacing: [0.7, 0.7] } } as never), size: h * w, grey: index * 10 },
  );
}

async function lastPosted(view: WebviewPage): Promise<unknown> {
  const posted = await view.posted();
  return posted[posted.length - 1];
}

describe('NIfTI viewer in headless Chromium', () => {
  const browser = useBrowser(['niftiViewer']);

  it('shows the header, asks for the middle axial slice, then the planes and slices the user picks', async () => {
    const view = await openWebview(browser().context, buildNiftiViewerHtml({ cspSource: CSP_SOURCE, scriptUri: webviewScriptUri('niftiViewer'), nonce: createNonce(), title: 'case.nii.gz' }));
    await view.page.waitForFunction(() => (window as unknown as { __posted: unknown[] }).__posted.length > 0);
    await view.send(envelope(VolumeMessage, info));
    assert.deepEqual(await lastPosted(view), envelope(ShowSliceMessage, { dim: 2, index: 4 }));
    const header = await view.page.locator('table.header').textContent();
    assert.match(header ?? '', /Dimensions20 x 30 x 9/);
    assert.match(header ?? '', /Voxel size0\.7 x 0\.7 x 2\.5/);
    assert.match(header ?? '', /Voxel typeint16/);

    await sendSlice(view, 2, 4);
    await view.page.waitForFunction(() => document.body.dataset.shown === '2:4');
    const grey = () =>
      view.page.evaluate(() => {
        const canvas = document.querySelector('.stage canvas') as HTMLCanvasElement;
        return (canvas.getContext('2d') as CanvasRenderingContext2D).getImageData(2, 2, 1, 1).data[0];
      });
    assert.equal(await grey(), 40);

    await view.page.locator('select[aria-label="Plane"]').selectOption('0');
    assert.deepEqual(await lastPosted(view), envelope(ShowSliceMessage, { dim: 0, index: 9 }));
    await view.page.locator('input[aria-label="Slice"]').fill('3');
    assert.deepEqual(await lastPosted(view), envelope(ShowSliceMessage, { dim: 0, index: 3 }));
    // The slice asked for before is dropped when it arrives late.
    await sendSlice(view, 0, 9);
    await sendSlice(view, 0, 3);
    await view.page.waitForFunction(() => document.body.dataset.shown === '0:3');
    assert.equal(await grey(), 30);

    await view.page.locator('.stage canvas').hover();
    await view.page.mouse.wheel(0, 100);
    assert.deepEqual(await lastPosted(view), envelope(ShowSliceMessage, { dim: 0, index: 4 }));

    await view.send(envelope(VolumeErrorMessage, { message: '/data/case.nii.gz: the gzip data is cut short' }));
    assert.equal(await view.page.locator('p.note.error-text').textContent(), '/data/case.nii.gz: the gzip data is cut short');
    assert.deepEqual(view.consoleErrors, []);
    await view.page.close();
  });
});
