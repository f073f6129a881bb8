// Entry point of the run panel webview (bundled to dist/webview/runPanel.js). It holds no
// state the host cannot resend: on every load it posts `ready` and rebuilds from `init` and
// the replayed events. The page keeps each run's header state; the series live in the chart
// engine (a worker), which gets each batch's columns without a copy.

// Only the component used, not the whole library, to keep the bundle small.
import '@vscode-elements/elements/dist/vscode-button/index.js';
import { Coalescer } from '../../src/shared/coalescer';
import { on } from '../../src/shared/protocol/dispatch';
import type { PanelRun } from '../../src/shared/protocol/runPanel';
import {
  ACTION_MESSAGES,
  actionsFor,
  ConfigDiffMessage,
  EventsMessage,
  InitMessage,
  LogTailMessage,
  ReadyMessage,
  RequestLogTailMessage,
  SummaryMessage,
} from '../../src/shared/protocol/runPanel';
import type { RunSummary } from '../../src/shared/runStatus';
import { STATUS_LABELS, TERMINAL_STATUSES } from '../../src/shared/runStatus';
import { watchTheme } from '../shared/theme';
import { listenToHost, postToHost } from '../shared/vscodeApi';
import { ChartClient } from './chartClient';
import type { ChartId, EngineReport } from './chartProtocol';
import { CaptureMessage, CHARTS, DataMessage, OptionsMessage, RunsMessage, ThemeMessage } from './chartProtocol';
import { readChartTheme } from './chartTheme';
import { headerModel } from './format';
import { RunState } from './runState';
import type { SeriesName } from './series';
import { SERIES_NAMES } from './series';
import { createTestHooks } from './testHooks';
import { RunPanelView } from './view';

/** The header changes every step while training; redrawing it more often than this is waste. */
const HEADER_INTERVAL_MS = 250;
/** Arrays at least this large are transferred to the chart engine; smaller ones are copied. */
const TRANSFER_MIN_BYTES = 64 * 1024;

/** dist/webview/runPanelWorker.js, beside this script. */
function workerUrl(): string | undefined {
  const script = document.currentScript;
  if (!(script instanceof HTMLScriptElement) || script.src === '') return undefined;
  return script.src.replace(/runPanel\.js(\?.*)?$/, 'runPanelWorker.js');
}

function start(): void {
  const root = document.getElementById('app') ?? document.body;
  let runs: readonly PanelRun[] = [];
  let compare = false;
  const states = new Map<string, RunState>();
  const summaries = new Map<string, RunSummary>();
  const seriesSeen = new Set<SeriesName>();
  let theme = readChartTheme();

  const view = new RunPanelView(root, {
    action: (action) => postToHost(ACTION_MESSAGES[action], {}),
    refreshLog: () => postToHost(RequestLogTailMessage, {}),
    options: (options) => client.send(OptionsMessage, { options }),
  });
  const client = new ChartClient(
    view.surfaces,
    (report) => onReport(report),
    (message) => console.error(`run panel charts: ${message}`),
  );
  void client.start(workerUrl(), theme);
  client.send(OptionsMessage, { options: view.options() });

  const primary = (): string | undefined => runs[0]?.runId;

  const renderHeader = (): void => {
    const runId = primary();
    const summary = runId !== undefined ? summaries.get(runId) : undefined;
    const state = runId !== undefined ? states.get(runId) : undefined;
    if (summary === undefined || state === undefined) return;
    if (compare) {
      view.renderRunLegend(
        runs.map((run) => {
          const s = summaries.get(run.runId) ?? run.summary;
          const step = s.step !== undefined && s.maxSteps !== undefined ? ` · step ${s.step}/${s.maxSteps}` : '';
          return { runId: run.runId, title: run.title, status: `${STATUS_LABELS[s.status]}${step}` };
        }),
        theme,
      );
    }
    if (!compare) {
      view.renderHeader(headerModel(summary, state, Date.now() / 1000));
      view.setActions(actionsFor({ status: summary.status, checkpoints: state.checkpoints, loraEnabled: state.loraEnabled, wandb: summary.wandbUrl !== undefined }));
      view.renderError(state.error, summary.status === 'failed' || summary.status === 'lost' ? (summary.error ?? summary.reason) : undefined);
    }
    if (document.body.dataset.runStatus !== summary.status) document.body.dataset.runStatus = summary.status;
  };
  const header = new Coalescer(renderHeader, HEADER_INTERVAL_MS);

  const sendRuns = (): void => {
    client.send(RunsMessage, {
      compare,
      runs: runs.map((run) => ({
        runId: run.runId,
        label: run.title,
        live: !TERMINAL_STATUSES.has(summaries.get(run.runId)?.status ?? run.summary.status),
      })),
    });
  };

  const onReport = (report: EngineReport): void => {
    // The counts mirror the drawn points (e2e tests wait on them, then read chartData()).
    const runId = primary();
    const counts = runId !== undefined ? report.counts[runId] : undefined;
    for (const name of SERIES_NAMES) {
      const value = String(counts?.[name] ?? 0);
      const key = `${name}Points`;
      if (document.body.dataset[key] !== value) document.body.dataset[key] = value;
    }
  };

  const showChartsWithData = (): void => {
    const ids = new Set<ChartId>(CHARTS.filter((c) => c.series.some((s) => seriesSeen.has(s))).map((c) => c.id));
    for (const surface of view.showCharts(ids)) client.refresh(surface);
  };

  const stats = listenToHost([
    on(InitMessage, (init) => {
      runs = init.runs;
      compare = init.compare;
      states.clear();
      summaries.clear();
      for (const run of runs) {
        states.set(run.runId, new RunState(run.runId));
        summaries.set(run.runId, run.summary);
      }
      view.setTitle(init.title);
      view.setCompare(compare);
      view.renderChartLegends(theme, compare);
      sendRuns();
      header.flushNow();
    }),
    on(EventsMessage, (payload) => {
      const state = states.get(payload.runId);
      if (state === undefined) return;
      const delta = state.apply(payload);
      let newSeries = false;
      for (const column of delta.columns) {
        if (column.step.length > 0 && !seriesSeen.has(column.series)) {
          seriesSeen.add(column.series);
          newSeries = true;
        }
      }
      if (newSeries) showChartsWithData();
      // Large arrays (a backlog) go to the engine without a copy, shared step/epoch/t arrays
      // once each; a live step's one-point arrays are copied, which costs less than moving
      // dozens of tiny buffers between threads.
      const buffers = new Set<ArrayBuffer>();
      for (const column of delta.columns) {
        for (const array of [column.step, column.epoch, column.t, column.y]) {
          if (array.buffer instanceof ArrayBuffer && array.buffer.byteLength >= TRANSFER_MIN_BYTES) buffers.add(array.buffer);
        }
      }
      client.send(DataMessage, { delta }, [...buffers]);
      header.request();
    }),
    on(SummaryMessage, (next) => {
      const previous = summaries.get(next.runId);
      if (previous === undefined) return;
      summaries.set(next.runId, next);
      if (TERMINAL_STATUSES.has(previous.status) !== TERMINAL_STATUSES.has(next.status)) sendRuns();
      header.flushNow();
    }),
    on(LogTailMessage, ({ text }) => view.setLog(text)),
    on(ConfigDiffMessage, (diff) => view.renderConfigDiff(diff, new Map(runs.map((run) => [run.runId, run.title])), theme)),
  ]);

  watchTheme(() => {
    theme = readChartTheme();
    client.send(ThemeMessage, { theme });
    view.renderChartLegends(theme, compare);
    header.flushNow();
  });

  window.__medvlmRunPanel = createTestHooks({
    client,
    view,
    theme: () => theme,
    primary,
    rejected: () => stats.rejected,
    capture: async () => {
      client.send(CaptureMessage, {});
      await client.whenDrawn(true);
    },
  });

  // Elapsed time and ETA move between events.
  setInterval(() => header.flushNow(), 1000);
  postToHost(ReadyMessage, {});
}

start();
