// "Pick base model from Hugging Face": sets `model.base` of a run config from a quick pick of
// the presets' models, the recently picked ones, and a Hub search as you type. Each entry says
// its size (parameters, bf16 weights) and whether it is gated and the signed-in account has
// access, so a gated MedGemma without accepted terms is seen here, not an hour into a run.
// The edit goes through the TextDocument (yamlEdit), so undo and comments survive.

import * as vscode from 'vscode';
import type { Accounts } from '../accounts/accounts';
import { hubUrl } from '../accounts/accounts';
import { checkModelAccess } from '../core/accounts';
import type { ModelAccess } from '../core/accounts';
import { KNOWN_MODELS } from '../core/config/memoryEstimate';
import { setValue } from '../core/config/yamlEdit';
import { accessWords, hubModelSummary, searchHubModels, sizeWords } from '../core/hubModels';
import type { HubModelSummary } from '../core/hubModels';

const RECENT_KEY = 'medvlm.recentBaseModels';
const MAX_RECENT = 8;
const SEARCH_DELAY_MS = 300;

interface ModelItem extends vscode.QuickPickItem {
  readonly modelId?: string;
}

export function registerPickBaseModel(accounts: Accounts, state: vscode.Memento, log: vscode.LogOutputChannel): vscode.Disposable {
  return vscode.commands.registerCommand('medvlm.pickBaseModel', async (arg?: unknown) => {
    const uri = arg instanceof vscode.Uri ? arg : vscode.window.activeTextEditor?.document.uri;
    if (uri === undefined || !/\.sft\.ya?ml$/.test(uri.path)) {
      void vscode.window.showErrorMessage('MedVLM: open a run config (*.sft.yaml) to pick its base model.');
      return;
    }
    const document = await vscode.workspace.openTextDocument(uri);
    const token = await accounts.hfToken();
    const modelId = await pick(token, state, log);
    if (modelId === undefined) return;
    const outcome = setValue(document.getText(), ['model', 'base'], modelId);
    if (!outcome.ok) {
      void vscode.window.showErrorMessage(`MedVLM: could not set model.base in ${vscode.workspace.asRelativePath(uri)}: ${outcome.message}`);
      return;
    }
    const edit = new vscode.WorkspaceEdit();
    for (const change of outcome.changes) {
      edit.replace(uri, new vscode.Range(document.positionAt(change.offset), document.positionAt(change.offset + change.length)), change.text);
    }
    if (!(await vscode.workspace.applyEdit(edit))) {
      void vscode.window.showErrorMessage(`MedVLM: VS Code did not apply the edit to ${vscode.workspace.asRelativePath(uri)} (read-only, or changed on disk?).`);
      return;
    }
    const recent = [modelId, ...state.get<string[]>(RECENT_KEY, []).filter((id) => id !== modelId)].slice(0, MAX_RECENT);
    await state.update(RECENT_KEY, recent);
  });
}

async function pick(token: string | undefined, state: vscode.Memento, log: vscode.LogOutputChannel): Promise<string | undefined> {
  const hub = hubUrl();
  const quickPick = vscode.window.createQuickPick<ModelItem>();
  quickPick.title = 'Base model (model.base)';
  quickPick.placeholder = `Type to search image-text-to-text models on ${hub}, or pick one below`;
  quickPick.matchOnDescription = true;
  quickPick.ignoreFocusOut = true;
  const summaries = new Map<string, HubModelSummary>();
  const access = new Map<string, ModelAccess>();
  const failures = new Map<string, string>();
  const presets = [...new Set(KNOWN_MODELS.filter((m) => !m.id.startsWith('tiny-')).map((m) => m.id))];
  const recent = state.get<string[]>(RECENT_KEY, []);
  let results: string[] = [];
  let searching = '';

  const item = (id: string): ModelItem => {
    const model = summaries.get(id);
    const failed = failures.get(id);
    return {
      label: id,
      modelId: id,
      description: model !== undefined ? sizeWords(model.parameters) : undefined,
      detail: failed ?? (model !== undefined ? accessWords(model, access.get(id)) : 'asking the Hub…'),
      // Search results are already filtered by the Hub; the typed text must not hide them.
      alwaysShow: results.includes(id),
    };
  };
  const render = (): void => {
    const active = quickPick.activeItems[0]?.modelId;
    const items: ModelItem[] = [];
    const section = (label: string, ids: readonly string[]): void => {
      if (ids.length === 0) return;
      items.push({ label, kind: vscode.QuickPickItemKind.Separator }, ...ids.map(item));
    };
    section(searching !== '' ? `Hub search: ${searching}` : '', results);
    section('Recent', recent.filter((id) => !results.includes(id)));
    section('Presets', presets.filter((id) => !results.includes(id) && !recent.includes(id)));
    quickPick.items = items;
    const again = items.find((i) => i.modelId !== undefined && i.modelId === active);
    if (again !== undefined) quickPick.activeItems = [again];
  };
  const describe = async (ids: readonly string[], known: boolean): Promise<void> => {
    await Promise.all(
      ids.map(async (id) => {
        try {
          if (!known) summaries.set(id, await hubModelSummary(id, { hubUrl: hub, token }));
          const model = summaries.get(id);
          if (model !== undefined && model.gated !== false) access.set(id, await checkModelAccess(id, token, hub));
        } catch (err) {
          failures.set(id, `could not ask the Hub: ${err instanceof Error ? err.message : String(err)}`);
        }
      }),
    );
    render();
  };

  let timer: NodeJS.Timeout | undefined;
  let generation = 0;
  quickPick.onDidChangeValue((value) => {
    clearTimeout(timer);
    const query = value.trim();
    if (query.length < 2) {
      results = [];
      searching = '';
      render();
      return;
    }
    timer = setTimeout(() => {
      const mine = ++generation;
      quickPick.busy = true;
      searchHubModels(query, { hubUrl: hub, token })
        .then(async (found) => {
          if (mine !== generation) return;
          for (const model of found) summaries.set(model.id, model);
          results = found.map((m) => m.id);
          searching = query;
          render();
          await describe(results, true);
        })
        .catch((err: unknown) => {
          log.warn(`base model search "${query}": ${err instanceof Error ? err.message : String(err)}`);
          if (mine === generation) quickPick.placeholder = `The Hub search failed (${err instanceof Error ? err.message : String(err)}); type a model id and press Enter, or pick below`;
        })
        .finally(() => {
          if (mine === generation) quickPick.busy = false;
        });
    }, SEARCH_DELAY_MS);
  });
  render();
  void describe([...recent, ...presets.filter((id) => !recent.includes(id))], false);
  quickPick.show();
  return new Promise<string | undefined>((resolve) => {
    quickPick.onDidAccept(() => {
      const chosen = quickPick.selectedItems[0]?.modelId ?? (/^[\w.-]+\/[\w.-]+$/.test(quickPick.value.trim()) ? quickPick.value.trim() : undefined);
      if (chosen === undefined) return;
      const got = access.get(chosen);
      if (got !== undefined && got.kind !== 'ok') {
        void vscode.window.showWarningMessage(`MedVLM: ${chosen} is ${accessWords(summaries.get(chosen) ?? { id: chosen, gated: 'auto', private: false, parameters: undefined, downloads: 0, task: undefined }, got)}. A run with it will not start until that is sorted.`);
      }
      resolve(chosen);
      quickPick.hide();
    });
    quickPick.onDidHide(() => {
      clearTimeout(timer);
      resolve(undefined);
      quickPick.dispose();
    });
  });
}
