// The run panel's DOM. All text goes in through textContent: log lines, tracebacks and config
// values are written by the trainer or the user and must never be parsed as HTML.

import type { ConfigDiffPayload, RunAction } from '../../src/shared/protocol/runPanel';
import { RUN_ACTIONS } from '../../src/shared/protocol/runPanel';
import { button, el } from '../shared/dom';
import type { ChartSurface } from './chartClient';
import type { ChartId, ChartOptions, ChartTheme } from './chartProtocol';
import { CHARTS } from './chartProtocol';
import type { HeaderModel } from './format';
import { classifyLog } from './logTail';
import type { ErrorState } from './runState';
import type { SeriesName, XAxisMode } from './series';
import { SERIES } from './series';
import { MAX_SMOOTHING } from './smoothing';

export interface ViewHandlers {
  action(action: RunAction): void;
  refreshLog(): void;
  options(options: ChartOptions): void;
}

const ACTION_LABELS: Readonly<Record<RunAction, string>> = {
  stop: 'Stop',
  resume: 'Resume',
  restart: 'Restart with edited config…',
  merge: 'Merge LoRA',
  openLog: 'Open log',
  revealFolder: 'Reveal folder',
  openWandb: 'W&B run',
  delete: 'Delete…',
};
/** The primary action of a state gets the filled button; the rest are secondary. */
const PRIMARY: ReadonlySet<RunAction> = new Set(['stop', 'resume']);

const X_AXIS_LABELS: Readonly<Record<XAxisMode, string>> = { step: 'Step', epoch: 'Epoch', wall: 'Wall time' };

export interface LegendRun {
  readonly runId: string;
  readonly title: string;
  readonly status: string;
}

interface ChartBox extends ChartSurface {
  readonly legend: HTMLElement;
}

export class RunPanelView {
  readonly surfaces: readonly ChartBox[];
  private readonly title: HTMLElement;
  private readonly status: HTMLElement;
  private readonly actionButtons = new Map<RunAction, HTMLElement>();
  private readonly actionsBox: HTMLElement;
  private readonly stats: HTMLElement;
  private readonly errorBox: HTMLElement;
  private readonly errorTitle: HTMLElement;
  private readonly errorDetail: HTMLElement;
  private readonly traceback: HTMLElement;
  private readonly emptyNote: HTMLElement;
  private readonly runLegend: HTMLElement;
  private readonly smoothing: HTMLInputElement;
  private readonly smoothingValue: HTMLElement;
  private readonly logScale: HTMLInputElement;
  private readonly xAxis: HTMLSelectElement;
  private readonly diffSection: HTMLElement;
  private readonly logSection: HTMLElement;
  private readonly log: HTMLElement;
  private lastLog: string | undefined;

  constructor(root: HTMLElement, handlers: ViewHandlers) {
    const header = el('header', 'header');
    this.title = el('h1', 'title', 'Run');
    this.status = el('span', 'status', 'connecting');
    this.status.setAttribute('role', 'status');
    this.actionsBox = el('div', 'actions');
    for (const action of RUN_ACTIONS) {
      const node = button(ACTION_LABELS[action], () => handlers.action(action), !PRIMARY.has(action));
      node.dataset.action = action;
      node.hidden = true;
      this.actionButtons.set(action, node);
      this.actionsBox.append(node);
    }
    header.append(this.title, this.status, this.actionsBox);

    this.stats = el('dl', 'stats');

    this.errorBox = el('section', 'error');
    this.errorBox.hidden = true;
    this.errorBox.setAttribute('role', 'alert');
    this.errorTitle = el('h2');
    this.errorDetail = el('div');
    this.traceback = el('pre', 'traceback');
    this.errorBox.append(this.errorTitle, this.errorDetail, this.traceback);

    const toolbar = el('div', 'toolbar');
    toolbar.setAttribute('role', 'toolbar');
    const smoothingLabel = el('label', 'control', 'Smoothing');
    this.smoothing = el('input');
    Object.assign(this.smoothing, { type: 'range', min: '0', max: String(MAX_SMOOTHING), step: '0.001', value: '0' });
    this.smoothing.setAttribute('aria-label', 'Smoothing');
    this.smoothingValue = el('output', 'value', '0');
    smoothingLabel.append(this.smoothing, this.smoothingValue);
    const logLabel = el('label', 'control');
    this.logScale = el('input');
    this.logScale.type = 'checkbox';
    logLabel.append(this.logScale, document.createTextNode('Log scale'));
    const axisLabel = el('label', 'control', 'X axis');
    this.xAxis = el('select');
    for (const [mode, label] of Object.entries(X_AXIS_LABELS)) {
      const option = el('option', undefined, label);
      option.value = mode;
      this.xAxis.append(option);
    }
    axisLabel.append(this.xAxis);
    toolbar.append(smoothingLabel, logLabel, axisLabel);
    const changed = (): void => {
      this.smoothingValue.textContent = Number(this.smoothing.value).toFixed(3).replace(/\.?0+$/, '') || '0';
      handlers.options(this.options());
    };
    this.smoothing.addEventListener('input', changed);
    this.logScale.addEventListener('change', changed);
    this.xAxis.addEventListener('change', changed);

    this.runLegend = el('ul', 'run-legend');
    this.runLegend.hidden = true;

    this.emptyNote = el('p', 'empty', 'No metrics yet: the trainer logs them once training starts.');
    const charts = el('div', 'charts');
    this.surfaces = CHARTS.map((definition) => {
      const box = el('section', definition.tall === true ? 'chart-box tall' : 'chart-box');
      box.dataset.chart = definition.id;
      // The loss chart is always there (an empty plot says "no loss yet"); the others appear
      // when their metric does.
      box.hidden = definition.id !== 'loss';
      const head = el('div', 'chart-head');
      const legend = el('span', 'chart-legend');
      head.append(el('h3', undefined, definition.title), legend);
      const holder = el('div', 'chart-holder');
      const canvas = el('canvas');
      canvas.setAttribute('role', 'img');
      canvas.setAttribute('aria-label', `${definition.title} by step`);
      holder.append(canvas);
      box.append(head, holder);
      charts.append(box);
      return { id: definition.id, box, holder, canvas, legend };
    });

    this.diffSection = el('section', 'config-diff');
    this.diffSection.hidden = true;

    this.logSection = el('section', 'log-section');
    const logHeading = el('h2', 'section', 'Output (stdout.log, tail)');
    logHeading.append(button('Refresh', handlers.refreshLog, true));
    this.log = el('pre', 'log', '');
    this.logSection.append(logHeading, this.log);

    root.append(header, this.stats, this.errorBox, toolbar, this.runLegend, this.emptyNote, charts, this.diffSection, this.logSection);
  }

  options(): ChartOptions {
    return {
      smoothing: Math.min(MAX_SMOOTHING, Math.max(0, Number(this.smoothing.value) || 0)),
      logScale: this.logScale.checked,
      xAxis: this.xAxis.value as XAxisMode,
    };
  }

  setTitle(title: string): void {
    this.title.textContent = title;
    document.title = title;
  }

  /** Compare mode: a run legend above the charts, the differences below, no log or actions. */
  setCompare(compare: boolean): void {
    this.runLegend.hidden = !compare;
    this.logSection.hidden = compare;
    this.actionsBox.hidden = compare;
    // One run's status and stats would misread as the comparison's; the legend has each run's.
    this.status.hidden = compare;
    this.stats.hidden = compare;
    this.diffSection.hidden = !compare;
    document.body.classList.toggle('compare', compare);
  }

  renderRunLegend(runs: readonly LegendRun[], theme: ChartTheme): void {
    const key = JSON.stringify([runs.map((run) => [run.runId, run.title]), theme.runs]);
    if (this.runLegend.dataset.key !== key) {
      // Rebuilt when the runs or colours change; otherwise only the statuses are rewritten.
      this.runLegend.dataset.key = key;
      this.runLegend.replaceChildren(
        ...runs.map((run, i) => {
          const item = el('li');
          item.dataset.runId = run.runId;
          const swatch = el('span', 'swatch');
          swatch.style.background = theme.runs[i % theme.runs.length] ?? theme.foreground;
          item.append(swatch, el('span', 'run-title', run.title), el('span', 'run-status', ''));
          return item;
        }),
        el('li', 'legend-note', 'train solid, eval dashed'),
      );
    }
    runs.forEach((run, i) => {
      const status = this.runLegend.children[i]?.querySelector('.run-status');
      if (status !== null && status !== undefined && status.textContent !== run.status) status.textContent = run.status;
    });
  }

  /** Single mode: each chart names its series in their colours. */
  renderChartLegends(theme: ChartTheme, compare: boolean): void {
    for (const surface of this.surfaces) {
      const definition = CHARTS.find((c) => c.id === surface.id);
      if (definition === undefined || compare) {
        surface.legend.replaceChildren();
        continue;
      }
      surface.legend.replaceChildren(
        ...definition.series.map((series: SeriesName) => {
          const chip = el('span', 'chip');
          const swatch = el('span', 'swatch');
          swatch.style.background = theme.series[series];
          chip.append(swatch, document.createTextNode(SERIES[series].label));
          return chip;
        }),
      );
    }
  }

  /** Shows the boxes of charts that have data; returns the ones that just appeared. */
  showCharts(ids: ReadonlySet<ChartId>): ChartSurface[] {
    const shown: ChartSurface[] = [];
    for (const surface of this.surfaces) {
      if (surface.box.hidden && ids.has(surface.id)) {
        surface.box.hidden = false;
        shown.push(surface);
      }
    }
    this.emptyNote.hidden = ids.size > 0;
    return shown;
  }

  renderHeader(model: HeaderModel): void {
    if (this.status.textContent !== model.statusLabel) this.status.textContent = model.statusLabel;
    if (this.status.dataset.status !== model.status) this.status.dataset.status = model.status;
    // The header is redrawn several times a second while a run trains: only changed text is
    // written, so the page lays out and paints as little as possible.
    const rows = [...this.stats.children] as HTMLElement[];
    const sameKeys = rows.length === model.stats.length && rows.every((row, i) => row.dataset.stat === model.stats[i]?.key);
    if (!sameKeys) {
      this.stats.replaceChildren(
        ...model.stats.map((stat) => {
          const row = el('div');
          row.dataset.stat = stat.key;
          row.append(el('dt', undefined, stat.label), el('dd', undefined, stat.value));
          return row;
        }),
      );
      return;
    }
    model.stats.forEach((stat, i) => {
      const row = rows[i];
      const dt = row?.firstElementChild;
      const dd = row?.lastElementChild;
      if (dt && dt.textContent !== stat.label) dt.textContent = stat.label;
      if (dd && dd.textContent !== stat.value) dd.textContent = stat.value;
    });
  }

  setActions(actions: readonly RunAction[]): void {
    for (const [action, node] of this.actionButtons) {
      const hidden = !actions.includes(action);
      if (node.hidden !== hidden) node.hidden = hidden;
    }
  }

  /** Shows the trainer's error, or the summary's one-line reason when no error event arrived. */
  renderError(error: ErrorState | undefined, summaryError: string | undefined): void {
    const message = error?.message ?? summaryError;
    const hidden = message === undefined;
    if (this.errorBox.hidden !== hidden) this.errorBox.hidden = hidden;
    if (message === undefined) {
      return;
    }
    const title = `Run failed: ${message}`;
    const detail = error?.record !== undefined ? `While processing record ${error.record}.` : '';
    const traceback = error?.traceback ?? '';
    if (this.errorTitle.textContent !== title) this.errorTitle.textContent = title;
    if (this.errorDetail.textContent !== detail) this.errorDetail.textContent = detail;
    if (this.traceback.textContent !== traceback) this.traceback.textContent = traceback;
    this.traceback.hidden = traceback === '';
  }

  renderConfigDiff(diff: ConfigDiffPayload, titles: ReadonlyMap<string, string>, theme: ChartTheme): void {
    const heading = el('h2', 'section', 'Config differences');
    const children: HTMLElement[] = [heading];
    if (diff.missing.length > 0) {
      children.push(el('p', 'note', `Not compared (no readable config): ${diff.missing.map((id) => titles.get(id) ?? id).join(', ')}`));
    }
    if (diff.rows.length === 0) {
      children.push(el('p', 'empty', 'The runs have the same config.'));
    } else {
      const table = el('table', 'diff');
      const head = el('tr');
      head.append(el('th', undefined, 'Setting'));
      diff.runIds.forEach((runId, i) => {
        const th = el('th');
        const swatch = el('span', 'swatch');
        swatch.style.background = theme.runs[i % theme.runs.length] ?? theme.foreground;
        th.append(swatch, document.createTextNode(titles.get(runId) ?? runId));
        head.append(th);
      });
      const thead = el('thead');
      thead.append(head);
      const body = el('tbody');
      for (const row of diff.rows) {
        const tr = el('tr');
        tr.dataset.path = row.path;
        tr.append(el('td', 'path', row.path));
        for (const value of row.values) {
          tr.append(value === null ? el('td', 'absent', '—') : el('td', undefined, value));
        }
        body.append(tr);
      }
      table.append(thead, body);
      children.push(table);
      if (diff.truncated) {
        children.push(el('p', 'note', `Only the first ${diff.rows.length} differences are listed.`));
      }
    }
    this.diffSection.replaceChildren(...children);
  }

  setLog(text: string): void {
    if (text === this.lastLog) {
      return;
    }
    this.lastLog = text;
    // Follow the end of the log unless the user scrolled up to read something.
    const atBottom = this.log.scrollHeight - this.log.scrollTop - this.log.clientHeight < 24;
    if (text.length === 0) {
      this.log.textContent = '(empty)';
    } else {
      this.log.replaceChildren(
        ...classifyLog(text).map((segment) => (segment.error ? el('span', 'log-error', segment.text) : document.createTextNode(segment.text))),
      );
    }
    if (atBottom) {
      this.log.scrollTop = this.log.scrollHeight;
    }
  }
}
