// Host side of the sample preview: one panel per records file. The page is stateless across
// reloads (it posts `ready` and gets everything again); the host keeps the selected record
// and answers each selection with that sample, the latest selection winning.

import * as vscode from 'vscode';
import type { SampleSource, TrainerRunner } from '../core/preview/sampleSource';
import type { Envelope, MessageType } from '../shared/protocol/message';
import { envelope } from '../shared/protocol/message';
import { dispatch, on } from '../shared/protocol/dispatch';
import type { ModelFamily, TextsPayload } from '../shared/protocol/samplePreview';
import { FamilyMessage, InitMessage, ReadyMessage, SampleMessage, SelectMessage, TextsMessage } from '../shared/protocol/samplePreview';
import { buildSamplePreviewHtml } from './samplePreviewHtml';
import { createNonce } from './webviewHtml';

export const SAMPLE_PREVIEW_VIEW_TYPE = 'medvlm.samplePreview';

export interface SamplePreviewOptions {
  readonly title: string;
  /** The run config (and its data source) the preview was opened from: records show their split. */
  readonly config?: { readonly file: string; readonly source: number };
  /** The trainer's interpreter, when an environment is ready; texts need it. */
  readonly runner: () => Promise<TrainerRunner | undefined>;
  readonly log: (line: string) => void;
}

export class SamplePreviewPanel {
  private static readonly open = new Map<string, SamplePreviewPanel>();
  private selected: number;
  /** Another slice of the selected record's volume than its own, while the user scrolls. */
  private slice: number | undefined;
  private family: ModelFamily = 'qwen2_5_vl';
  private readonly texts = new Map<ModelFamily, Promise<TextsPayload>>();
  private disposed = false;

  static show(extensionUri: vscode.Uri, source: SampleSource, options: SamplePreviewOptions): SamplePreviewPanel {
    const key = `${source.options.recordsFile}\u0000${source.options.tasksFile ?? ''}`;
    const existing = SamplePreviewPanel.open.get(key);
    if (existing !== undefined) {
      existing.panel.reveal();
      return existing;
    }
    const panel = vscode.window.createWebviewPanel(SAMPLE_PREVIEW_VIEW_TYPE, options.title, vscode.ViewColumn.Active, {
      enableScripts: true,
      localResourceRoots: [vscode.Uri.joinPath(extensionUri, 'dist', 'webview')],
    });
    const preview = new SamplePreviewPanel(panel, extensionUri, source, options);
    SamplePreviewPanel.open.set(key, preview);
    void preview.loadSplits();
    panel.onDidDispose(() => {
      preview.disposed = true;
      SamplePreviewPanel.open.delete(key);
    });
    return preview;
  }

  private constructor(
    private readonly panel: vscode.WebviewPanel,
    extensionUri: vscode.Uri,
    private readonly source: SampleSource,
    private readonly options: SamplePreviewOptions,
  ) {
    this.selected = source.entries.length > 0 ? 0 : -1;
    const webview = panel.webview;
    webview.html = buildSamplePreviewHtml({
      cspSource: webview.cspSource,
      scriptUri: webview.asWebviewUri(vscode.Uri.joinPath(extensionUri, 'dist', 'webview', 'samplePreview.js')).toString(),
      nonce: createNonce(),
      title: options.title,
    });
    const routes = [
      on(ReadyMessage, () => void this.sendAll()),
      on(SelectMessage, ({ index, slice }) => {
        if (index >= this.source.entries.length) return;
        this.selected = index;
        this.slice = slice;
        void this.sendSample(index, slice);
      }),
      on(FamilyMessage, ({ family }) => {
        this.family = family;
        void this.sendTexts();
      }),
    ];
    webview.onDidReceiveMessage((data: unknown) => {
      const outcome = dispatch(data, routes);
      if (outcome !== 'handled') this.options.log(`sample preview: ignored a ${outcome} message from the page`);
    });
  }

  private post<T>(message: MessageType<T>, payload: T): void {
    if (this.disposed) return;
    const data: Envelope<T> = envelope(message, payload);
    void this.panel.webview.postMessage(data);
  }

  /** Asks the trainer which split each record lands in, then lists the records again. */
  private async loadSplits(): Promise<void> {
    const config = this.options.config;
    if (config === undefined) return;
    const runner = await this.options.runner().catch(() => undefined);
    if (runner === undefined) return;
    const problem = await this.source.loadSplits(config.file, config.source, runner).catch((err: unknown) => String(err));
    if (problem !== undefined) {
      this.options.log(`sample preview: no splits for ${config.file}: ${problem}`);
      return;
    }
    this.sendInit();
  }

  private sendInit(): void {
    this.post(InitMessage, {
      title: this.options.title,
      source: [this.source.options.recordsFile, this.source.options.tasksFile].filter(Boolean).join(' · tasks: '),
      records: this.source.items(),
      family: this.family,
      selected: this.selected,
    });
  }

  private async sendAll(): Promise<void> {
    // A reloaded page starts again on the record's own slice.
    this.slice = undefined;
    this.sendInit();
    if (this.selected >= 0) await this.sendSample(this.selected, this.slice);
    await this.sendTexts();
  }

  private async sendSample(index: number, slice?: number): Promise<void> {
    try {
      const sample = await this.source.sample(index, slice);
      // A later selection (or a reload) may have come meanwhile; the page drops stale ones too.
      if (index === this.selected && slice === this.slice) this.post(SampleMessage, sample);
    } catch (err) {
      this.options.log(`sample preview: record ${index}: ${(err as Error).message}`);
      this.post(SampleMessage, { index, caption: `record ${index}`, measurements: [], problems: [(err as Error).message] });
    }
  }

  private async sendTexts(): Promise<void> {
    const family = this.family;
    let texts = this.texts.get(family);
    if (texts === undefined) {
      texts = this.loadTexts(family);
      this.texts.set(family, texts);
    }
    const payload = await texts;
    if (payload.unavailable !== undefined) this.texts.delete(family);
    if (family === this.family) this.post(TextsMessage, payload);
  }

  private async loadTexts(family: ModelFamily): Promise<TextsPayload> {
    const runner = await this.options.runner().catch(() => undefined);
    if (runner === undefined) {
      return {
        family,
        texts: {},
        unavailable: vscode.workspace.isTrusted
          ? 'The exact prompt and target come from the trainer, whose Python environment is not set up yet: start a run once (it sets it up) or set medvlm.pythonPath.'
          : 'The exact prompt and target come from the trainer, which runs only in a trusted workspace: trust this folder to see them.',
      };
    }
    try {
      return { family, texts: await this.source.texts(family, runner) };
    } catch (err) {
      return { family, texts: {}, unavailable: (err as Error).message };
    }
  }
}
