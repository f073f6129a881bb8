// The run panel's charts in headless Chromium, on the shipped bundle (see renderRunPanel.test.ts):
// smoothing, log scale, the x axis modes, a resumed run, decimation of a long run with its
// spike kept, compare mode, and the README screenshot.
import assert from 'node:assert/strict';
import { copyFileSync, existsSync, mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import type { TrainerEvent } from '../../src/shared/events';
import { envelope } from '../../src/shared/protocol/message';
import type { ConfigDiffPayload } from '../../src/shared/protocol/runPanel';
import {
  ConfigDiffMessage,
  LogTailMessage,
} from '../../src/shared/protocol/runPanel';
import { smoothSeries } from '../../webview/runPanel/smoothing';
import { ARTIFACTS, countColour, useBrowser, DARK_THEME, openWebview } from './browserHarness';
import { demoEvents, DEMO_LOG } from './demoRun';
import type { Hooks } from './runPanelPage';
import { chartData, drawn, expectedSeries, init, metrics, noisyRun, panelHtml, plotShot, README_SHOT, sendEvents, single, started } from './runPanelPage';

describe('run panel charts in headless Chromium', () => {
  const browser = useBrowser(['runPanel', 'runPanelWorker']);

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
    // The first attempt's error is history; the header follows the events within its
    // refresh interval (a quarter second), however soon the charts were drawn.
    await view.page.locator('section.error').waitFor({ state: 'hidden', timeout: 5000 });
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
