// Language support for `*.sft.yaml` run configs without any other extension: diagnostics,
// hovers, completions and quick fixes. Structural problems come from the schema in
// TypeScript on every keystroke; cross-field rules and data checks come from the trainer's
// own `medvlm-sft validate --json --check-data` on the unsaved text (design contract 7), run
// when the user pauses, opens or saves, so the editor and the CLI never disagree.

import * as vscode from 'vscode';
import type { JsonValue } from '../shared/configSchema';
import { dottedPath, parseDottedPath } from '../shared/configSchema';
import { completionsAt, hoverAt } from '../core/config/assist';
import type { ConfigCheck } from '../core/config/validateConfig';
import { checkConfigText, hasErrors, STRUCTURAL_CODES } from '../core/config/validateConfig';
import type { ConfigProblem, SourceRange } from '../core/config/yamlSource';
import { nodeAt, toValue } from '../core/config/configTree';
import type { DataSizes, ValidationProblem, ValidationResult } from '../core/validation';
import type { PythonEnvironment } from '../python/pythonEnv';
import { validateConfig } from '../python/trainerCli';

export type { ConfigProblem };

export const CONFIG_SUFFIX = '.sft.yaml';
export const CONFIG_SELECTOR: vscode.DocumentSelector = [{ pattern: `**/*${CONFIG_SUFFIX}` }];
/** Pause after typing before the trainer checks the text (it starts a Python process). */
const TRAINER_DELAY_MS = 800;

export type TrainerCheckState = 'pending' | 'done' | 'unavailable';

export interface ConfigAnalysis {
  readonly version: number;
  /** The parsed YAML; undefined when it cannot be read (syntax error, not a mapping). */
  readonly value: JsonValue | undefined;
  readonly problems: readonly ConfigProblem[];
  readonly dataSizes: DataSizes | undefined;
  readonly trainerCheck: TrainerCheckState;
  readonly trainerMessage?: string;
}

interface TrainerReport {
  readonly version: number;
  readonly problems: readonly ValidationProblem[];
  readonly data: DataSizes | undefined;
}

interface TrainerState {
  report?: TrainerReport;
  state: TrainerCheckState;
  message?: string;
  running?: AbortController;
  timer?: ReturnType<typeof setTimeout>;
}

export interface ConfigLanguageDeps {
  readonly extensionUri: vscode.Uri;
  readonly python: PythonEnvironment;
  readonly log: vscode.LogOutputChannel;
}

export function isRunConfig(document: vscode.TextDocument): boolean {
  return document.uri.path.endsWith(CONFIG_SUFFIX);
}

export class ConfigLanguageService implements vscode.Disposable {
  private readonly diagnostics = vscode.languages.createDiagnosticCollection('medvlm.config');
  private readonly checks = new Map<string, { version: number; check: ConfigCheck; analysis: ConfigAnalysis }>();
  private readonly trainer = new Map<string, TrainerState>();
  private readonly changed = new vscode.EventEmitter<vscode.Uri>();
  private readonly subscriptions: vscode.Disposable[] = [];
  /** Fires when a document's analysis changes other than by its own edit (trainer results). */
  readonly onDidChangeAnalysis = this.changed.event;

  constructor(private readonly deps: ConfigLanguageDeps) {
    this.subscriptions.push(
      this.diagnostics,
      this.changed,
      vscode.workspace.onDidOpenTextDocument((doc) => this.opened(doc)),
      vscode.workspace.onDidChangeTextDocument((event) => {
        if (isRunConfig(event.document) && event.contentChanges.length > 0) {
          this.publish(event.document);
          this.scheduleTrainer(event.document, TRAINER_DELAY_MS);
        }
      }),
      vscode.workspace.onDidSaveTextDocument((doc) => {
        if (isRunConfig(doc)) this.scheduleTrainer(doc, 0);
      }),
      vscode.workspace.onDidCloseTextDocument((doc) => this.closed(doc)),
      vscode.workspace.onDidGrantWorkspaceTrust(() => vscode.workspace.textDocuments.forEach((doc) => this.opened(doc))),
      vscode.languages.registerHoverProvider(CONFIG_SELECTOR, { provideHover: (doc, pos) => this.hover(doc, pos) }),
      vscode.languages.registerCompletionItemProvider(CONFIG_SELECTOR, { provideCompletionItems: (doc, pos) => this.complete(doc, pos) }, ':', ' ', '-'),
      vscode.languages.registerCodeLensProvider(CONFIG_SELECTOR, { provideCodeLenses: (doc) => this.codeLenses(doc) }),
      vscode.languages.registerCodeActionsProvider(CONFIG_SELECTOR, { provideCodeActions: (doc, range, context) => this.codeActions(doc, range, context) }, {
        providedCodeActionKinds: [vscode.CodeActionKind.QuickFix],
      }),
    );
    vscode.workspace.textDocuments.forEach((doc) => this.opened(doc));
  }

  dispose(): void {
    for (const state of this.trainer.values()) {
      state.running?.abort();
      if (state.timer) clearTimeout(state.timer);
    }
    this.trainer.clear();
    vscode.Disposable.from(...this.subscriptions).dispose();
  }

  /** The analysis of the document's current text: instant, cached per version. */
  analyze(document: vscode.TextDocument): ConfigAnalysis {
    return this.entry(document).analysis;
  }

  /** A report from elsewhere (Start SFT run validates the saved file) counts as the trainer's check. */
  acceptTrainerReport(document: vscode.TextDocument, result: ValidationResult): void {
    const state = this.stateOf(document);
    if (result.kind === 'report') {
      state.report = { version: document.version, problems: result.problems, data: result.data ?? state.report?.data };
      state.state = 'done';
      delete state.message;
    }
    this.checks.delete(document.uri.toString());
    this.publish(document);
    this.changed.fire(document.uri);
  }

  /** "Pick base model from Hugging Face…" over `model.base` (or `model:` while it has none). */
  private codeLenses(document: vscode.TextDocument): vscode.CodeLens[] {
    const root = this.entry(document).check.parsed.root;
    const model = root?.entries.find((e) => e.key === 'model');
    if (model === undefined) return [];
    const base = model.value.kind === 'map' ? model.value.entries.find((e) => e.key === 'base') : undefined;
    const at = document.positionAt((base ?? model).keyRange.start);
    return [
      new vscode.CodeLens(new vscode.Range(at, at), {
        title: '$(search) Pick base model from Hugging Face…',
        tooltip: 'Search the Hub; shows each model\'s size and whether it is gated and you have access',
        command: 'medvlm.pickBaseModel',
        arguments: [document.uri],
      }),
    ];
  }

  private opened(document: vscode.TextDocument): void {
    if (!isRunConfig(document)) return;
    this.publish(document);
    this.scheduleTrainer(document, 0);
  }

  private closed(document: vscode.TextDocument): void {
    const key = document.uri.toString();
    const state = this.trainer.get(key);
    state?.running?.abort();
    if (state?.timer) clearTimeout(state.timer);
    this.trainer.delete(key);
    this.checks.delete(key);
    this.diagnostics.delete(document.uri);
  }

  private stateOf(document: vscode.TextDocument): TrainerState {
    const key = document.uri.toString();
    let state = this.trainer.get(key);
    if (state === undefined) {
      state = { state: 'pending' };
      this.trainer.set(key, state);
    }
    return state;
  }

  private entry(document: vscode.TextDocument): { version: number; check: ConfigCheck; analysis: ConfigAnalysis } {
    const key = document.uri.toString();
    const cached = this.checks.get(key);
    if (cached !== undefined && cached.version === document.version) {
      return cached;
    }
    const text = document.getText();
    const check = checkConfigText(text);
    const state = this.stateOf(document);
    const problems = [...check.problems, ...this.trainerProblems(document, check, state)];
    const root = check.parsed.root;
    const analysis: ConfigAnalysis = {
      version: document.version,
      value: root !== undefined ? toValue(root) : undefined,
      problems,
      dataSizes: state.report?.data,
      trainerCheck: state.state,
      ...(state.message !== undefined ? { trainerMessage: state.message } : {}),
    };
    const entry = { version: document.version, check, analysis };
    this.checks.set(key, entry);
    return entry;
  }

  /**
   * The trainer's problems that the schema cannot find (cross-field rules, data checks). From
   * a report on older text, each is placed by its path in the current text, or dropped.
   * Should the trainer reject text the schema accepts, its problems are shown as well: the
   * editor must never look clean when the run would be refused.
   */
  private trainerProblems(document: vscode.TextDocument, check: ConfigCheck, state: TrainerState): ConfigProblem[] {
    const report = state.report;
    if (report === undefined) return [];
    const current = report.version === document.version;
    const schemaClean = !hasErrors(check.problems);
    const out: ConfigProblem[] = [];
    for (const p of report.problems) {
      const structural = STRUCTURAL_CODES.has(p.code);
      if (structural && !(current && schemaClean && p.severity === 'error')) continue;
      const path = parseDottedPath(p.path);
      let range: SourceRange | undefined;
      if (current) {
        const start = document.offsetAt(new vscode.Position(p.line - 1, p.column - 1));
        const end = document.offsetAt(new vscode.Position(p.endLine - 1, p.endColumn - 1));
        range = { start, end: Math.max(end, start) };
      } else if (path !== undefined && check.parsed.root !== undefined) {
        const found = path.length > 0 ? nodeAt(check.parsed.root, path) : undefined;
        if (found !== undefined) range = found.node.range.end > found.node.range.start ? found.node.range : found.keyRange;
      }
      if (range === undefined) continue;
      out.push({ path: path ?? [], message: p.message, severity: p.severity, code: p.code, range });
    }
    return out;
  }

  private publish(document: vscode.TextDocument): void {
    if (!isRunConfig(document)) return;
    const { analysis } = this.entry(document);
    this.diagnostics.set(document.uri, analysis.problems.map((p) => toDiagnostic(document, p)));
  }

  private scheduleTrainer(document: vscode.TextDocument, delayMs: number): void {
    const state = this.stateOf(document);
    if (state.timer) clearTimeout(state.timer);
    state.timer = setTimeout(() => {
      delete state.timer;
      void this.runTrainer(document, state);
    }, delayMs);
  }

  private async runTrainer(document: vscode.TextDocument, state: TrainerState): Promise<void> {
    if (document.isClosed) return;
    const unavailable = (message: string): void => {
      if (state.state === 'unavailable' && state.message === message) return;
      state.state = 'unavailable';
      state.message = message;
      this.refresh(document);
    };
    if (!vscode.workspace.isTrusted) {
      unavailable('Cross-field checks run the trainer, which is disabled in an untrusted workspace; schema checks still apply.');
      return;
    }
    if (document.uri.scheme !== 'file') {
      unavailable('Cross-field and data checks need the config saved as a file (relative paths resolve against its folder).');
      return;
    }
    const python = await this.deps.python.existing().catch(() => undefined);
    if (python === undefined) {
      unavailable('Cross-field and data checks need the trainer environment, which is created on the first "Start SFT run" (or set medvlm.pythonPath).');
      return;
    }
    state.running?.abort();
    const abort = new AbortController();
    state.running = abort;
    const version = document.version;
    state.state = 'pending';
    let result: ValidationResult;
    try {
      result = await validateConfig({
        python,
        extensionRoot: this.deps.extensionUri.fsPath,
        configPath: document.uri.fsPath,
        checkData: true,
        text: document.getText(),
        signal: abort.signal,
      });
    } catch (err) {
      if (abort.signal.aborted) return;
      result = { kind: 'unreadable', message: err instanceof Error ? err.message : String(err) };
    }
    if (abort.signal.aborted || document.isClosed) return;
    delete state.running;
    if (result.kind === 'unreadable') {
      this.deps.log.warn(`validate ${document.uri.fsPath}: ${result.message}`);
      unavailable(result.message);
      return;
    }
    state.report = { version, problems: result.problems, data: result.data ?? (hasStructuralError(result) ? state.report?.data : undefined) };
    state.state = 'done';
    delete state.message;
    this.refresh(document);
  }

  private refresh(document: vscode.TextDocument): void {
    this.checks.delete(document.uri.toString());
    this.publish(document);
    this.changed.fire(document.uri);
  }

  private hover(document: vscode.TextDocument, position: vscode.Position): vscode.Hover | undefined {
    const hover = hoverAt(document.getText(), document.offsetAt(position));
    if (hover === undefined) return undefined;
    const markdown = new vscode.MarkdownString(hover.markdown);
    markdown.supportHtml = false;
    markdown.isTrusted = false;
    return new vscode.Hover(markdown, toRange(document, hover.range));
  }

  private complete(document: vscode.TextDocument, position: vscode.Position): vscode.CompletionItem[] {
    return completionsAt(document.getText(), document.offsetAt(position)).map((c) => {
      const kind = c.kind === 'section' ? vscode.CompletionItemKind.Module : c.kind === 'key' ? vscode.CompletionItemKind.Property : vscode.CompletionItemKind.EnumMember;
      const item = new vscode.CompletionItem(c.label, kind);
      item.insertText = c.snippet ? new vscode.SnippetString(c.insertText) : c.insertText;
      item.range = toRange(document, c.replace);
      item.detail = c.detail;
      item.documentation = new vscode.MarkdownString(c.documentation);
      item.sortText = c.sortText;
      if (c.kind === 'section') {
        item.command = { command: 'editor.action.triggerSuggest', title: 'Suggest keys' };
      }
      return item;
    });
  }

  private codeActions(document: vscode.TextDocument, range: vscode.Range | vscode.Selection, context: vscode.CodeActionContext): vscode.CodeAction[] {
    const { analysis } = this.entry(document);
    const actions: vscode.CodeAction[] = [];
    for (const diagnostic of context.diagnostics) {
      if (diagnostic.source !== 'medvlm') continue;
      const problem = analysis.problems.find((p) => p.code === codeOf(diagnostic) && toRange(document, p.range).isEqual(diagnostic.range));
      problem?.fixes?.forEach((fix, index) => {
        const action = new vscode.CodeAction(fix.title, vscode.CodeActionKind.QuickFix);
        const edit = new vscode.WorkspaceEdit();
        for (const change of fix.edits) edit.replace(document.uri, toRange(document, change.range), change.text);
        action.edit = edit;
        action.diagnostics = [diagnostic];
        action.isPreferred = index === 0;
        actions.push(action);
      });
    }
    void range;
    return actions;
  }
}

function hasStructuralError(result: ValidationResult): boolean {
  return result.kind === 'report' && result.problems.some((p) => p.severity === 'error' && STRUCTURAL_CODES.has(p.code));
}

function codeOf(diagnostic: vscode.Diagnostic): string | undefined {
  const code = diagnostic.code;
  if (typeof code === 'string') return code;
  if (typeof code === 'object' && code !== null && typeof code.value === 'string') return code.value;
  return undefined;
}

function toRange(document: vscode.TextDocument, range: SourceRange): vscode.Range {
  return new vscode.Range(document.positionAt(range.start), document.positionAt(range.end));
}

function toDiagnostic(document: vscode.TextDocument, problem: ConfigProblem): vscode.Diagnostic {
  let range = toRange(document, problem.range);
  if (range.isEmpty) {
    // An empty range (a missing value at the end of a line) is hard to see: mark a character.
    const line = document.lineAt(range.start.line);
    if (range.start.character < line.text.length) range = new vscode.Range(range.start, range.start.translate(0, 1));
    else if (range.start.character > 0) range = new vscode.Range(range.start.translate(0, -1), range.start);
  }
  const where = problem.path.length > 0 ? `${dottedPath(problem.path)}: ` : '';
  const severity = problem.severity === 'warning' ? vscode.DiagnosticSeverity.Warning : vscode.DiagnosticSeverity.Error;
  const diagnostic = new vscode.Diagnostic(range, `${where}${problem.message}`, severity);
  diagnostic.source = 'medvlm';
  diagnostic.code = problem.code;
  return diagnostic;
}
