// The run panel page for the browser tests: the shipped bundle under the production CSP,
// fed as the host feeds it, and read back through its test hooks; the events the tests use.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import type { MetricsEvent, RunStartedEvent, TrainerEvent } from '../../src/shared/events';
import { toTrainerEvent } from '../../src/shared/events';
import { envelope } from '../../src/shared/protocol/message';
import type { PanelRun } from '../../src/shared/protocol/runPanel';
import { packEvents } from '../../src/shared/protocol/runPanelPacking';
import {
  EventsMessage,
  InitMessage,
} from '../../src/shared/protocol/runPanel';
import type { RunSummary } from '../../src/shared/runStatus';
import { buildRunPanelHtml } from '../../src/webviews/runPanelHtml';
import { createNonce } from '../../src/webviews/webviewHtml';
import { RunState } from '../../webview/runPanel/runState';
import type { SeriesName, SeriesPoint } from '../../webview/runPanel/series';
import { RunSeriesData } from '../../webview/runPanel/series';
import type { RunPanelTestHooks } from '../../webview/runPanel/testHooks';
import type { WebviewPage } from './browserHarness';
import { CSP_SOURCE, webviewScriptUri } from './browserHarness';
import { repoRoot } from '../unit/testUtil';

export const README_SHOT = path.join(repoRoot, 'media/screenshots/run-panel.png');

export function goldenEvents(): TrainerEvent[] {
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

export function panelHtml(): string {
  return buildRunPanelHtml({ cspSource: CSP_SOURCE, scriptUri: webviewScriptUri('runPanel'), nonce: createNonce(), title: 'Run' });
}

// page.evaluate sends the callback's source to the page, so callbacks reach the hooks
// through `window` (typed by the global the panel declares), not through Node helpers.
export type Hooks = RunPanelTestHooks;

export async function init(view: WebviewPage, runs: readonly PanelRun[], compare = false, title = runs[0]?.title ?? 'Run'): Promise<void> {
  await view.page.waitForFunction(() => (window as unknown as { __posted: unknown[] }).__posted.length > 0);
  await view.send(envelope(InitMessage, { title, compare, runs }));
}

/** What the host does: pack the events into columns and post them. */
export async function sendEvents(view: WebviewPage, runId: string, events: readonly TrainerEvent[], reset: boolean): Promise<void> {
  for (const payload of packEvents(runId, events, reset)) {
    await view.send(envelope(EventsMessage, payload));
  }
}

export async function drawn(view: WebviewPage): Promise<void> {
  await view.page.evaluate(() => (window.__medvlmRunPanel as Hooks).whenDrawn());
}

export async function chartData(view: WebviewPage): Promise<Record<SeriesName, SeriesPoint[]>> {
  await drawn(view);
  return view.page.evaluate(() => (window.__medvlmRunPanel as Hooks).chartData());
}

/** The same reduction the panel makes, in Node: the points each series should draw. */
export function expectedSeries(events: readonly TrainerEvent[]): Record<SeriesName, SeriesPoint[]> {
  const state = new RunState('r');
  const data = new RunSeriesData();
  for (const payload of packEvents('r', events, true)) data.apply(state.apply(payload));
  return data.snapshot();
}

export async function plotShot(view: WebviewPage, chart: 'loss' | 'learningRate' = 'loss', margin = 0): Promise<Buffer> {
  const area = await view.page.evaluate((id) => (window.__medvlmRunPanel as Hooks).plotArea(id), chart);
  assert.ok(area !== undefined, `${chart} has been drawn`);
  return view.page.screenshot({
    clip: { x: area.left - margin, y: area.top - margin, width: area.right - area.left + 2 * margin, height: area.bottom - area.top + 2 * margin },
  });
}

export const metrics = (step: number, split: 'train' | 'eval', values: Record<string, number | null>, t = 1_764_000_000 + step * 4): MetricsEvent => ({
  v: 1,
  t,
  type: 'metrics',
  step,
  epoch: step / 50,
  split,
  values,
});

export const started = (t: number, extra: Partial<RunStartedEvent> = {}): RunStartedEvent => ({
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
export function noisyRun(steps: number): TrainerEvent[] {
  const events: TrainerEvent[] = [started(1_764_000_000)];
  for (let step = 1; step <= steps; step++) {
    const noise = 0.3 * Math.sin(step * 2.3) * Math.cos(step * 0.7);
    events.push(metrics(step, 'train', { loss: 0.5 + 2 * Math.exp(-step / 40) + noise, learning_rate: 1e-4 }));
  }
  return events;
}

export const single = (runId: string, summary: Omit<RunSummary, 'runId'>, title = runId): PanelRun => ({ runId, title, summary: { runId, ...summary } });
