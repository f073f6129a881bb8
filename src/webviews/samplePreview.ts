// Host side of the sample preview: one panel per records file. The page is stateless across
// reloads (it posts `ready` and gets everything again); the host keeps the selected record
// and answers each selection with that sample, the latest selection winning.

import * as vscode from 'vscode';
import { ChatTemplates } from '../core/preview/chatTemplate';
import type { SampleSource, TrainerRunner } from '../core/preview/sampleSource';
import type { ConfigSampleSettings } from '../core/preview/sampleSettings';
import { configSampleSettings, sampleSettingsFor } from '../core/preview/sampleSettings';
import type { Envelope, MessageType } from '../shared/protocol/message';
import { envelope } from '../shared/protocol/message';
import { dispatch, on } from '../shared/protocol/dispatch';
import type { ChatPayload, ModelFamily, SamplePayload } from '../shared/protocol/samplePreview';
import { ChatMessage, FAMILY_LABELS, FamilyMessage, InitMessage, ReadyMessage, SampleMessage, SelectMessage } from '../shared/protocol/samplePreview';
import { buildSamplePreviewHtml } from './samplePreviewHtml';
import { createNonce } from './webviewHtml';

export const SAMPLE_PREVIEW_VIEW_TYPE = 'medvlm.samplePreview';

export interface SamplePreviewOptions {
  readonly title: string;
  /** The run config (and its data source) the preview was opened from: records show their split. */
  readonly config?: { readonly file: string; readonly source: number };
  /** The trainer's interpreter, when an environment is ready; splits and the chat template need it. */
  readonly runner: () => Promise<TrainerRunner | undefined>;
  readonly log: (line: string) => void;
}

export class SamplePreviewPanel {
  private static readonly open = new Map<string, SamplePreviewPanel>();
  private selected: number;
  /** Another slice of the selected record's volume than its own, while the user scrolls. */
  private slice: number | undefined;
  private family: ModelFamily = 'qwen2_5_vl';
  /** What the run config (if any) says about the text: family, resize, options, model. */
  private config: ConfigSampleSettings | undefined;
  /** The model's chat template process, started on the first sample that needs it. */
  private chat: ChatTemplates | undefined;
  private disposed = false;

  static show(extensionUri: vscode.Uri, source: SampleSource, options: SamplePreviewOptions): SamplePreviewPanel {
    // From a run config the text follows that config (its model, family and options): its own panel.
    const key = [source.options.recordsFile, source.options.tasksFile ?? '', options.config?.file ?? '', options.config?.source ?? ''].join('\u0000');
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
      preview.chat?.close();
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
        if (this.selected >= 0) void this.sendSample(this.selected, this.slice);
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
    if (this.options.config !== undefined && this.config === undefined) {
      this.config = await configSampleSettings(this.options.config.file);
      if (this.config.family !== undefined) this.family = this.config.family;
    }
    this.sendInit();
    if (this.selected >= 0) await this.sendSample(this.selected, this.slice);
  }

  private async sendSample(index: number, slice?: number): Promise<void> {
    const family = this.family;
    let sample: SamplePayload;
    try {
      sample = await this.source.sample(index, slice, sampleSettingsFor(family, this.config));
    } catch (err) {
      this.options.log(`sample preview: record ${index}: ${(err as Error).message}`);
      sample = { index, caption: `record ${index}`, measurements: [], problems: [(err as Error).message] };
    }
    // A later selection (or a reload) may have come meanwhile; the page drops stale ones too.
    if (index !== this.selected || slice !== this.slice || family !== this.family) return;
    this.post(SampleMessage, sample);
    if (sample.text !== undefined && slice === undefined) await this.sendChat(index, family, sample);
  }

  /** The chat-templated turn of the shown sample, from the run config's model. */
  private async sendChat(index: number, family: ModelFamily, sample: SamplePayload): Promise<void> {
    const payload = await this.chatTurn(index, family, sample).catch((err: unknown): ChatPayload => ({ index, family, unavailable: (err as Error).message }));
    if (index === this.selected && family === this.family) this.post(ChatMessage, payload);
  }

  private async chatTurn(index: number, family: ModelFamily, sample: SamplePayload): Promise<ChatPayload> {
    const unavailable = (why: string): ChatPayload => ({ index, family, unavailable: why });
    const model = this.config?.model;
    if (model === undefined) {
      return unavailable('The chat template is the model’s own: open this preview from a run config’s data source (Preview samples in the config editor) to see the turn its model.base gets.');
    }
    if (this.config?.family !== undefined && this.config.family !== family) {
      return unavailable(`The run config’s model (${model.base}) is ${FAMILY_LABELS[this.config.family]}: pick that family to see its chat template.`);
    }
    if (this.chat === undefined || this.chat.ended) {
      const runner = await this.options.runner().catch(() => undefined);
      if (runner === undefined) {
        return unavailable(
          vscode.workspace.isTrusted
            ? 'The chat template comes from the model’s processor, through the trainer, whose Python environment is not set up yet: start a run once (it sets it up) or set medvlm.pythonPath.'
            : 'The chat template comes from the model’s processor, through the trainer, which runs only in a trusted workspace: trust this folder to see it.',
        );
      }
      if (this.disposed) return unavailable('closed');
      // Another sample may have started one while this one waited for the runner.
      if (this.chat === undefined || this.chat.ended) {
        this.chat?.close();
        this.chat = new ChatTemplates(runner, model.base, model.configDir);
      }
    }
    const text = sample.text;
    if (text === undefined) return unavailable('There is no text for this record.');
    const turn = await this.chat.turn(this.source.chatMessages(index, text));
    return { index, family, text: turn.text, ...(turn.answerStart !== undefined ? { answerStart: turn.answerStart } : {}) };
  }
}
