// `npm run bench:chart`: the run panel's charts under a long compare run, in headless
// Chromium, on the shipped bundle (dist/webview/runPanel.js and its worker) under the
// production CSP. 5 runs x 100,000 points per series arrive as one backlog, then every run
// appends a step at 10 Hz. Timed from the data arriving at the page to the frame painted, the
// chart worker's work included; main-thread time per update comes from a Chrome trace (every
// task on the page's main thread: message handling, style, layout, paint, GC). Side by side,
// in the same browser and run: stock Chart.js drawing the same charts from the full data,
// without decimation. A one-step spike planted in one run must still be visible on screen.
//
// The initial render is timed on several fresh panels (each a new page and worker, so nothing
// is warm from the previous one) and reported as their median, since one sample on a shared
// machine varies by tens of milliseconds.
//
// Options: --runs 5 --points 100000 --updates 100 --stock-updates 12 --initial-runs 5 --no-stock
import { readFileSync } from 'node:fs';
import path from 'node:path';
import type { BrowserContext, Page } from 'playwright-core';
import { envelope } from '../../src/shared/protocol/message';
import type { PanelRun } from '../../src/shared/protocol/runPanel';
import { InitMessage } from '../../src/shared/protocol/runPanel';
import { buildRunPanelHtml } from '../../src/webviews/runPanelHtml';
import { createNonce } from '../../src/webviews/webviewHtml';
import type { RunPanelTestHooks } from '../../webview/runPanel/testHooks';
import type { WebviewPage } from '../webview/browserHarness';
import { countColour, CSP_SOURCE, launchChromium, openWebview, webviewScriptUri } from '../webview/browserHarness';
import { repoRoot } from '../unit/testUtil';
import { analyse, startTrace, stopTrace } from './chromeTrace';

const GOALS = { initialMs: 50, p95UpdateMs: 4, speedup: 10 };
const SPIKE = { run: 2, step: 61_234, value: 25 };
const UPDATE_INTERVAL_MS = 100;

function option(name: string, fallback: number): number {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? Number(process.argv[i + 1]) : fallback;
}
const RUNS = option('runs', 5);
const POINTS = option('points', 100_000);
const UPDATES = option('updates', 100);
const STOCK_UPDATES = option('stock-updates', 12);
const INITIAL_RUNS = Math.max(1, option('initial-runs', 5));
const WITH_STOCK = !process.argv.includes('--no-stock');
const SPIKE_STEP = Math.min(SPIKE.step, Math.floor(POINTS * 0.6));

type Hooks = RunPanelTestHooks;

interface BenchSpec {
  readonly runs: number;
  readonly points: number;
  readonly updates: number;
  readonly spike: { readonly run: number; readonly step: number; readonly value: number };
}

/**
 * Runs in the page: builds the backlog and the updates as the host would send them (the
 * `runPanel/events` payloads with Float64Array columns), kept on `window` so that building
 * them is not timed. Self-contained, because page.evaluate sends only its source.
 */
function buildData(spec: BenchSpec): void {
  const T0 = 1_764_000_000;
  const maxSteps = spec.points + spec.updates + 1000;
  const trainFields = ['loss', 'learning_rate', 'grad_norm', 'gpu_mem_gb'];
  const evalFields = ['loss', 'mae', 'mre', 'iou', 'success_rate'];
  const value = (field: string, run: number, step: number): number => {
    const wobble = Math.sin(step * 0.37 + run) * Math.cos(step * 0.011);
    switch (field) {
      case 'loss':
        return 0.3 + run * 0.1 + 2.5 * Math.exp(-step / 20_000) + 0.15 * wobble;
      case 'learning_rate':
        return 1e-4 * (1 + Math.cos((Math.PI * step) / maxSteps)) * (1 + run * 0.2);
      case 'grad_norm':
        return 1 + 0.4 * wobble + run * 0.05;
      case 'gpu_mem_gb':
        return 17 + run + 0.01 * Math.floor(step / 5000);
      case 'samples_per_s':
        return 3.5 + run * 0.2 + 0.3 * wobble;
      case 'mae':
        return 4 * Math.exp(-step / 30_000) + 0.8 + run * 0.1;
      case 'mre':
        return 0.3 * Math.exp(-step / 30_000) + 0.05;
      case 'iou':
        return 0.8 - 0.5 * Math.exp(-step / 25_000);
      default:
        return 0.3 + (0.6 * step) / maxSteps;
    }
  };
  const columns = (split: string, fields: string[], steps: number[], run: number) => {
    const step = Float64Array.from(steps);
    const epoch = Float64Array.from(steps, (s) => s / 10_000);
    const t = Float64Array.from(steps, (s) => T0 + run * 600 + s * 2);
    return fields.map((field) => ({
      split,
      field,
      step,
      epoch,
      t,
      y: Float64Array.from(steps, (s) =>
        split === 'train' && field === 'loss' && run === spec.spike.run && s === spec.spike.step ? spec.spike.value : value(field, run, s),
      ),
    }));
  };
  const message = (runId: string, reset: boolean, events: unknown[], cols: ReturnType<typeof columns>) => {
    const buffers = new Set<ArrayBuffer>();
    for (const c of cols) for (const a of [c.step, c.epoch, c.t, c.y]) buffers.add(a.buffer as ArrayBuffer);
    return { data: { type: 'runPanel/events', payload: { runId, reset, events, columns: cols } }, transfer: [...buffers] };
  };
  const progress = (run: number, step: number) => ({
    v: 1,
    t: T0 + run * 600 + step * 2,
    type: 'progress',
    step,
    max_steps: maxSteps,
    epoch: step / 10_000,
    samples_per_s: 3.5,
    eta_s: (maxSteps - step) * 2,
  });
  const backlog = [];
  const updates: Array<ReturnType<typeof message>[]> = Array.from({ length: spec.updates }, () => []);
  for (let run = 0; run < spec.runs; run++) {
    const runId = `run-${run}`;
    const steps = Array.from({ length: spec.points }, (_, i) => i + 1);
    const evalSteps = steps.filter((s) => s % 1000 === 0);
    const started = { v: 1, t: T0 + run * 600, type: 'run_started', run_id: runId, trainer_version: '0.1.0', world_size: 1, config: {} };
    backlog.push(
      message(runId, true, [started, progress(run, spec.points)], [
        ...columns('train', trainFields, steps, run),
        ...columns('progress', ['samples_per_s'], steps, run),
        ...columns('eval', evalFields, evalSteps, run),
      ]),
    );
    for (let u = 0; u < spec.updates; u++) {
      const step = spec.points + u + 1;
      updates[u]?.push(
        message(runId, false, [progress(run, step)], [
          ...columns('train', trainFields, [step], run),
          ...columns('progress', ['samples_per_s'], [step], run),
          ...(step % 1000 === 0 ? columns('eval', evalFields, [step], run) : []),
        ]),
      );
    }
  }
  Object.assign(window, { __bench: { backlog, updates } });
}

interface Timing {
  readonly initialMs: number;
  readonly latencies: number[];
  /** Page-side synchronous handling per update (the part a trace attributes to our handler). */
  readonly handlerMs: number[];
  readonly engineMs: number[];
  readonly marks: number;
}

/** Runs in the panel page: the backlog, then (unless `initialOnly`) the updates at 10 Hz, each awaited to its frame. */
async function drivePanel({ intervalMs, initialOnly }: { intervalMs: number; initialOnly: boolean }): Promise<Timing> {
  type Message = { data: unknown; transfer: ArrayBuffer[] };
  const w = window as unknown as { __bench: { backlog: Message[]; updates: Message[][] }; __medvlmRunPanel: Hooks };
  const hooks = w.__medvlmRunPanel;
  // The data arrives as message events, handed over without a copy (as a transferring
  // postMessage does) and dispatched at once, so the clock starts with the page's handling.
  const deliver = (messages: Message[]): void => {
    for (const m of messages) window.dispatchEvent(new MessageEvent('message', { data: m.data }));
  };
  const painted = (): Promise<void> => new Promise((resolve) => requestAnimationFrame(() => setTimeout(resolve, 0)));
  performance.mark('bench-initial');
  const start = performance.now();
  deliver(w.__bench.backlog);
  await hooks.whenDrawn();
  await painted();
  const initialMs = performance.now() - start;
  if (initialOnly) return { initialMs, latencies: [], handlerMs: [], engineMs: [], marks: 0 };
  await new Promise((resolve) => setTimeout(resolve, 500));

  const latencies: number[] = [];
  const handlerMs: number[] = [];
  const engineMs: number[] = [];
  const begin = performance.now() + 50;
  for (let i = 0; i < w.__bench.updates.length; i++) {
    const wait = begin + i * intervalMs - performance.now();
    if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
    performance.mark(`bench-update-${i}`);
    const t0 = performance.now();
    deliver(w.__bench.updates[i] ?? []);
    handlerMs.push(performance.now() - t0);
    await hooks.whenDrawn();
    await painted();
    latencies.push(performance.now() - t0);
    engineMs.push(hooks.lastEngineMs());
  }
  performance.mark('bench-end');
  return { initialMs, latencies, handlerMs, engineMs, marks: w.__bench.updates.length };
}

/** Runs in the stock page: the same charts in plain Chart.js, fed the full data. */
async function driveStock({ intervalMs, updates }: { intervalMs: number; updates: number }): Promise<Timing> {
  type Column = { split: string; field: string; step: Float64Array; y: Float64Array };
  type Message = { data: { payload: { runId: string; columns: Column[] } } };
  const w = window as unknown as {
    __bench: { backlog: Message[]; updates: Message[][] };
    Chart: new (canvas: HTMLCanvasElement, config: unknown) => { data: { datasets: Array<{ data: Array<{ x: number; y: number | null }> }> }; update(): void };
  };
  const charts: Array<{ id: string; series: Array<[string, string]> }> = [
    { id: 'loss', series: [['train', 'loss'], ['eval', 'loss']] },
    { id: 'learningRate', series: [['train', 'learning_rate']] },
    { id: 'gradNorm', series: [['train', 'grad_norm']] },
    { id: 'throughput', series: [['progress', 'samples_per_s']] },
    { id: 'gpuMemory', series: [['train', 'gpu_mem_gb']] },
    { id: 'evalMae', series: [['eval', 'mae']] },
    { id: 'evalMre', series: [['eval', 'mre']] },
    { id: 'evalIou', series: [['eval', 'iou']] },
    { id: 'evalSuccessRate', series: [['eval', 'success_rate']] },
  ];
  const colours = ['#3794ff', '#d18616', '#89d185', '#b180d7', '#f14c4c', '#cca700', '#4ec9b0', '#ce9178'];
  const root = document.getElementById('app') as HTMLElement;
  root.style.cssText = 'display:grid;grid-template-columns:repeat(auto-fill,minmax(320px,1fr));gap:12px 16px;padding:160px 16px 0';
  const painted = (): Promise<void> => new Promise((resolve) => requestAnimationFrame(() => setTimeout(resolve, 0)));
  const points = (column: Column | undefined) =>
    column === undefined ? [] : Array.from(column.step, (x, i) => ({ x, y: Number.isFinite(column.y[i]) ? (column.y[i] as number) : null }));
  const find = (message: Message, split: string, field: string) => message.data.payload.columns.find((c) => c.split === split && c.field === field);

  performance.mark('bench-initial');
  const start = performance.now();
  const instances = charts.map(({ id, series }) => {
    const box = document.createElement('div');
    box.style.cssText = `position:relative;height:${id === 'loss' ? 280 : 170}px;${id === 'loss' ? 'grid-column:1/-1' : ''}`;
    const canvas = document.createElement('canvas');
    box.append(canvas);
    root.append(box);
    const datasets = w.__bench.backlog.flatMap((message, run) =>
      series.map(([split, field]) => ({
        data: points(find(message, split, field)),
        borderColor: colours[run],
        borderWidth: 2,
        pointRadius: 0,
        spanGaps: false,
      })),
    );
    const chart = new w.Chart(canvas, {
      type: 'line',
      data: { datasets },
      // Stock: full data, default parsing, no decimation; only animation is off (animating
      // every 10 Hz update would make "an update" last a second).
      options: { animation: false, maintainAspectRatio: false, scales: { x: { type: 'linear' } }, plugins: { legend: { display: false } } },
    });
    return { chart, series };
  });
  await painted();
  const initialMs = performance.now() - start;
  await new Promise((resolve) => setTimeout(resolve, 500));

  const latencies: number[] = [];
  const handlerMs: number[] = [];
  const begin = performance.now() + 50;
  for (let i = 0; i < updates; i++) {
    const wait = begin + i * intervalMs - performance.now();
    if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
    performance.mark(`bench-update-${i}`);
    const t0 = performance.now();
    for (const { chart, series } of instances) {
      (w.__bench.updates[i] ?? []).forEach((message, run) => {
        series.forEach(([split, field], k) => {
          const column = find(message, split, field);
          if (column !== undefined) chart.data.datasets[run * series.length + k]?.data.push(...points(column));
        });
      });
      chart.update();
    }
    handlerMs.push(performance.now() - t0);
    await painted();
    latencies.push(performance.now() - t0);
  }
  performance.mark('bench-end');
  return { initialMs, latencies, handlerMs, engineMs: [], marks: updates };
}

function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] as number;
}

const ms = (value: number): string => (Number.isFinite(value) ? value.toFixed(value < 10 ? 2 : 1) : 'n/a');

/** Pixels of the spike run's colour in a thin strip at the spike's x, upper half of the plot. */
async function spikePixels(page: Page, colour: string, area: { left: number; right: number; top: number; bottom: number; xMin: number; xMax: number }): Promise<number> {
  const x = area.left + ((SPIKE_STEP - area.xMin) / (area.xMax - area.xMin)) * (area.right - area.left);
  const png = await page.screenshot({ clip: { x: x - 3, y: area.top, width: 6, height: (area.bottom - area.top) / 2 } });
  return countColour(page.context(), png, colour);
}

/** A new run panel page in compare mode, with the benchmark's data built in it and its charts started. */
async function openPanel(context: BrowserContext, spec: BenchSpec): Promise<WebviewPage> {
  const html = buildRunPanelHtml({ cspSource: CSP_SOURCE, scriptUri: webviewScriptUri('runPanel'), nonce: createNonce(), title: 'bench' });
  const view = await openWebview(context, html);
  await view.page.waitForFunction(() => (window as unknown as { __posted: unknown[] }).__posted.length > 0);
  const runs: PanelRun[] = Array.from({ length: spec.runs }, (_, i) => ({ runId: `run-${i}`, title: `run ${i}`, summary: { runId: `run-${i}`, status: 'training' } }));
  await view.send(envelope(InitMessage, { title: 'Compare', compare: true, runs }));
  await view.page.evaluate(buildData, spec);
  await view.page.waitForFunction(() => (window.__medvlmRunPanel as Hooks).chartBackend() !== 'pending');
  await view.page.evaluate(() => (window.__medvlmRunPanel as Hooks).whenDrawn());
  return view;
}

async function main(): Promise<void> {
  const spec: BenchSpec = { runs: RUNS, points: POINTS, updates: UPDATES, spike: { ...SPIKE, step: SPIKE_STEP } };
  const harness = await launchChromium();
  try {
    // --- The run panel, as shipped ---------------------------------------------------------
    // Fresh panels for the initial render alone, then one that is also traced through the updates.
    const initialSamples: number[] = [];
    for (let i = 1; i < INITIAL_RUNS; i++) {
      const panel = await openPanel(harness.context, { ...spec, updates: 0 });
      initialSamples.push((await panel.page.evaluate(drivePanel, { intervalMs: UPDATE_INTERVAL_MS, initialOnly: true })).initialMs);
      await panel.page.close();
    }
    const view = await openPanel(harness.context, spec);
    const backend = await view.page.evaluate(() => (window.__medvlmRunPanel as Hooks).chartBackend());
    const cdp = await harness.context.newCDPSession(view.page);
    await startTrace(cdp);
    const ours = await view.page.evaluate(drivePanel, { intervalMs: UPDATE_INTERVAL_MS, initialOnly: false });
    initialSamples.push(ours.initialMs);
    const initialMs = percentile(initialSamples, 50);
    const oursTrace = analyse(await stopTrace(cdp), ours.marks);
    const area = await view.page.evaluate(() => (window.__medvlmRunPanel as Hooks).plotArea('loss'));
    const spikeColour = (await view.page.evaluate(() => (window.__medvlmRunPanel as Hooks).runColours()))[SPIKE.run] ?? '';
    const spike = area === undefined ? 0 : await spikePixels(view.page, spikeColour, area);
    await view.page.screenshot({ path: path.join(repoRoot, 'test-artifacts', 'bench-chart.png') });
    if (view.consoleErrors.length > 0) throw new Error(`the panel logged errors: ${view.consoleErrors.join('; ')}`);
    const rejected = await view.page.evaluate(() => (window.__medvlmRunPanel as Hooks).rejectedMessages());
    if (rejected > 0) throw new Error(`the panel rejected ${rejected} of the benchmark's messages`);
    await cdp.detach();
    await view.page.close();

    // --- Stock Chart.js, same browser, same data ------------------------------------------
    let stock: { timing: Timing; trace: ReturnType<typeof analyse> } | undefined;
    if (WITH_STOCK) {
      const page = (await openWebview(harness.context, '<!DOCTYPE html><html><body style="margin:0;background:#1f1f1f"><main id="app"></main></body></html>')).page;
      await page.evaluate(readFileSync(path.join(repoRoot, 'node_modules/chart.js/dist/chart.umd.js'), 'utf8'));
      await page.evaluate(buildData, { ...spec, updates: STOCK_UPDATES });
      const stockCdp = await harness.context.newCDPSession(page);
      await startTrace(stockCdp);
      const timing = await page.evaluate(driveStock, { intervalMs: UPDATE_INTERVAL_MS, updates: STOCK_UPDATES });
      stock = { timing, trace: analyse(await stopTrace(stockCdp), timing.marks) };
      await stockCdp.detach();
      await page.close();
    }

    const p95Main = percentile(oursTrace.main, 95);
    const stockP95 = stock === undefined ? Number.NaN : percentile(stock.trace.main, 95);
    const speedup = stockP95 / p95Main;
    const rows: Array<[string, string, string]> = [
      [`initial render (to frame painted)${INITIAL_RUNS > 1 ? '*' : ''}`, ms(initialMs), stock ? ms(stock.timing.initialMs) : '-'],
      ['  main-thread time of it', ms(oursTrace.initialMain), stock ? ms(stock.trace.initialMain) : '-'],
      ['update: main-thread time p50', ms(percentile(oursTrace.main, 50)), stock ? ms(percentile(stock.trace.main, 50)) : '-'],
      ['update: main-thread time p95', ms(p95Main), stock ? ms(stockP95) : '-'],
      ['update: page handler p95', ms(percentile(ours.handlerMs, 95)), stock ? ms(percentile(stock.timing.handlerMs, 95)) : '-'],
      ['update: worker time p95', ms(percentile(oursTrace.worker, 95)), '-'],
      ['update: to frame painted p50', ms(percentile(ours.latencies, 50)), stock ? ms(percentile(stock.timing.latencies, 50)) : '-'],
      ['update: to frame painted p95', ms(percentile(ours.latencies, 95)), stock ? ms(percentile(stock.timing.latencies, 95)) : '-'],
    ];
    console.log(`chart benchmark: ${RUNS} runs x ${POINTS.toLocaleString('en-US')} points per series, 9 charts, appended at 10 Hz`);
    console.log(`(run panel: ${UPDATES} updates, charts drawn by the ${backend === 'worker' ? 'worker' : 'page'}; stock: ${WITH_STOCK ? STOCK_UPDATES : 0} updates)`);
    console.log(`${'ms'.padEnd(36)}${'run panel'.padStart(12)}${'stock'.padStart(12)}`);
    for (const [label, a, b] of rows) console.log(`${label.padEnd(36)}${a.padStart(12)}${b.padStart(12)}`);
    console.log(`spike (run ${SPIKE.run}, step ${SPIKE_STEP}): ${spike} px of its colour at its column -> ${spike >= 5 ? 'visible' : 'MISSING'}`);
    if (INITIAL_RUNS > 1) {
      const sorted = [...initialSamples].sort((a, b) => a - b);
      console.log(`* median of ${INITIAL_RUNS} fresh panels (${sorted.map(ms).join(', ')} ms); stock: one`);
    }
    console.log(`initial render: ${ms(initialMs)} ms (goal < ${GOALS.initialMs})`);
    console.log(`p95 update: ${ms(p95Main)} ms (main thread; goal < ${GOALS.p95UpdateMs})`);
    console.log(`speedup vs stock: ${Number.isFinite(speedup) ? speedup.toFixed(1) : 'n/a'}x (goal >= ${GOALS.speedup}x)`);
    if (spike < 5) process.exitCode = 1;
  } finally {
    await harness.close();
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
