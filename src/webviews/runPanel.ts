// Host side of the run panel: one webview panel per run, or one overlaying several runs
// (compare mode), fed from RunPanelSources. The webview is stateless across reloads
// (retainContextWhenHidden is off to save memory), so it posts `ready` whenever it (re)loads
// and the host answers with the full state, then streams.

import * as vscode from 'vscode';
import { diffConfigs, formatConfigValue } from '../core/configDiff';
import { Coalescer } from '../shared/coalescer';
import type { TrainerEvent } from '../shared/events';
import type { Envelope, MessageType } from '../shared/protocol/message';
import { envelope } from '../shared/protocol/message';
import type { ConfigDiffPayload, RunAction } from '../shared/protocol/runPanel';
import { packEvents } from '../shared/protocol/runPanelPacking';
import {
  clampLogTail,
  ConfigDiffMessage,
  EventsMessage,
  InitMessage,
  LogTailMessage,
  MAX_DIFF_PATH_LENGTH,
  MAX_DIFF_ROWS,
  MAX_DIFF_VALUE_LENGTH,
  SummaryMessage,
} from '../shared/protocol/runPanel';
import type { RunSummary } from '../shared/runStatus';
import { TERMINAL_STATUSES } from '../shared/runStatus';
import { buildRunPanelHtml } from './runPanelHtml';
import { createNonce } from './webviewHtml';
import { ACTION_COMMANDS, createHostRouter } from './runPanelRouting';
import type { RunPanelSource } from './runPanelSource';

/** Where a run's files are, when the source knows (a local run, or a synced remote one). */
export interface RunPanelLocations {
  readonly runDir?: vscode.Uri;
}

/** A run in a compare panel: its config snapshot is compared with the others'. */
export interface CompareSource extends RunPanelSource {
  /** The run's config snapshot, or undefined when it cannot be read. */
  readConfig(): Promise<unknown>;
}

export interface RunPanelOptions {
  /** Where rejected webview messages and host errors are logged. */
  readonly log?: (line: string) => void;
}

export const RUN_PANEL_VIEW_TYPE = 'medvlm.runPanel';
/** Compare panels are another view type, so "is this run's panel visible" never means them. */
export const RUN_COMPARE_VIEW_TYPE = 'medvlm.runCompare';
/** At most ~5 host->webview flushes per second, whatever the event rate. */
const FLUSH_INTERVAL_MS = 200;
const LOG_REFRESH_MS = 3000;
const LOG_TAIL_BYTES = 64 * 1024;

interface PanelRun {
  readonly source: RunPanelSource | CompareSource;
  readonly events: TrainerEvent[];
  /** How many of `events` the current webview instance has been sent. */
  sent: number;
  summary: RunSummary;
  summaryDirty: boolean;
  /** The config of the latest run_started, for compare mode's differences. */
  startedConfig: Record<string, unknown> | undefined;
  snapshot: Promise<unknown> | undefined;
}

export class RunPanel {
  private static readonly open = new Map<string, RunPanel>();

  /** Opens the panel for `source.runId`, or reveals it when it is already open. */
  static show(extensionUri: vscode.Uri, source: RunPanelSource, options: RunPanelOptions = {}): RunPanel {
    return RunPanel.reveal(`run:${source.runId}`) ?? RunPanel.create(extensionUri, [source], false, `Run: ${source.title}`, options);
  }

  /** Opens (or reveals) a panel overlaying the runs, with their config differences. */
  static showCompare(extensionUri: vscode.Uri, sources: readonly CompareSource[], options: RunPanelOptions = {}): RunPanel {
    const key = `compare:${sources.map((s) => s.runId).join('\u0000')}`;
    return (
      RunPanel.reveal(key) ??
      RunPanel.create(extensionUri, sources, true, `Compare: ${sources.map((s) => s.title).join(', ')}`, options, key)
    );
  }

  private static reveal(key: string): RunPanel | undefined {
    const existing = RunPanel.open.get(key);
    existing?.panel.reveal();
    return existing;
  }

  private static create(
    extensionUri: vscode.Uri,
    sources: readonly (RunPanelSource | CompareSource)[],
    compare: boolean,
    title: string,
    options: RunPanelOptions,
    key = `run:${sources[0]?.runId ?? ''}`,
  ): RunPanel {
    const panel = vscode.window.createWebviewPanel(compare ? RUN_COMPARE_VIEW_TYPE : RUN_PANEL_VIEW_TYPE, title, vscode.ViewColumn.Active, {
      enableScripts: true,
      retainContextWhenHidden: false,
      localResourceRoots: [vscode.Uri.joinPath(extensionUri, 'dist', 'webview'), vscode.Uri.joinPath(extensionUri, 'media')],
    });
    const created = new RunPanel(panel, extensionUri, key, sources, compare, title, options.log ?? ((line) => console.warn(line)));
    RunPanel.open.set(key, created);
    return created;
  }

  /** Messages the webview posted that failed validation, for diagnostics and tests. */
  get rejectedMessages(): number {
    return this.router.stats.rejected;
  }

  private readonly disposables: vscode.Disposable[] = [];
  private readonly router: ReturnType<typeof createHostRouter>;
  private readonly coalescer = new Coalescer(() => this.flush(), FLUSH_INTERVAL_MS);
  private readonly runs: PanelRun[];
  private webviewReady = false;
  private lastLogTail: string | undefined;
  private logTimer: ReturnType<typeof setInterval> | undefined;
  private diffDirty = false;
  private disposed = false;

  private constructor(
    private readonly panel: vscode.WebviewPanel,
    private readonly extensionUri: vscode.Uri,
    private readonly key: string,
    sources: readonly (RunPanelSource | CompareSource)[],
    private readonly compare: boolean,
    private readonly title: string,
    private readonly log: (line: string) => void,
  ) {
    this.runs = sources.map((source) => ({
      source,
      events: [],
      sent: 0,
      summary: { runId: source.runId, status: 'queued' },
      summaryDirty: false,
      startedConfig: undefined,
      snapshot: undefined,
    }));
    this.router = createHostRouter(
      {
        ready: () => this.onReady(),
        requestLogTail: () => void this.refreshLogTail(),
        action: (action) => void this.onAction(action),
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
    for (const run of this.runs) {
      this.disposables.push(
        run.source.subscribe(
          (batch) => {
            run.events.push(...batch);
            this.noteConfig(run, batch);
            this.coalescer.request();
          },
          (summary) => this.onSummary(run, summary),
        ),
      );
    }
    this.render();
  }

  private get single(): PanelRun | undefined {
    return this.compare ? undefined : this.runs[0];
  }

  private onSummary(run: PanelRun, summary: RunSummary): void {
    const wasTerminal = TERMINAL_STATUSES.has(run.summary.status);
    run.summary = summary;
    run.summaryDirty = true;
    this.coalescer.request();
    if (run === this.single && !wasTerminal && TERMINAL_STATUSES.has(summary.status)) {
      // The last lines of a finished run are the interesting ones; fetch them once more.
      this.stopLogTimer();
      void this.refreshLogTail();
    }
  }

  private noteConfig(run: PanelRun, batch: readonly TrainerEvent[]): void {
    for (const event of batch) {
      if (event.type === 'run_started' && Object.keys(event.config).length > 0) {
        run.startedConfig = event.config;
        this.diffDirty = this.compare;
      }
    }
  }

  private render(): void {
    const webview = this.panel.webview;
    const scriptUri = webview.asWebviewUri(vscode.Uri.joinPath(this.extensionUri, 'dist', 'webview', 'runPanel.js'));
    this.webviewReady = false;
    webview.html = buildRunPanelHtml({
      cspSource: webview.cspSource,
      scriptUri: scriptUri.toString(),
      nonce: createNonce(),
      title: this.title,
    });
  }

  private onReady(): void {
    this.webviewReady = true;
    this.lastLogTail = undefined;
    this.post(InitMessage, {
      title: this.compare ? this.title : (this.runs[0]?.source.title ?? this.title),
      compare: this.compare,
      runs: this.runs.map((run) => ({ runId: run.source.runId, title: run.source.title, summary: run.summary })),
    });
    for (const run of this.runs) {
      run.summaryDirty = false;
      run.sent = 0;
      this.sendNewEvents(run, true);
    }
    if (this.compare) {
      void this.sendConfigDiff();
    } else {
      void this.refreshLogTail();
      this.startLogTimer();
    }
  }

  private flush(): void {
    if (!this.webviewReady) {
      return;
    }
    for (const run of this.runs) {
      this.sendNewEvents(run, false);
      if (run.summaryDirty) {
        run.summaryDirty = false;
        this.post(SummaryMessage, run.summary);
      }
    }
    if (this.diffDirty) {
      void this.sendConfigDiff();
    }
  }

  private sendNewEvents(run: PanelRun, reset: boolean): void {
    const fresh = run.events.slice(run.sent);
    run.sent = run.events.length;
    for (const payload of packEvents(run.source.runId, fresh, reset)) {
      // The typed arrays travel as binary (VS Code revives them in the webview).
      this.post(EventsMessage, payload);
    }
  }

  private async sendConfigDiff(): Promise<void> {
    this.diffDirty = false;
    const configs = await Promise.all(
      this.runs.map(async (run) => {
        const source = run.source;
        // The snapshot the launcher kept is what the user configured; a run whose snapshot is
        // unreadable is compared by the config its trainer reported.
        run.snapshot ??= 'readConfig' in source ? source.readConfig().catch(() => undefined) : Promise.resolve(undefined);
        return (await run.snapshot) ?? run.startedConfig;
      }),
    );
    if (!this.webviewReady || this.disposed) {
      return;
    }
    const present = this.runs.filter((_, i) => configs[i] !== undefined);
    const missing = this.runs.filter((_, i) => configs[i] === undefined).map((run) => run.source.runId);
    const differences = present.length >= 2 ? diffConfigs(configs.filter((c) => c !== undefined)) : [];
    const payload: ConfigDiffPayload = {
      runIds: this.runs.map((run) => run.source.runId),
      missing,
      truncated: differences.length > MAX_DIFF_ROWS,
      rows: differences.slice(0, MAX_DIFF_ROWS).map((difference) => {
        let next = 0;
        const values = configs.map((config) => {
          if (config === undefined) return null;
          const value = difference.values[next];
          next += 1;
          return formatConfigValue(value, MAX_DIFF_VALUE_LENGTH);
        });
        return { path: difference.path.slice(0, MAX_DIFF_PATH_LENGTH), values };
      }),
    };
    this.post(ConfigDiffMessage, payload);
  }

  private startLogTimer(): void {
    this.stopLogTimer();
    const run = this.single;
    if (run === undefined || TERMINAL_STATUSES.has(run.summary.status)) {
      return;
    }
    this.logTimer = setInterval(() => {
      if (TERMINAL_STATUSES.has(run.summary.status)) {
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
    const run = this.single;
    if (!this.webviewReady || run === undefined) {
      return;
    }
    let text: string;
    try {
      text = clampLogTail(await run.source.readLogTail(LOG_TAIL_BYTES));
    } catch (err) {
      // A missing stdout.log is normal before the process starts; say so in the panel.
      text = `(no log yet: ${err instanceof Error ? err.message : String(err)})`;
    }
    if (text !== this.lastLogTail && this.webviewReady && !this.disposed) {
      this.lastLogTail = text;
      this.post(LogTailMessage, { text });
    }
  }

  /** Runs the button's command on this panel's run; the command checks and confirms. */
  private async onAction(action: RunAction): Promise<void> {
    const run = this.single;
    if (run === undefined) {
      this.log(`run panel: ignored ${action} from a compare panel`);
      return;
    }
    try {
      await vscode.commands.executeCommand(ACTION_COMMANDS[action], run.source.runId);
    } catch (err) {
      const message = err instanceof Error ? err.message : String(err);
      this.log(`run panel: ${ACTION_COMMANDS[action]} ${run.source.runId} failed: ${message}`);
      void vscode.window.showErrorMessage(`MedVLM: ${message}`);
    }
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
    RunPanel.open.delete(this.key);
    this.coalescer.dispose();
    this.stopLogTimer();
    for (const disposable of this.disposables.splice(0)) {
      disposable.dispose();
    }
  }
}
