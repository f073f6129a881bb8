// The run panel's DOM. All text goes in through textContent: log lines and tracebacks are
// written by the trainer and must never be parsed as HTML.

import { button, el } from '../shared/dom';
import type { HeaderModel } from './format';
import type { ErrorState } from './series';

export interface ViewActions {
  stop(): void;
  openLog(): void;
  revealFolder(): void;
  refreshLog(): void;
}

export class RunPanelView {
  readonly lossCanvas: HTMLCanvasElement;
  readonly lrCanvas: HTMLCanvasElement;
  private readonly title: HTMLElement;
  private readonly status: HTMLElement;
  private readonly stopButton: HTMLElement;
  private readonly stats: HTMLElement;
  private readonly errorBox: HTMLElement;
  private readonly errorTitle: HTMLElement;
  private readonly errorDetail: HTMLElement;
  private readonly traceback: HTMLElement;
  private readonly emptyNote: HTMLElement;
  private readonly log: HTMLElement;

  constructor(root: HTMLElement, actions: ViewActions) {
    const header = el('header', 'header');
    this.title = el('h1', 'title', 'Run');
    this.status = el('span', 'status', 'connecting');
    this.status.setAttribute('role', 'status');
    const buttons = el('div', 'actions');
    this.stopButton = button('Stop', actions.stop, false);
    this.stopButton.setAttribute('disabled', '');
    buttons.append(button('Open log', actions.openLog, true), button('Reveal folder', actions.revealFolder, true), this.stopButton);
    header.append(this.title, this.status, buttons);

    this.stats = el('dl', 'stats');

    this.errorBox = el('section', 'error');
    this.errorBox.hidden = true;
    this.errorBox.setAttribute('role', 'alert');
    this.errorTitle = el('h2');
    this.errorDetail = el('div');
    this.traceback = el('pre', 'traceback');
    this.errorBox.append(this.errorTitle, this.errorDetail, this.traceback);

    const charts = el('div', 'charts');
    const lossBox = el('div', 'chart');
    const lrBox = el('div', 'chart small');
    this.lossCanvas = el('canvas');
    this.lossCanvas.setAttribute('aria-label', 'Train and eval loss by step');
    this.lrCanvas = el('canvas');
    this.lrCanvas.setAttribute('aria-label', 'Learning rate by step');
    lossBox.append(this.lossCanvas);
    lrBox.append(this.lrCanvas);
    this.emptyNote = el('p', 'empty', 'No metrics yet: the trainer logs them once training starts.');
    charts.append(lossBox, lrBox);

    const logHeading = el('h2', 'section', 'Output (stdout.log, tail)');
    logHeading.append(button('Refresh', actions.refreshLog, true));
    this.log = el('pre', 'log', '');

    root.append(header, this.stats, this.errorBox, this.emptyNote, charts, logHeading, this.log);
  }

  setTitle(title: string): void {
    this.title.textContent = title;
    document.title = title;
  }

  renderHeader(model: HeaderModel): void {
    this.status.textContent = model.statusLabel;
    this.status.dataset.status = model.status;
    if (model.terminal) {
      this.stopButton.setAttribute('disabled', '');
    } else {
      this.stopButton.removeAttribute('disabled');
    }
    const rows = model.stats.map((stat) => {
      const row = el('div');
      row.dataset.stat = stat.key;
      row.append(el('dt', undefined, stat.label), el('dd', undefined, stat.value));
      return row;
    });
    this.stats.replaceChildren(...rows);
  }

  /** Shows the trainer's error, or the summary's one-line error when no error event arrived. */
  renderError(error: ErrorState | undefined, summaryError: string | undefined): void {
    const message = error?.message ?? summaryError;
    this.errorBox.hidden = message === undefined;
    if (message === undefined) {
      return;
    }
    this.errorTitle.textContent = `Run failed: ${message}`;
    this.errorDetail.textContent = error?.record !== undefined ? `While processing record ${error.record}.` : '';
    this.traceback.textContent = error?.traceback ?? '';
    this.traceback.hidden = (error?.traceback ?? '') === '';
  }

  setHasMetrics(hasMetrics: boolean): void {
    this.emptyNote.hidden = hasMetrics;
  }

  setLog(text: string): void {
    // Follow the end of the log unless the user scrolled up to read something.
    const atBottom = this.log.scrollHeight - this.log.scrollTop - this.log.clientHeight < 24;
    this.log.textContent = text.length > 0 ? text : '(empty)';
    if (atBottom) {
      this.log.scrollTop = this.log.scrollHeight;
    }
  }
}
