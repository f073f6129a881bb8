// Renders the real run panel bundle (dist/webview/runPanel.js and its chart worker, from
// `npm run build`) in headless Chromium under the production CSP, feeds it events as the host
// would, and checks what a user would see: the handshake, the header, each chart's drawn
// points and pixels, the log tail, the action buttons, the hover read-out and a clean console.
// Smoothing, scales, axes, resumed and long runs and compare mode: renderRunPanelCharts.test.ts.
import assert from 'node:assert/strict';
import path from 'node:path';
import { describe, it } from 'node:test';
import type { TrainerEvent } from '../../src/shared/events';
import { envelope } from '../../src/shared/protocol/message';
import {
  DeleteMessage,
  LogTailMessage,
  MergeMessage,
  OpenLogMessage,
  ReadyMessage,
  RestartMessage,
  ResumeMessage,
  RevealFolderMessage,
  SummaryMessage,
} from '../../src/shared/protocol/runPanel';
import type { RunSummary } from '../../src/shared/runStatus';
import { ARTIFACTS, countColour, useBrowser, DARK_THEME, openWebview } from './browserHarness';
import type { Hooks } from './runPanelPage';
import { chartData, drawn, expectedSeries, goldenEvents, init, metrics, noisyRun, panelHtml, plotShot, sendEvents, single } from './runPanelPage';

describe('run panel in headless Chromium', () => {
  const browser = useBrowser(['runPanel', 'runPanelWorker']);

  it('renders the golden run: handshake, header, charts, error, log tail, actions, clean console', async (t) => {
    const view = await openWebview(browser().context, panelHtml());
    await view.page.waitForFunction(() => (window as unknown as { __posted: unknown[] }).__posted.length > 0);
    assert.deepEqual((await view.posted())[0], envelope(ReadyMessage, {}), 'the webview posts ready first');

    const events = goldenEvents();
    const summary: RunSummary = { runId: '20261127-120000-demo', status: 'failed', step: 2, maxSteps: 4, error: 'CUDA out of memory' };
    await init(view, [{ runId: summary.runId, title: 'demo (tiny-model)', summary }]);
    await sendEvents(view, summary.runId, events, true);
    await view.send(
      envelope(LogTailMessage, {
        text: 'loading model...\nstep 1 loss 2.75\nTraceback (most recent call last):\n  File "train.py", line 3\ntorch.OutOfMemoryError: CUDA out of memory\nbye\n',
      }),
    );

    const expected = expectedSeries(events);
    const chart = await chartData(view);
    assert.deepEqual(chart, expected);
    assert.deepEqual(chart.trainLoss, [
      { x: 1, y: 2.75 },
      { x: 2, y: null },
    ]);
    assert.deepEqual(chart.evalLoss, [{ x: 2, y: 2.5 }]);
    assert.deepEqual(chart.gradNorm, [{ x: 1, y: 1.5 }]);
    assert.deepEqual(chart.samplesPerS, [{ x: 1, y: 2.5 }]);
    assert.equal(await view.page.evaluate(() => (window.__medvlmRunPanel as Hooks).chartBackend()), 'worker', 'the charts are drawn off the main thread');
    assert.equal(await view.page.evaluate(() => document.body.dataset.trainLossPoints), '2');

    // The charts with data are shown, the others not.
    const shown = await view.page.$$eval('section.chart-box:not([hidden])', (boxes) => boxes.map((b) => (b as HTMLElement).dataset.chart));
    assert.deepEqual(shown, ['loss', 'learningRate', 'gradNorm', 'throughput']);

    // A replay after a reload must not duplicate points; junk must be ignored, not crash.
    await sendEvents(view, summary.runId, events, true);
    await view.send({ type: 'runPanel/events', payload: { runId: summary.runId, events: 'nope', columns: [], reset: true } });
    await view.send({ type: 'runPanel/bogus', payload: {} });
    await view.send(envelope(SummaryMessage, summary));
    await view.page.waitForFunction(() => (window.__medvlmRunPanel as Hooks).rejectedMessages() === 2);
    assert.deepEqual(await chartData(view), expected);

    // The header: step, epoch, elapsed, samples/s, checkpoints, latest eval.
    await view.page.waitForFunction(() => document.querySelector('[data-stat="step"] dd')?.textContent === '1 / 4');
    const stats = await view.page.$$eval('.stats [data-stat]', (rows) => rows.map((r) => [(r as HTMLElement).dataset.stat, r.querySelector('dd')?.textContent]));
    assert.deepEqual(Object.fromEntries(stats), {
      run: summary.runId,
      step: '1 / 4',
      epoch: '0.25',
      elapsed: '9s',
      samplesPerS: '2.50',
      checkpoints: '1',
      eval: 'loss 2.5',
    });

    const errorBox = view.page.locator('section.error');
    assert.ok(await errorBox.isVisible(), 'the error is shown');
    assert.match((await errorBox.textContent()) ?? '', /Run failed: CUDA out of memory[\s\S]*record 7[\s\S]*torch\.OutOfMemoryError/);
    assert.equal(await view.page.locator('.status').textContent(), 'failed');
    assert.equal(await view.page.evaluate(() => document.body.dataset.runStatus), 'failed');

    // The log tail: the traceback through its exception line is highlighted, nothing else.
    await view.page.waitForFunction(() => document.querySelector('pre.log')?.textContent?.includes('bye') === true);
    assert.match((await view.page.locator('pre.log').textContent()) ?? '', /step 1 loss 2\.75/);
    assert.deepEqual(await view.page.$$eval('pre.log .log-error', (spans) => spans.map((s) => s.textContent)), [
      'Traceback (most recent call last):\n  File "train.py", line 3\ntorch.OutOfMemoryError: CUDA out of memory\n',
    ]);

    // A failed run with a checkpoint: everything but Stop; each button posts its intent only.
    const buttons = await view.page.$$eval('.actions vscode-button:not([hidden])', (nodes) => nodes.map((n) => n.textContent));
    assert.deepEqual(buttons, ['Resume', 'Restart with edited config…', 'Merge LoRA', 'Open log', 'Reveal folder', 'Delete…']);
    const before = (await view.posted()).length;
    for (const label of buttons) {
      await view.page.locator('.actions vscode-button', { hasText: label ?? '' }).click();
    }
    await view.page.waitForFunction((n) => (window as unknown as { __posted: unknown[] }).__posted.length >= n, before + buttons.length);
    assert.deepEqual((await view.posted()).slice(before), [
      envelope(ResumeMessage, {}),
      envelope(RestartMessage, {}),
      envelope(MergeMessage, {}),
      envelope(OpenLogMessage, {}),
      envelope(RevealFolderMessage, {}),
      envelope(DeleteMessage, {}),
    ]);

    const shot = await view.page.screenshot({ path: path.join(ARTIFACTS, 'run-panel.png'), fullPage: true });
    assert.ok(shot.length > 0);
    // A few pixels of margin: golden points sit on the plot's edges (first and last step).
    const plot = await plotShot(view, 'loss', 4);
    const colours = await view.page.evaluate(() => (window.__medvlmRunPanel as Hooks).seriesColours());
    assert.equal(colours.trainLoss, DARK_THEME['--vscode-charts-blue'], 'series colour comes from the theme');
    const trainPixels = await countColour(browser().context, plot, colours.trainLoss);
    const evalPixels = await countColour(browser().context, plot, colours.evalLoss);
    t.diagnostic(`plot area pixels: train ${trainPixels}, eval ${evalPixels}`);
    assert.ok(trainPixels >= 20, `train loss is drawn in the plot area (${trainPixels} px)`);
    assert.ok(evalPixels >= 20, `eval loss is drawn in the plot area (${evalPixels} px)`);

    assert.deepEqual(view.consoleErrors, []);
    await view.page.close();
  });

  it('shows Stop, and only Stop and the file actions, while a run is active', async () => {
    const view = await openWebview(browser().context, panelHtml());
    await init(view, [single('live', { status: 'training' })]);
    await sendEvents(view, 'live', noisyRun(5), true);
    await view.page.waitForFunction(() => document.body.dataset.runStatus === 'training');
    const buttons = await view.page.$$eval('.actions vscode-button:not([hidden])', (nodes) => nodes.map((n) => n.textContent));
    assert.deepEqual(buttons, ['Stop', 'Open log', 'Reveal folder']);
    await view.page.locator('.actions vscode-button', { hasText: 'Stop' }).click();
    await view.page.waitForFunction(() => (window as unknown as { __posted: unknown[] }).__posted.length >= 2);
    assert.deepEqual((await view.posted()).slice(1), [{ type: 'runPanel/stop', payload: {} }]);
    // Once the trainer reports an online W&B run, its page is one button away (the host opens it).
    await view.send(envelope(SummaryMessage, { runId: 'live', status: 'training', wandbUrl: 'https://wandb.ai/lab/medvlm/runs/live' }));
    await view.page.locator('.actions vscode-button:not([hidden])', { hasText: 'W&B run' }).click();
    await view.page.waitForFunction(() => (window as unknown as { __posted: unknown[] }).__posted.length >= 3);
    assert.deepEqual((await view.posted()).slice(2), [{ type: 'runPanel/openWandb', payload: {} }], 'the page sends the intent, never a URL');
    assert.deepEqual(view.consoleErrors, []);
    await view.page.close();
  });

  it('leaves a gap where the loss is NaN (spanGaps off)', async () => {
    const view = await openWebview(browser().context, panelHtml());
    const loss = [3, 2.5, null, 1.5, 1];
    const events: TrainerEvent[] = loss.map((y, i) => metrics(i + 1, 'train', { loss: y }));
    await init(view, [single('gap', { status: 'finished' })]);
    await sendEvents(view, 'gap', events, true);
    await drawn(view);
    const area = await view.page.evaluate(() => (window.__medvlmRunPanel as Hooks).lossPlotArea());
    const width = area.right - area.left;
    const shot = (from: number, to: number) =>
      view.page.screenshot({ clip: { x: area.left + from, y: area.top, width: to - from, height: area.bottom - area.top } });
    // A finished run's axis fits steps 1..5, so steps 2 and 4 sit at 1/4 and 3/4 of the width.
    const blue = DARK_THEME['--vscode-charts-blue'] ?? '';
    const acrossGap = await countColour(browser().context, await shot(width / 4 + 8, (3 * width) / 4 - 8), blue);
    const beforeGap = await countColour(browser().context, await shot(8, width / 4 - 8), blue);
    assert.ok(beforeGap > 0, 'the line is drawn where there is data');
    assert.equal(acrossGap, 0, 'nothing bridges the NaN at step 3');
    assert.deepEqual(view.consoleErrors, []);
    await view.page.close();
  });

  it('reads out the nearest point under the pointer, skipping gaps, and clears it when the pointer leaves', async () => {
    const view = await openWebview(browser().context, panelHtml());
    const loss = [3, 2.5, null, 1.5, 1, 0.75, 0.5];
    const events: TrainerEvent[] = loss.map((y, i) => metrics(i + 1, 'train', { loss: y }));
    await init(view, [single('hover', { status: 'finished' })]);
    await sendEvents(view, 'hover', events, true);
    await drawn(view);
    const area = await view.page.evaluate(() => (window.__medvlmRunPanel as Hooks).lossPlotArea());
    // A finished run's axis fits steps 1..7: step s sits at (s - 1) / 6 of the width.
    const xOf = (step: number) => area.left + ((step - 1) / 6) * (area.right - area.left);
    const middle = (area.top + area.bottom) / 2;
    const readOut = async (step: number) => {
      const before = await view.page.evaluate(() => (window.__medvlmRunPanel as Hooks).hover());
      await view.page.mouse.move(xOf(step), middle);
      await view.page.waitForFunction((old) => JSON.stringify((window.__medvlmRunPanel as Hooks).hover()) !== old, JSON.stringify(before));
      return view.page.evaluate(() => (window.__medvlmRunPanel as Hooks).hover());
    };
    const plot = { x: area.left, y: area.top, width: area.right - area.left, height: area.bottom - area.top };
    const quiet = await view.page.screenshot({ clip: plot });

    const atFour = await readOut(4);
    assert.equal(atFour?.chart, 'loss');
    assert.equal(atFour?.title, 'step 4');
    assert.deepEqual(atFour?.items.map((i) => [i.series, i.x, i.y, i.text]), [['trainLoss', 4, 1.5, 'train loss: 1.5']]);
    assert.ok(!(await view.page.screenshot({ clip: plot })).equals(quiet), 'the read-out is drawn on the chart');

    // Step 3 is a NaN gap: the read-out moves to the nearest shown neighbour (step 2 or 4).
    assert.equal((await readOut(6))?.title, 'step 6');
    const atGap = await readOut(3.2);
    assert.deepEqual(atGap?.items.map((i) => [i.x, i.y]), [[4, 1.5]], 'the gap is never read out');

    await view.page.mouse.move(area.right + 40, area.bottom + 40);
    await view.page.waitForFunction(() => (window.__medvlmRunPanel as Hooks).hover() === undefined);
    await drawn(view);
    assert.ok((await view.page.screenshot({ clip: plot })).equals(quiet), 'the chart is as before once the pointer left');
    assert.deepEqual(view.consoleErrors, []);
    await view.page.close();
  });
});
