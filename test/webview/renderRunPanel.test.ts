// Renders the real run panel bundle (dist/webview/runPanel.js, from `npm run build`) in
// headless Chromium under the production CSP, feeds it the golden events as the host would,
// and checks what a user would see: the handshake, the chart's points, coloured pixels in the
// plot area, the error, and a clean console.
import assert from 'node:assert/strict';
import { copyFileSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { TrainerEvent } from '../../src/shared/events';
import { toTrainerEvent } from '../../src/shared/events';
import { envelope } from '../../src/shared/protocol/message';
import {
  EventsMessage,
  InitMessage,
  LogTailMessage,
  OpenLogMessage,
  ReadyMessage,
  SummaryMessage,
} from '../../src/shared/protocol/runPanel';
import type { RunSummary } from '../../src/shared/runStatus';
import { buildRunPanelHtml } from '../../src/webviews/runPanelHtml';
import { createNonce } from '../../src/webviews/webviewHtml';
import type { RunPanelTestHooks } from '../../webview/runPanel/testHooks';
import { RunSeries } from '../../webview/runPanel/series';
import type { Harness, WebviewPage } from './browserHarness';
import { repoRoot } from '../unit/testUtil';
import { countColour, CSP_SOURCE, DARK_THEME, launchChromium, openWebview, webviewScriptUri } from './browserHarness';
import { demoEvents, DEMO_LOG } from './demoRun';

const BUNDLE = path.join(repoRoot, 'dist/webview/runPanel.js');
const ARTIFACTS = path.join(repoRoot, 'test-artifacts');
const README_SHOT = path.join(repoRoot, 'media/screenshots/run-panel.png');

function goldenEvents(): TrainerEvent[] {
  const lines = readFileSync(path.join(repoRoot, 'test/fixtures/events/golden.jsonl'), 'utf8').split('\n');
  return lines.flatMap((line) => {
    try {
      const event = toTrainerEvent(JSON.parse(line));
      return event === undefined ? [] : [event];
    } catch {
      return []; // the torn last line
    }
  });
}

function panelHtml(): string {
  return buildRunPanelHtml({ cspSource: CSP_SOURCE, scriptUri: webviewScriptUri('runPanel'), nonce: createNonce(), title: 'Run' });
}

// page.evaluate sends the callback's source to the page, so callbacks reach the hooks
// through `window` (typed by the global the panel declares), not through Node helpers.
type Hooks = RunPanelTestHooks;

async function waitForPoints(view: WebviewPage, trainLoss: number): Promise<void> {
  await view.page.waitForFunction((n) => document.body.dataset.trainLossPoints === String(n), trainLoss);
}

describe('run panel in headless Chromium', () => {
  let harness: Harness;

  before(async () => {
    assert.ok(existsSync(BUNDLE), `${BUNDLE} is missing: run npm run build first`);
    harness = await launchChromium();
    mkdirSync(ARTIFACTS, { recursive: true });
  });

  after(async () => {
    await harness?.close();
  });

  it('renders the golden run: handshake, chart points, coloured plot, error, clean console', async (t) => {
    const view = await openWebview(harness.context, panelHtml());
    await view.page.waitForFunction(() => (window as unknown as { __posted: unknown[] }).__posted.length > 0);
    assert.deepEqual((await view.posted())[0], envelope(ReadyMessage, {}), 'the webview posts ready first');

    const events = goldenEvents();
    const summary: RunSummary = { runId: '20261127-120000-demo', status: 'failed', step: 2, maxSteps: 4, error: 'CUDA out of memory' };
    await view.send(envelope(InitMessage, { runId: summary.runId, title: 'demo (tiny-model)', summary }));
    await view.send(envelope(EventsMessage, { events, reset: true }));
    await view.send(envelope(LogTailMessage, { text: 'loading model...\nstep 1 loss 2.75\nTraceback (most recent call last):\n' }));
    await waitForPoints(view, 2);

    const expected = new RunSeries();
    expected.apply(events, true);
    const chart = await view.page.evaluate(() => (window.__medvlmRunPanel as Hooks).chartData());
    assert.deepEqual(chart, expected.snapshot());
    assert.deepEqual(chart.trainLoss, [
      { x: 1, y: 2.75 },
      { x: 2, y: null },
    ]);
    assert.deepEqual(chart.evalLoss, [{ x: 2, y: 2.5 }]);

    // A replay after a reload must not duplicate points; junk must be ignored, not crash.
    await view.send(envelope(EventsMessage, { events, reset: true }));
    await view.send({ type: 'runPanel/events', payload: { events: 'nope', reset: true } });
    await view.send({ type: 'runPanel/bogus', payload: {} });
    await view.send(envelope(SummaryMessage, summary));
    await view.page.waitForFunction(() => (window.__medvlmRunPanel as Hooks).rejectedMessages() === 2);
    assert.deepEqual(await view.page.evaluate(() => (window.__medvlmRunPanel as Hooks).chartData()), expected.snapshot());

    const errorBox = view.page.locator('section.error');
    assert.ok(await errorBox.isVisible(), 'the error is shown');
    assert.match((await errorBox.textContent()) ?? '', /Run failed: CUDA out of memory[\s\S]*record 7[\s\S]*torch\.OutOfMemoryError/);
    assert.equal(await view.page.locator('.status').textContent(), 'failed');
    assert.match((await view.page.locator('pre.log').textContent()) ?? '', /step 1 loss 2\.75/);
    assert.equal(await view.page.evaluate(() => document.body.dataset.runStatus), 'failed');
    assert.ok(await view.page.locator('vscode-button', { hasText: 'Stop' }).evaluate((b) => b.hasAttribute('disabled')));

    await view.page.locator('vscode-button', { hasText: 'Open log' }).click();
    await view.page.waitForFunction(() => (window as unknown as { __posted: unknown[] }).__posted.length >= 2);
    assert.deepEqual((await view.posted()).slice(1), [envelope(OpenLogMessage, {})]);

    const shot = await view.page.screenshot({ path: path.join(ARTIFACTS, 'run-panel.png'), fullPage: true });
    assert.ok(shot.length > 0);
    const area = await view.page.evaluate(() => (window.__medvlmRunPanel as Hooks).lossPlotArea());
    // A few pixels of margin: golden points sit on the plot's edges (first and last step).
    const plot = await view.page.screenshot({
      clip: { x: area.left - 4, y: area.top - 4, width: area.right - area.left + 8, height: area.bottom - area.top + 8 },
    });
    const colours = await view.page.evaluate(() => (window.__medvlmRunPanel as Hooks).seriesColours());
    assert.equal(colours.trainLoss, DARK_THEME['--vscode-charts-blue'], 'series colour comes from the theme');
    const trainPixels = await countColour(harness.context, plot, colours.trainLoss);
    const evalPixels = await countColour(harness.context, plot, colours.evalLoss);
    t.diagnostic(`plot area pixels: train ${trainPixels}, eval ${evalPixels}`);
    assert.ok(trainPixels >= 20, `train loss is drawn in the plot area (${trainPixels} px)`);
    assert.ok(evalPixels >= 20, `eval loss is drawn in the plot area (${evalPixels} px)`);

    assert.deepEqual(view.consoleErrors, []);
    await view.page.close();
  });

  it('leaves a gap where the loss is NaN (spanGaps off)', async () => {
    const view = await openWebview(harness.context, panelHtml());
    const loss = [3, 2.5, null, 1.5, 1];
    const events: TrainerEvent[] = loss.map((y, i) => ({
      v: 1, t: 100 + i, type: 'metrics', step: i + 1, epoch: 0, split: 'train', values: { loss: y },
    }));
    await view.send(envelope(InitMessage, { runId: 'gap', title: 'gap', summary: { runId: 'gap', status: 'training' } }));
    await view.send(envelope(EventsMessage, { events, reset: true }));
    await waitForPoints(view, 5);
    const area = await view.page.evaluate(() => (window.__medvlmRunPanel as Hooks).lossPlotArea());
    const width = area.right - area.left;
    const shot = (from: number, to: number) =>
      view.page.screenshot({ clip: { x: area.left + from, y: area.top, width: to - from, height: area.bottom - area.top } });
    // Steps 1..5 span the x axis, so steps 2 and 4 sit at 1/4 and 3/4 of the plot's width.
    const blue = DARK_THEME['--vscode-charts-blue'] ?? '';
    const acrossGap = await countColour(harness.context, await shot(width / 4 + 8, (3 * width) / 4 - 8), blue);
    const beforeGap = await countColour(harness.context, await shot(8, width / 4 - 8), blue);
    assert.ok(beforeGap > 0, 'the line is drawn where there is data');
    assert.equal(acrossGap, 0, 'nothing bridges the NaN at step 3');
    assert.deepEqual(view.consoleErrors, []);
    await view.page.close();
  });

  it('renders a longer live run for the README screenshot', async (t) => {
    const view = await openWebview(harness.context, panelHtml());
    const { events, summary } = demoEvents();
    // A fixed clock makes the elapsed time and ETA in the header reproducible.
    await view.page.clock.setFixedTime(new Date(((summary.lastEventAt ?? 0) + 1) * 1000));
    await view.page.waitForFunction(() => (window as unknown as { __posted: unknown[] }).__posted.length > 0);
    await view.send(envelope(InitMessage, { runId: summary.runId, title: 'qwen2.5-vl-3b · MedVision lesion size', summary }));
    // Two batches, as the host sends a backlog and then live updates.
    await view.send(envelope(EventsMessage, { events: events.slice(0, 100), reset: true }));
    await view.send(envelope(EventsMessage, { events: events.slice(100), reset: false }));
    await view.send(envelope(LogTailMessage, { text: DEMO_LOG }));
    await waitForPoints(view, 60);

    const chart = await view.page.evaluate(() => (window.__medvlmRunPanel as Hooks).chartData());
    assert.equal(chart.trainLoss.length, 60);
    assert.deepEqual(chart.evalLoss.map((p) => p.x), [10, 20, 30, 40, 50, 60]);
    assert.ok(await view.page.locator('section.error').isHidden());

    const png = await view.page.screenshot({ path: path.join(ARTIFACTS, 'run-panel-readme.png'), fullPage: false });
    const area = await view.page.evaluate(() => (window.__medvlmRunPanel as Hooks).lossPlotArea());
    const plot = await view.page.screenshot({
      clip: { x: area.left, y: area.top, width: area.right - area.left, height: area.bottom - area.top },
    });
    const trainPixels = await countColour(harness.context, plot, DARK_THEME['--vscode-charts-blue'] ?? '');
    t.diagnostic(`plot area pixels: train ${trainPixels}`);
    assert.ok(trainPixels >= 100, `train loss is drawn in the plot area (${trainPixels} px)`);
    // The README copy changes only on request (or when missing), so test runs leave git clean.
    if (process.env.MEDVLM_UPDATE_SCREENSHOTS === '1' || !existsSync(README_SHOT)) {
      mkdirSync(path.dirname(README_SHOT), { recursive: true });
      writeFileSync(path.join(ARTIFACTS, 'run-panel-readme.png'), png);
      copyFileSync(path.join(ARTIFACTS, 'run-panel-readme.png'), README_SHOT);
    }
    assert.deepEqual(view.consoleErrors, []);
    await view.page.close();
  });
});
