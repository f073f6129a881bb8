// Renders the real run panel bundle (dist/webview/runPanel.js and its chart worker, from
// `npm run build`) in headless Chromium under the production CSP, feeds it events as the host
// would, and checks what a user would see: the handshake, the header, each chart's drawn
// points and pixels, smoothing, log scale, the x axis modes, a resumed run, the log tail, the
// action buttons, compare mode, and a clean console.
import assert from 'node:assert/strict';
import { copyFileSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import type { MetricsEvent, RunStartedEvent, TrainerEvent } from '../../src/shared/events';
import { toTrainerEvent } from '../../src/shared/events';
import { envelope } from '../../src/shared/protocol/message';
import type { ConfigDiffPayload, PanelRun } from '../../src/shared/protocol/runPanel';
import { packEvents } from '../../src/shared/protocol/runPanelPacking';
import {
  ConfigDiffMessage,
  DeleteMessage,
  EventsMessage,
  InitMessage,
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
import { buildRunPanelHtml } from '../../src/webviews/runPanelHtml';
import { createNonce } from '../../src/webviews/webviewHtml';
import { RunState } from '../../webview/runPanel/runState';
import type { SeriesName, SeriesPoint } from '../../webview/runPanel/series';
import { RunSeriesData } from '../../webview/runPanel/series';
import { smoothSeries } from '../../webview/runPanel/smoothing';
import type { RunPanelTestHooks } from '../../webview/runPanel/testHooks';
import type { WebviewPage } from './browserHarness';
import { ARTIFACTS, countColour, CSP_SOURCE, useBrowser, DARK_THEME, openWebview, webviewScriptUri } from './browserHarness';
import { demoEvents, DEMO_LOG } from './demoRun';
import { repoRoot } from '../unit/testUtil';

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

async function init(view: WebviewPage, runs: readonly PanelRun[], compare = false, title = runs[0]?.title ?? 'Run'): Promise<void> {
  await view.page.waitForFunction(() => (window as unknown as { __posted: unknown[] }).__posted.length > 0);
  await view.send(envelope(InitMessage, { title, compare, runs }));
}

/** What the host does: pack the events into columns and post them. */
async function sendEvents(view: WebviewPage, runId: string, events: readonly TrainerEvent[], reset: boolean): Promise<void> {
  for (const payload of packEvents(runId, events, reset)) {
    await view.send(envelope(EventsMessage, payload));
  }
}

async function drawn(view: WebviewPage): Promise<void> {
  await view.page.evaluate(() => (window.__medvlmRunPanel as Hooks).whenDrawn());
}

async function chartData(view: WebviewPage): Promise<Record<SeriesName, SeriesPoint[]>> {
  await drawn(view);
  return view.page.evaluate(() => (window.__medvlmRunPanel as Hooks).chartData());
}

/** The same reduction the panel makes, in Node: the points each series should draw. */
function expectedSeries(events: readonly TrainerEvent[]): Record<SeriesName, SeriesPoint[]> {
  const state = new RunState('r');
  const data = new RunSeriesData();
  for (const payload of packEvents('r', events, true)) data.apply(state.apply(payload));
  return data.snapshot();
}

async function plotShot(view: WebviewPage, chart: 'loss' | 'learningRate' = 'loss', margin = 0): Promise<Buffer> {
  const area = await view.page.evaluate((id) => (window.__medvlmRunPanel as Hooks).plotArea(id), chart);
  assert.ok(area !== undefined, `${chart} has been drawn`);
  return view.page.screenshot({
    clip: { x: area.left - margin, y: area.top - margin, width: area.right - area.left + 2 * margin, height: area.bottom - area.top + 2 * margin },
  });
}

const metrics = (step: number, split: 'train' | 'eval', values: Record<string, number | null>, t = 1_764_000_000 + step * 4): MetricsEvent => ({
  v: 1,
  t,
  type: 'metrics',
  step,
  epoch: step / 50,
  split,
  values,
});

const started = (t: number, extra: Partial<RunStartedEvent> = {}): RunStartedEvent => ({
  v: 1,
  t,
  type: 'run_started',
  run_id: 'r',
  trainer_version: '0.1.0',
  world_size: 1,
  config: {},
  ...extra,
});

/** A noisy, falling loss: something smoothing visibly changes. */
function noisyRun(steps: number): TrainerEvent[] {
  const events: TrainerEvent[] = [started(1_764_000_000)];
  for (let step = 1; step <= steps; step++) {
    const noise = 0.3 * Math.sin(step * 2.3) * Math.cos(step * 0.7);
    events.push(metrics(step, 'train', { loss: 0.5 + 2 * Math.exp(-step / 40) + noise, learning_rate: 1e-4 }));
  }
  return events;
}

const single = (runId: string, summary: Omit<RunSummary, 'runId'>, title = runId): PanelRun => ({ runId, title, summary: { runId, ...summary } });

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

  it('smooths with the slider (TensorBoard EMA), keeping the raw line faint behind', async () => {
    const view = await openWebview(browser().context, panelHtml());
    const events = noisyRun(200);
    await init(view, [single('noisy', { status: 'finished' })]);
    await sendEvents(view, 'noisy', events, true);
    const raw = (await chartData(view)).trainLoss;
    assert.equal(raw.length, 200);
    const blueBefore = await countColour(browser().context, await plotShot(view), DARK_THEME['--vscode-charts-blue'] ?? '');

    await view.page.$eval('.toolbar input[type="range"]', (input) => {
      (input as HTMLInputElement).value = '0.9';
      input.dispatchEvent(new Event('input', { bubbles: true }));
    });
    const smoothed = (await chartData(view)).trainLoss;
    const want = smoothSeries(raw.map((p) => p.y ?? Number.NaN), 0.9);
    assert.equal(smoothed.length, raw.length);
    smoothed.forEach((p, i) => {
      assert.equal(p.x, raw[i]?.x);
      assert.ok(Math.abs((p.y ?? Number.NaN) - (want[i] as number)) < 1e-12, `smoothed point ${i}`);
    });
    assert.deepEqual(await view.page.evaluate(() => (window.__medvlmRunPanel as Hooks).rawChartData().trainLoss), raw, 'the raw line stays');
    assert.deepEqual((await chartData(view)).learningRate.length, 200, 'the learning rate is not smoothed (no raw line)');
    assert.deepEqual(await view.page.evaluate(() => (window.__medvlmRunPanel as Hooks).rawChartData().learningRate), []);
    assert.equal(await view.page.locator('.toolbar output').textContent(), '0.9');
    // The smoothed curve is calmer: fewer strong-colour pixels than the zigzag it replaces.
    const blueAfter = await countColour(browser().context, await plotShot(view), DARK_THEME['--vscode-charts-blue'] ?? '');
    assert.ok(blueAfter < blueBefore, `smoothed line ${blueAfter} px < raw zigzag ${blueBefore} px`);
    assert.deepEqual(view.consoleErrors, []);
    await view.page.close();
  });

  it('switches to a log scale, where zero and negative values are gaps', async () => {
    const view = await openWebview(browser().context, panelHtml());
    const events = [started(1), ...[4, 0.4, 0.04, 0, 0.004].map((loss, i) => metrics(i + 1, 'train', { loss }))];
    await init(view, [single('log', { status: 'finished' })]);
    await sendEvents(view, 'log', events, true);
    await drawn(view);
    const linear = await view.page.evaluate(() => (window.__medvlmRunPanel as Hooks).plotArea('loss'));
    assert.equal(linear?.logScale, false);
    await view.page.locator('.toolbar input[type="checkbox"]').check();
    const data = await chartData(view);
    const log = await view.page.evaluate(() => (window.__medvlmRunPanel as Hooks).plotArea('loss'));
    assert.equal(log?.logScale, true);
    assert.deepEqual(data.trainLoss.map((p) => p.y), [4, 0.4, 0.04, null, 0.004]);
    assert.ok((log?.yMin ?? 1) <= 0.004 && (log?.yMax ?? 0) >= 4, `the log axis spans the data: ${log?.yMin}..${log?.yMax}`);
    assert.deepEqual(view.consoleErrors, []);
    await view.page.close();
  });

  it('draws the x axis by step, epoch or wall time', async () => {
    const view = await openWebview(browser().context, panelHtml());
    const events = noisyRun(20);
    await init(view, [single('axes', { status: 'finished' })]);
    await sendEvents(view, 'axes', events, true);
    const steps = (await chartData(view)).trainLoss.map((p) => p.x);
    assert.deepEqual(steps, Array.from({ length: 20 }, (_, i) => i + 1));
    const pick = async (mode: string): Promise<number[]> => {
      await view.page.locator('.toolbar select').selectOption(mode);
      return (await chartData(view)).trainLoss.map((p) => p.x);
    };
    assert.deepEqual(await pick('epoch'), steps.map((s) => s / 50));
    const epochArea = await view.page.evaluate(() => (window.__medvlmRunPanel as Hooks).plotArea('loss'));
    assert.deepEqual([epochArea?.xMin, epochArea?.xMax], [0.02, 0.4]);
    assert.deepEqual(await pick('wall'), steps.map((s) => 1_764_000_000 + s * 4));
    assert.deepEqual(await pick('step'), steps);
    assert.deepEqual(view.consoleErrors, []);
    await view.page.close();
  });

  it('shows a resumed run with each step once, the latest attempt\'s value', async () => {
    const view = await openWebview(browser().context, panelHtml());
    const first: TrainerEvent[] = [
      started(100, { attempt: 1, resume_step: null }),
      ...Array.from({ length: 10 }, (_, i) => metrics(i + 1, 'train', { loss: 10 - i })),
      { v: 1, t: 150, type: 'checkpoint', step: 6, path: 'checkpoints/checkpoint-6' },
      { v: 1, t: 151, type: 'error', message: 'killed', traceback: '' },
    ];
    const second: TrainerEvent[] = [
      started(2_000_000_000, { attempt: 2, resume_step: 6 }),
      ...Array.from({ length: 8 }, (_, i) => metrics(i + 7, 'train', { loss: 1 - i / 10 }, 2_000_000_000 + i)),
    ];
    await init(view, [single('resumed', { status: 'training', attempt: 2, resumeStep: 6 })]);
    // The first attempt as a backlog, the second as it is logged, as the host sends them.
    await sendEvents(view, 'resumed', first, true);
    await drawn(view);
    await sendEvents(view, 'resumed', second, false);
    const train = (await chartData(view)).trainLoss;
    assert.deepEqual(train.map((p) => p.x), Array.from({ length: 14 }, (_, i) => i + 1), 'each step once');
    assert.deepEqual(train.slice(6).map((p) => p.y), Array.from({ length: 8 }, (_, i) => 1 - i / 10), 'the resumed attempt wins');
    assert.deepEqual(train.slice(0, 6).map((p) => p.y), [10, 9, 8, 7, 6, 5]);
    assert.ok(await view.page.locator('section.error').isHidden(), 'the first attempt\'s error is history');
    await view.page.waitForFunction(() => document.querySelector('[data-stat="attempt"] dd')?.textContent === '2');
    assert.deepEqual(view.consoleErrors, []);
    await view.page.close();
  });

  it('decimates a long run to per-pixel columns and keeps a one-step spike', async () => {
    const view = await openWebview(browser().context, panelHtml());
    const events: TrainerEvent[] = [started(1)];
    for (let step = 1; step <= 50_000; step++) {
      events.push(metrics(step, 'train', { loss: step === 31_337 ? 40 : 1 + 0.2 * Math.sin(step / 300) }));
    }
    await init(view, [single('long', { status: 'finished' })]);
    await sendEvents(view, 'long', events, true);
    await drawn(view);
    const data = await view.page.evaluate(async () => (await (window.__medvlmRunPanel as Hooks).captureChartData()).long);
    const area = await view.page.evaluate(() => (window.__medvlmRunPanel as Hooks).plotArea('loss'));
    const width = (area?.right ?? 0) - (area?.left ?? 0);
    const train = data?.trainLoss ?? [];
    assert.ok(train.length > 500 && train.length <= 4 * 1000, `${train.length} drawn points for 50,000 (plot ${Math.round(width)} px wide)`);
    assert.ok(train.some((p) => p.x === 31_337 && p.y === 40), 'the spike is drawn');
    assert.equal(await view.page.evaluate(() => document.body.dataset.trainLossPoints), '50000');
    // Its pixels: a bright column near the spike's x, reaching the top of the plot.
    const spikeX = (area?.left ?? 0) + ((31_337 - (area?.xMin ?? 0)) / ((area?.xMax ?? 1) - (area?.xMin ?? 0))) * width;
    const strip = await view.page.screenshot({ clip: { x: spikeX - 3, y: area?.top ?? 0, width: 6, height: 40 } });
    assert.ok((await countColour(browser().context, strip, DARK_THEME['--vscode-charts-blue'] ?? '')) >= 10, 'the spike is visible');
    assert.deepEqual(view.consoleErrors, []);
    await view.page.close();
  });

  it('overlays two runs in compare mode, with a legend by run and their config differences', async (t) => {
    const view = await openWebview(browser().context, panelHtml());
    const runs = [single('run-a', { status: 'finished' }, 'lr 2e-4'), single('run-b', { status: 'finished' }, 'lr 1e-4')];
    await init(view, runs, true, 'Compare: lr 2e-4, lr 1e-4');
    const a = noisyRun(60);
    const b = noisyRun(40).map((e) => (e.type === 'metrics' ? { ...e, values: { loss: (e.values.loss ?? 0) * 1.5 } } : e));
    await sendEvents(view, 'run-a', a, true);
    await sendEvents(view, 'run-b', b, true);
    const diff: ConfigDiffPayload = {
      runIds: ['run-a', 'run-b'],
      rows: [
        { path: 'train.learning_rate', values: ['0.0002', '0.0001'] },
        { path: 'lora.r', values: ['16', null] },
      ],
      missing: [],
      truncated: false,
    };
    await view.send(envelope(ConfigDiffMessage, diff));
    await drawn(view);
    const byRun = await view.page.evaluate(() => (window.__medvlmRunPanel as Hooks).chartDataByRun());
    assert.equal(byRun['run-a']?.trainLoss.length, 60);
    assert.equal(byRun['run-b']?.trainLoss.length, 40);
    assert.deepEqual(byRun['run-b']?.trainLoss, expectedSeries(b).trainLoss);

    assert.deepEqual(await view.page.$$eval('.run-legend li[data-run-id] .run-title', (items) => items.map((i) => i.textContent)), ['lr 2e-4', 'lr 1e-4']);
    await view.page.waitForFunction(() => document.querySelectorAll('table.diff tbody tr').length === 2);
    const rows = await view.page.$$eval('table.diff tbody tr', (trs) => trs.map((tr) => [...tr.querySelectorAll('td')].map((td) => td.textContent)));
    assert.deepEqual(rows, [
      ['train.learning_rate', '0.0002', '0.0001'],
      ['lora.r', '16', '—'],
    ]);
    assert.ok(await view.page.locator('.actions').isHidden(), 'no run actions in compare mode');
    assert.ok(await view.page.locator('pre.log').isHidden(), 'no single log in compare mode');

    const colours = await view.page.evaluate(() => (window.__medvlmRunPanel as Hooks).runColours());
    const plot = await plotShot(view);
    const first = await countColour(browser().context, plot, colours[0] ?? '');
    const second = await countColour(browser().context, plot, colours[1] ?? '');
    t.diagnostic(`compare pixels: ${first} and ${second}`);
    assert.ok(first >= 100 && second >= 100, 'both runs are drawn, each in its colour');
    await view.page.screenshot({ path: path.join(ARTIFACTS, 'run-panel-compare.png'), fullPage: true });
    assert.deepEqual(view.consoleErrors, []);
    await view.page.close();
  });

  it('renders a longer live run for the README screenshot', async (t) => {
    const view = await openWebview(browser().context, panelHtml());
    const { events, summary } = demoEvents();
    // A fixed clock makes the elapsed time and ETA in the header reproducible.
    await view.page.clock.setFixedTime(new Date(((summary.lastEventAt ?? 0) + 1) * 1000));
    await init(view, [{ runId: summary.runId, title: 'qwen2.5-vl-3b · MedVision lesion size', summary }]);
    // Two batches, as the host sends a backlog and then live updates.
    await sendEvents(view, summary.runId, events.slice(0, 100), true);
    await sendEvents(view, summary.runId, events.slice(100), false);
    await view.send(envelope(LogTailMessage, { text: DEMO_LOG }));

    const chart = await chartData(view);
    assert.equal(chart.trainLoss.length, 60);
    assert.deepEqual(chart.evalLoss.map((p) => p.x), [10, 20, 30, 40, 50, 60]);
    assert.ok(await view.page.locator('section.error').isHidden());
    await view.page.waitForFunction(() => document.querySelector('[data-stat="eta"]') !== null);

    // Short series get markers: the eval loss at step 30 is a dot, not just a line through it.
    const point = chart.evalLoss.find((p) => p.x === 30);
    assert.ok(point?.y !== null && point?.y !== undefined);
    // The worker paints asynchronously, and the log tail arriving can relayout the charts (a
    // scroll bar narrows them): measure the plot area and look at the pixels again until the
    // frame has settled, for a few seconds at most.
    let marker = 0;
    for (let attempt = 0; attempt < 20 && marker < 18; attempt += 1) {
      if (attempt > 0) await view.page.waitForTimeout(150);
      await drawn(view);
      const area = await view.page.evaluate(() => (window.__medvlmRunPanel as Hooks).plotArea('loss'));
      assert.ok(area !== undefined);
      const x = area.left + ((30 - area.xMin) / (area.xMax - area.xMin)) * (area.right - area.left);
      const y = area.bottom - ((point.y - area.yMin) / (area.yMax - area.yMin)) * (area.bottom - area.top);
      const dot = await view.page.screenshot({ clip: { x: x - 2, y: y - 5, width: 4, height: 10 } });
      marker = await countColour(browser().context, dot, DARK_THEME['--vscode-charts-orange'] ?? '');
    }
    assert.ok(marker >= 18, `a marker at the eval point (${marker} px; a line alone covers about 8)`);

    const png = await view.page.screenshot({ path: path.join(ARTIFACTS, 'run-panel-readme.png'), fullPage: false });
    const trainPixels = await countColour(browser().context, await plotShot(view), DARK_THEME['--vscode-charts-blue'] ?? '');
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
