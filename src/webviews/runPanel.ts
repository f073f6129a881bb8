// Host side of the run panel: one webview panel per run, fed from a RunPanelSource. The
// webview is stateless across reloads (retainContextWhenHidden is off to save memory), so it
// posts `ready` whenever it (re)loads and the host answers with the full state, then streams.

import * as vscode from 'vscode';
import type { TrainerEvent } from '../shared/events';
import type { Envelope, MessageType } from '../shared/protocol/message';
import { envelope } from '../shared/protocol/message';
import {
  chunkEvents,
  clampLogTail,
  EventsMessage,
  InitMessage,
  LogTailMessage,
  MAX_LOG_TAIL_CHARS,
  SummaryMessage,
} from '../shared/protocol/runPanel';
import type { RunSummary } from '../shared/runStatus';
import { TERMINAL_STATUSES } from '../shared/runStatus';
import { buildRunPanelHtml } from './runPanelHtml';
import { createNonce } from './webviewHtml';
import { Coalescer, createHostRouter } from './runPanelRouting';
import type { RunPanelSource } from './runPanelSource';

/** Where a run's files are, when the source knows (a local run, or a synced remote one). */
export interface RunPanelLocations {
  /** The run directory; `stdout.log` inside it is what "Open log" opens. */
  readonly runDir?: vscode.Uri;
}

export interface RunPanelOptions {
  /** Where rejected webview messages and host errors are logged. */
  readonly log?: (line: string) => void;
}

export const RUN_PANEL_VIEW_TYPE = 'medvlm.runPanel';
/** At most ~10 host->webview messages per second, whatever the event rate. */
const FLUSH_INTERVAL_MS = 200;
const LOG_REFRESH_MS = 3000;
const LOG_TAIL_BYTES = 64 * 1024;

export class RunPanel {
  private static readonly open = new Map<string, RunPanel>();

  /** Opens the panel for `source.runId`, or reveals it when it is already open. */
  static show(
    extensionUri: vscode.Uri,
    source: RunPanelSource & RunPanelLocations,
    options: RunPanelOptions = {},
  ): RunPanel {
    const existing = RunPanel.open.get(source.runId);
    if (existing !== undefined) {
      existing.panel.reveal();
      return existing;
    }
    const panel = vscode.window.createWebviewPanel(
      RUN_PANEL_VIEW_TYPE,
      `Run: ${source.title}`,
      vscode.ViewColumn.Active,
      {
        enableScripts: true,
        retainContextWhenHidden: false,
        localResourceRoots: [
          vscode.Uri.joinPath(extensionUri, 'dist', 'webview'),
          vscode.Uri.joinPath(extensionUri, 'media'),
        ],
      },
    );
    const created = new RunPanel(panel, extensionUri, source, options.log ?? ((line) => console.warn(line)));
    RunPanel.open.set(source.runId, created);
    return created;
  }

  /** Messages the webview posted that failed validation, for diagnostics and tests. */
  get rejectedMessages(): number {
    return this.router.stats.rejected;
  }

  private readonly disposables: vscode.Disposable[] = [];
  private readonly router: ReturnType<typeof createHostRouter>;
  private readonly coalescer = new Coalescer(() => this.flush(), FLUSH_INTERVAL_MS);
  private events: TrainerEvent[] = [];
  /** How many of `events` the current webview instance has been sent. */
  private sentEvents = 0;
  private summary: RunSummary;
  private summaryDirty = false;
  private webviewReady = false;
  private lastLogTail: string | undefined;
  private logTimer: ReturnType<typeof setInterval> | undefined;
  private disposed = false;

  private constructor(
    private readonly panel: vscode.WebviewPanel,
    private readonly extensionUri: vscode.Uri,
    private readonly source: RunPanelSource & RunPanelLocations,
    private readonly log: (line: string) => void,
  ) {
    this.summary = { runId: source.runId, status: 'queued' };
    this.router = createHostRouter(
      {
        ready: () => this.onReady(),
        stop: () => void this.onStop(),
        openLog: () => void this.onOpenLog(),
        revealFolder: () => void this.onRevealFolder(),
        requestLogTail: () => void this.refreshLogTail(),
      },
      log,
    );
    this.disposables.push(
      panel.webview.onDidReceiveMessage((data: unknown) => this.router.receive(data)),
      panel.onDidDispose(() => this.dispose()),
      panel.onDidChangeViewState(() => {
        // A hidden panel's webview is destroyed; it posts `ready` again when shown.
        if (!panel.visible) {
          this.webviewReady = false;
          this.stopLogTimer();
        }
      }),
    );
    // Subscribe before the webview loads so events are buffered by the time it is ready.
    this.disposables.push(
      source.subscribe(
        (batch) => {
          this.events.push(...batch);
          this.coalescer.request();
        },
        (summary) => {
          const wasTerminal = TERMINAL_STATUSES.has(this.summary.status);
          this.summary = summary;
          this.summaryDirty = true;
          this.coalescer.request();
          if (!wasTerminal && TERMINAL_STATUSES.has(summary.status)) {
            // The last lines of a finished run are the interesting ones; fetch them once more.
            this.stopLogTimer();
            void this.refreshLogTail();
          }
        },
      ),
    );
    this.render();
  }

  private render(): void {
    const webview = this.panel.webview;
    const scriptUri = webview.asWebviewUri(vscode.Uri.joinPath(this.extensionUri, 'dist', 'webview', 'runPanel.js'));
    this.webviewReady = false;
    webview.html = buildRunPanelHtml({
      cspSource: webview.cspSource,
      scriptUri: scriptUri.toString(),
      nonce: createNonce(),
      title: `Run ${this.source.title}`,
    });
  }

  private onReady(): void {
    this.webviewReady = true;
    this.sentEvents = 0;
    this.lastLogTail = undefined;
    this.post(InitMessage, { runId: this.source.runId, title: this.source.title, summary: this.summary });
    this.summaryDirty = false;
    this.sendNewEvents(true);
    void this.refreshLogTail();
    this.startLogTimer();
  }

  private flush(): void {
    if (!this.webviewReady) {
      return;
    }
    this.sendNewEvents(false);
    if (this.summaryDirty) {
      this.summaryDirty = false;
      this.post(SummaryMessage, this.summary);
    }
  }

  private sendNewEvents(reset: boolean): void {
    const fresh = this.events.slice(this.sentEvents);
    this.sentEvents = this.events.length;
    for (const payload of chunkEvents(fresh, reset)) {
      this.post(EventsMessage, payload);
    }
  }

  private startLogTimer(): void {
    this.stopLogTimer();
    if (TERMINAL_STATUSES.has(this.summary.status)) {
      return;
    }
    this.logTimer = setInterval(() => {
      if (TERMINAL_STATUSES.has(this.summary.status)) {
        this.stopLogTimer();
      }
      void this.refreshLogTail();
    }, LOG_REFRESH_MS);
  }

  private stopLogTimer(): void {
    if (this.logTimer !== undefined) {
      clearInterval(this.logTimer);
      this.logTimer = undefined;
    }
  }

  private async refreshLogTail(): Promise<void> {
    if (!this.webviewReady) {
      return;
    }
    let text: string;
    try {
      text = clampLogTail(await this.source.readLogTail(LOG_TAIL_BYTES));
    } catch (err) {
      // A missing stdout.log is normal before the process starts; say so in the panel.
      text = `(no log yet: ${err instanceof Error ? err.message : String(err)})`;
    }
    if (text !== this.lastLogTail && this.webviewReady && !this.disposed) {
      this.lastLogTail = text;
      this.post(LogTailMessage, { text });
    }
  }

  private async onStop(): Promise<void> {
    if (TERMINAL_STATUSES.has(this.summary.status)) {
      void vscode.window.showInformationMessage(`Run ${this.source.title} is already ${this.summary.status}.`);
      return;
    }
    const choice = await vscode.window.showWarningMessage(
      `Stop run ${this.source.title}?`,
      { modal: true, detail: 'The trainer is stopped; checkpoints already saved are kept.' },
      'Stop run',
    );
    if (choice !== 'Stop run') {
      return;
    }
    try {
      await this.source.stop();
    } catch (err) {
      const message = err instanceof Error ? err.message : String(err);
      this.log(`run panel: stopping ${this.source.runId} failed: ${message}`);
      void vscode.window.showErrorMessage(`Could not stop run ${this.source.title}: ${message}`);
    }
  }

  private async onOpenLog(): Promise<void> {
    const runDir = this.source.runDir;
    try {
      if (runDir !== undefined) {
        await vscode.window.showTextDocument(vscode.Uri.joinPath(runDir, 'stdout.log'), { preview: true });
        return;
      }
      // Without a local path (e.g. a remote run), show what we can read: the tail.
      const content = await this.source.readLogTail(MAX_LOG_TAIL_CHARS);
      const doc = await vscode.workspace.openTextDocument({ content, language: 'log' });
      await vscode.window.showTextDocument(doc, { preview: true });
    } catch (err) {
      void vscode.window.showErrorMessage(`Could not open the log: ${err instanceof Error ? err.message : String(err)}`);
    }
  }

  private async onRevealFolder(): Promise<void> {
    const runDir = this.source.runDir;
    if (runDir === undefined || runDir.scheme !== 'file') {
      void vscode.window.showInformationMessage(`The folder of run ${this.source.title} is not on this machine.`);
      return;
    }
    await vscode.commands.executeCommand('revealFileInOS', runDir);
  }

  private post<T>(message: MessageType<T>, payload: T): void {
    const data: Envelope<T> = envelope(message, payload);
    // postMessage fails while the webview is being torn down; the next `ready` resends all.
    this.panel.webview.postMessage(data).then(undefined, (err: unknown) => this.log(`run panel: post failed: ${String(err)}`));
  }

  private dispose(): void {
    if (this.disposed) {
      return;
    }
    this.disposed = true;
    RunPanel.open.delete(this.source.runId);
    this.coalescer.dispose();
    this.stopLogTimer();
    for (const disposable of this.disposables.splice(0)) {
      disposable.dispose();
    }
  }
}
