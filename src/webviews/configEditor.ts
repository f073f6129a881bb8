// Host side of the config editor: a form view of a `*.sft.yaml` run config, as a custom text
// editor on the same TextDocument as the YAML. The document is the model: the webview sends
// intents, the host turns them into text changes (yamlEdit keeps comments and layout) and
// applies them as WorkspaceEdits, so undo/redo, the dirty state and saving are VS Code's.
// Every change of the document, whoever made it, re-posts the full state to the form.

import schemaJson from '../../media/run-config.schema.json';
import path from 'node:path';
import * as vscode from 'vscode';
import { CONFIG_PRESETS } from '../core/config/presets';
import { deriveNumbers } from '../core/config/derivedNumbers';
import type { ModelLookup } from '../core/config/memoryEstimate';
import type { EditResult } from '../core/config/yamlEdit';
import { appendListItem, removeValue, setValue } from '../core/config/yamlEdit';
import type { ConfigAnalysis, ConfigLanguageService } from '../language/configLanguage';
import type { ConfigPath, JsonValue, ObjectSchema } from '../shared/configSchema';
import { dottedPath, loadSchema } from '../shared/configSchema';
import type { ConfigEditorState, DatasetAction, DerivedItem } from '../shared/protocol/configEditor';
import { NoticeMessage, StateMessage } from '../shared/protocol/configEditor';
import type { MessageType } from '../shared/protocol/message';
import { envelope } from '../shared/protocol/message';
import type { LocatedProblem } from './configEditorState';
import {
  dataSource,
  composeEdits,
  createConfigEditorRouter,
  derivedItems,
  describePresetChanges,
  isEmptyDocument,
  readOnlyReason,
  stateProblems,
} from './configEditorState';
import { buildConfigEditorHtml } from './configEditorHtml';
import { createNonce } from './webviewHtml';
import { Coalescer } from '../shared/coalescer';

export const CONFIG_EDITOR_VIEW_TYPE = 'medvlm.configEditor';
/** Text edits arrive per keystroke; the form gets at most one snapshot per this interval. */
const STATE_INTERVAL_MS = 100;

export interface ConfigEditorOptions {
  readonly extensionUri: vscode.Uri;
  readonly language: ConfigLanguageService;
  /** Where rejected webview messages and host errors are logged. */
  readonly log: (line: string) => void;
  /** Shapes of models outside the estimate's own list, from their config.json; fires when one is read. */
  readonly modelShapes: { lookup(configDir: string): ModelLookup; readonly onDidLoad: vscode.Event<void> };
}

export class ConfigEditorProvider implements vscode.CustomTextEditorProvider {
  static register(options: ConfigEditorOptions): { provider: ConfigEditorProvider; disposable: vscode.Disposable } {
    const provider = new ConfigEditorProvider(options);
    const disposable = vscode.window.registerCustomEditorProvider(CONFIG_EDITOR_VIEW_TYPE, provider, {
      // The form is rebuilt from the document on every load; keeping hidden ones alive costs memory.
      webviewOptions: { retainContextWhenHidden: false },
      supportsMultipleEditorsPerDocument: true,
    });
    return { provider, disposable };
  }

  private readonly schema: ObjectSchema = loadSchema(schemaJson);
  private readonly sessions = new Set<ConfigEditorSession>();

  constructor(private readonly options: ConfigEditorOptions) {}

  resolveCustomTextEditor(document: vscode.TextDocument, panel: vscode.WebviewPanel): void {
    const session = new ConfigEditorSession(document, panel, this.schema, this.options);
    this.sessions.add(session);
    panel.onDidDispose(() => this.sessions.delete(session));
  }

  /** Reveals an open form of `uri`; false when there is none. */
  reveal(uri: vscode.Uri): boolean {
    for (const session of this.sessions) {
      if (session.document.uri.toString() === uri.toString()) {
        session.panel.reveal(undefined, false);
        return true;
      }
    }
    return false;
  }
}

class ConfigEditorSession {
  private readonly disposables: vscode.Disposable[] = [];
  private readonly coalescer = new Coalescer(() => this.postState(), STATE_INTERVAL_MS);
  private readonly router: ReturnType<typeof createConfigEditorRouter>;
  private webviewReady = false;
  /** The derived numbers of the last text that parsed, kept while the YAML is broken. */
  private lastDerived: readonly DerivedItem[] = [];
  private disposed = false;

  constructor(
    readonly document: vscode.TextDocument,
    readonly panel: vscode.WebviewPanel,
    private readonly schema: ObjectSchema,
    private readonly options: ConfigEditorOptions,
  ) {
    const log = options.log;
    this.router = createConfigEditorRouter(
      schema,
      {
        ready: () => {
          this.webviewReady = true;
          this.postState();
        },
        set: (path, value) => void this.edit('set', path, (text) => setValue(text, path, value)),
        remove: (path) => void this.edit('remove', path, (text) => removeValue(text, path)),
        append: (listPath, item) => void this.edit('append to', listPath, (text) => appendListItem(text, listPath, item)),
        applyPreset: (id) => void this.applyPreset(id),
        startRun: () => void this.startRun(),
        showText: () => void this.showText(),
        dataset: (action, source) => void this.datasetAction(action, source),
        pickBaseModel: () => void vscode.commands.executeCommand('medvlm.pickBaseModel', this.document.uri),
      },
      log,
    );
    const webview = panel.webview;
    webview.options = {
      enableScripts: true,
      // Only the bundle: the form uses no fonts, images or other files of the extension.
      localResourceRoots: [vscode.Uri.joinPath(options.extensionUri, 'dist', 'webview')],
    };
    this.disposables.push(
      webview.onDidReceiveMessage((data: unknown) => this.router.receive(data)),
      panel.onDidDispose(() => this.dispose()),
      panel.onDidChangeViewState(() => {
        // A hidden webview is destroyed (no retainContextWhenHidden); it posts `ready` when shown.
        if (!panel.visible) this.webviewReady = false;
      }),
      vscode.workspace.onDidChangeTextDocument((event) => {
        if (event.contentChanges.length > 0 && event.document.uri.toString() === document.uri.toString()) this.coalescer.request();
      }),
      options.language.onDidChangeAnalysis((uri) => {
        if (uri.toString() === document.uri.toString()) this.coalescer.request();
      }),
      vscode.workspace.onDidGrantWorkspaceTrust(() => this.coalescer.request()),
      options.modelShapes.onDidLoad(() => this.coalescer.request()),
    );
    const scriptUri = webview.asWebviewUri(vscode.Uri.joinPath(options.extensionUri, 'dist', 'webview', 'configEditor.js'));
    webview.html = buildConfigEditorHtml({
      cspSource: webview.cspSource,
      scriptUri: scriptUri.toString(),
      nonce: createNonce(),
      title: fileName(document.uri),
    });
  }

  /** The parsed config the form edits: an empty file counts as an empty mapping. */
  private readable(): { analysis: ConfigAnalysis; value: JsonValue | undefined; empty: boolean; problems: LocatedProblem[] } {
    const analysis = this.options.language.analyze(this.document);
    const problems: LocatedProblem[] = analysis.problems.map((p) => ({
      path: p.path,
      message: p.message,
      severity: p.severity,
      code: p.code,
      line: this.document.positionAt(p.range.start).line + 1,
    }));
    const empty = analysis.value === undefined && isEmptyDocument(problems);
    return { analysis, value: analysis.value ?? (empty ? {} : undefined), empty, problems };
  }

  private state(): ConfigEditorState {
    const { analysis, value, empty, problems: located } = this.readable();
    if (value !== undefined) {
      this.lastDerived = derivedItems(deriveNumbers(value, analysis.dataSizes, this.options.modelShapes.lookup(path.dirname(this.document.uri.fsPath))));
    }
    const trusted = vscode.workspace.isTrusted;
    return {
      fileName: fileName(this.document.uri),
      version: this.document.version,
      ...(value !== undefined ? { value } : {}),
      ...(value === undefined ? { readOnlyReason: readOnlyReason(located) } : {}),
      // An empty file's only problem is that it is empty, which the form is about to fix.
      problems: stateProblems(empty ? [] : located),
      trainerCheck: analysis.trainerCheck,
      ...(analysis.trainerMessage !== undefined ? { trainerMessage: analysis.trainerMessage.slice(0, 4096) } : {}),
      derived: this.lastDerived,
      presets: CONFIG_PRESETS.map((preset) => ({ id: preset.id, label: preset.label, detail: preset.detail })),
      startRun: trusted
        ? { enabled: true }
        : { enabled: false, reason: 'Starting runs is disabled in an untrusted workspace: a run executes Python code and reads the files its config names.' },
    };
  }

  private postState(): void {
    if (this.webviewReady && !this.disposed) {
      this.post(StateMessage, this.state());
    }
  }

  private notice(severity: 'error' | 'info', message: string): void {
    this.post(NoticeMessage, { severity, message: message.slice(0, 4096) });
  }

  /** One intent, one WorkspaceEdit: one undo step, VS Code's dirty state. */
  private async edit(what: string, path: ConfigPath, plan: (text: string) => EditResult): Promise<void> {
    if (this.readable().value === undefined) {
      this.notice('error', 'The YAML cannot be read, so the form cannot change it; fix it in the text editor first.');
      return;
    }
    const outcome = plan(this.document.getText());
    if (!outcome.ok) {
      this.notice('error', `Could not ${what} ${dottedPath(path)}: ${outcome.message}`);
      return;
    }
    await this.apply(outcome);
  }

  private async apply(outcome: Extract<EditResult, { ok: true }>): Promise<boolean> {
    if (outcome.changes.length === 0) {
      return true;
    }
    const edit = new vscode.WorkspaceEdit();
    for (const change of outcome.changes) {
      const range = new vscode.Range(this.document.positionAt(change.offset), this.document.positionAt(change.offset + change.length));
      edit.replace(this.document.uri, range, change.text);
    }
    const applied = await vscode.workspace.applyEdit(edit);
    if (!applied) {
      this.notice('error', 'VS Code did not apply the edit (the file may be read-only or changed on disk).');
    }
    return applied;
  }

  private async applyPreset(id: string): Promise<void> {
    const preset = CONFIG_PRESETS.find((candidate) => candidate.id === id);
    if (preset === undefined) {
      this.options.log(`config editor: unknown preset ${JSON.stringify(id.slice(0, 128))}`);
      return;
    }
    const current = this.readable().value;
    if (current === undefined) {
      this.notice('error', 'The YAML cannot be read, so a preset cannot be applied; fix it in the text editor first.');
      return;
    }
    const lines = describePresetChanges(this.schema, current, preset.values);
    if (lines.length === 0) {
      this.notice('info', `The config already has every value of "${preset.label}".`);
      return;
    }
    const shown = lines.length > 25 ? [...lines.slice(0, 25), `… and ${lines.length - 25} more`] : lines;
    const choice = await vscode.window.showInformationMessage(
      `Apply preset "${preset.label}" to ${fileName(this.document.uri)}?`,
      { modal: true, detail: `${preset.detail}\n\nChanges:\n${shown.join('\n')}\n\nOne undo reverts them all.` },
      'Apply',
    );
    if (choice !== 'Apply') {
      return;
    }
    // Planned against the text as it is after the dialog, in case it changed meanwhile.
    const outcome = composeEdits(
      this.document.getText(),
      preset.values.map(({ path, value }) => (text: string) => setValue(text, path, value)),
    );
    if (!outcome.ok) {
      this.notice('error', `Could not apply "${preset.label}": ${outcome.message}`);
      return;
    }
    await this.apply(outcome);
  }

  private async startRun(): Promise<void> {
    if (!vscode.workspace.isTrusted) {
      this.notice('error', 'Starting runs is disabled in an untrusted workspace.');
      return;
    }
    await vscode.commands.executeCommand('medvlm.startRun', this.document.uri);
  }

  /** Previews or checks `data.sources[index]` as the document says now (saved or not). */
  private async datasetAction(action: DatasetAction, index: number): Promise<void> {
    const source = dataSource(this.document.getText(), index);
    if (typeof source?.records !== 'string' || source.records.trim() === '') {
      this.notice('error', `data source ${index + 1} names no records file yet: set its \`records\` first.`);
      return;
    }
    const base = path.dirname(this.document.uri.fsPath);
    const records = path.resolve(base, source.records);
    const tasks = typeof source.tasks === 'string' && source.tasks.trim() !== '' ? path.resolve(base, source.tasks) : undefined;
    if (action === 'preview') {
      // The saved config: the trainer's split reads the file (unsaved edits show after a save).
      await vscode.commands.executeCommand('medvlm.previewSamples', records, tasks, this.document.uri.fsPath, index);
    } else {
      await vscode.commands.executeCommand('medvlm.checkDataset', records, tasks);
    }
  }

  private async showText(): Promise<void> {
    const uri = this.document.uri.toString();
    const visible = vscode.window.visibleTextEditors.find((editor) => editor.document.uri.toString() === uri);
    await vscode.window.showTextDocument(this.document, {
      viewColumn: visible?.viewColumn ?? vscode.ViewColumn.Beside,
      preview: false,
    });
  }

  private post<T>(message: MessageType<T>, payload: T): void {
    // postMessage fails while the webview is being torn down; the next `ready` resends all.
    this.panel.webview.postMessage(envelope(message, payload)).then(undefined, (err: unknown) => this.options.log(`config editor: post failed: ${String(err)}`));
  }

  private dispose(): void {
    if (this.disposed) {
      return;
    }
    this.disposed = true;
    this.coalescer.dispose();
    for (const disposable of this.disposables.splice(0)) {
      disposable.dispose();
    }
  }
}

function fileName(uri: vscode.Uri): string {
  return uri.path.slice(uri.path.lastIndexOf('/') + 1);
}
