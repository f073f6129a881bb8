// Entry point of the run panel webview (bundled to dist/webview/runPanel.js). It holds no
// state the host cannot resend: on every load it posts `ready` and rebuilds from `init` and
// the replayed events.

// Only the component used, not the whole library, to keep the bundle small.
import '@vscode-elements/elements/dist/vscode-button/index.js';
import { on } from '../../src/shared/protocol/dispatch';
import {
  EventsMessage,
  InitMessage,
  LogTailMessage,
  OpenLogMessage,
  ReadyMessage,
  RequestLogTailMessage,
  RevealFolderMessage,
  StopMessage,
  SummaryMessage,
} from '../../src/shared/protocol/runPanel';
import type { RunSummary } from '../../src/shared/runStatus';
import { watchTheme } from '../shared/theme';
import { listenToHost, postToHost } from '../shared/vscodeApi';
import { readChartTheme, RunCharts } from './charts';
import { headerModel } from './format';
import { RunSeries, SERIES_NAMES } from './series';
import type { RunPanelTestHooks } from './testHooks';
import { RunPanelView } from './view';

function start(): void {
  const root = document.getElementById('app') ?? document.body;
  const series = new RunSeries();
  let summary: RunSummary | undefined;
  let renderQueued = false;

  const view = new RunPanelView(root, {
    stop: () => postToHost(StopMessage, {}),
    openLog: () => postToHost(OpenLogMessage, {}),
    revealFolder: () => postToHost(RevealFolderMessage, {}),
    refreshLog: () => postToHost(RequestLogTailMessage, {}),
  });
  const charts = new RunCharts(view.lossCanvas, view.lrCanvas, readChartTheme());
  watchTheme(() => charts.setTheme(readChartTheme()));

  const renderHeader = (): void => {
    if (summary !== undefined) {
      view.renderHeader(headerModel(summary, series, Date.now() / 1000));
      document.body.dataset.runStatus = summary.status;
    }
  };

  // Coalesce bursts (a replayed backlog arrives as several messages) into one redraw per frame.
  const render = (): void => {
    if (renderQueued) {
      return;
    }
    renderQueued = true;
    requestAnimationFrame(() => {
      renderQueued = false;
      charts.update(series);
      const hasMetrics = SERIES_NAMES.some((name) => series.series(name).length > 0);
      view.setHasMetrics(hasMetrics);
      view.renderError(series.error, summary?.status === 'failed' ? summary.error : undefined);
      renderHeader();
      for (const name of SERIES_NAMES) {
        document.body.dataset[`${name}Points`] = String(series.series(name).length);
      }
    });
  };

  const stats = listenToHost([
    on(InitMessage, (init) => {
      summary = init.summary;
      view.setTitle(init.title);
      render();
    }),
    on(EventsMessage, ({ events, reset }) => {
      series.apply(events, reset);
      render();
    }),
    on(SummaryMessage, (next) => {
      summary = next;
      render();
    }),
    on(LogTailMessage, ({ text }) => view.setLog(text)),
  ]);

  const testHooks: RunPanelTestHooks = {
    chartData: () => charts.chartData(),
    lossPlotArea: () => charts.lossPlotArea(),
    seriesColours: () => charts.colours(),
    rejectedMessages: () => stats.rejected,
  };
  window.__medvlmRunPanel = testHooks;

  // Elapsed time and ETA move between events.
  setInterval(renderHeader, 1000);
  postToHost(ReadyMessage, {});
}

start();
