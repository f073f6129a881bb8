// Entry point of the config editor webview (bundled to dist/webview/configEditor.js). The
// schema is bundled in; the host sends full state snapshots (the parsed YAML, its problems,
// the derived numbers) and receives intents, never text. The page holds nothing the host
// cannot resend except which union kinds the user picked before writing a value.

import schemaJson from '../../media/run-config.schema.json';
import type { JsonValue } from '../../src/shared/configSchema';
import { dottedPath, loadSchema } from '../../src/shared/configSchema';
import type { ConfigEditorState } from '../../src/shared/protocol/configEditor';
import {
  AppendItemMessage,
  DatasetActionMessage,
  ApplyPresetMessage,
  NoticeMessage,
  ReadyMessage,
  RemoveValueMessage,
  SetValueMessage,
  PickBaseModelMessage,
  ShowTextMessage,
  StartRunMessage,
  StateMessage,
} from '../../src/shared/protocol/configEditor';
import { on } from '../../src/shared/protocol/dispatch';
import { listenToHost, postToHost, savedPageState, savePageState } from '../shared/vscodeApi';
import { ConfigForm } from './form';
import { problemLocation } from './formInput';
import { buildForm, valueAt } from './formModel';
import type { FieldNode, FormModel } from './formTypes';
import { pathKey, walkNodes } from './formTypes';
import type { ConfigEditorTestHooks, FieldSnapshot } from './testHooks';
import { ConfigEditorPage } from './view';

interface PendingKind {
  readonly kind: string;
  /** The value at the path when the kind was picked; once the YAML changes there, the YAML wins. */
  readonly before: string;
}

function start(): void {
  const schema = loadSchema(schemaJson);
  const root = document.getElementById('app') ?? document.body;
  let state: ConfigEditorState | undefined;
  /** The last value that parsed: shown (read-only) while the YAML has a syntax error. */
  let lastValue: JsonValue | undefined;
  let model: FormModel | undefined;
  let readOnly = true;
  let noticeVersion: number | undefined;
  const pending = new Map<string, PendingKind>();

  const page = new ConfigEditorPage(root, {
    applyPreset: (presetId) => postToHost(ApplyPresetMessage, { presetId }),
    startRun: () => postToHost(StartRunMessage, {}),
    showText: () => postToHost(ShowTextMessage, {}),
  });
  // VS Code discards a hidden webview and reloads it when shown: keep open sections and the
  // scroll position across that.
  const saved = readSavedState(savedPageState());
  let pageState: SavedState = saved;
  const save = (next: Partial<SavedState>): void => {
    pageState = { ...pageState, ...next };
    savePageState(pageState);
  };
  let scrollTimer: ReturnType<typeof setTimeout> | undefined;
  window.addEventListener('scroll', () => {
    if (scrollTimer !== undefined) clearTimeout(scrollTimer);
    scrollTimer = setTimeout(() => save({ scrollY: window.scrollY }), 150);
  });
  let restoredScroll = false;
  const form = new ConfigForm(page.formRoot, {
    set: (path, value) => postToHost(SetValueMessage, { path: [...path], value }),
    remove: (path) => postToHost(RemoveValueMessage, { path: [...path] }),
    append: (listPath, item) => postToHost(AppendItemMessage, { listPath: [...listPath], item }),
    dataset: (action, source) => postToHost(DatasetActionMessage, { action, source }),
    pickBaseModel: () => postToHost(PickBaseModelMessage, {}),
    pickKind: (path, kind) => {
      pending.set(pathKey(path), { kind, before: JSON.stringify(valueAt(lastValue, path) ?? null) });
      render();
    },
  }, new Map(Object.entries(saved.openSections)), (open) => save({ openSections: Object.fromEntries(open) }));

  const render = (): void => {
    if (state === undefined) {
      return;
    }
    if (state.value !== undefined) {
      lastValue = state.value;
    }
    const reason =
      state.readOnlyReason ?? (state.value === undefined ? 'The YAML cannot be read; fix it in the text editor.' : undefined);
    readOnly = reason !== undefined;
    for (const [key, entry] of pending) {
      const path = key.split('.').map((part) => (/^\d+$/.test(part) ? Number(part) : part));
      if (JSON.stringify(valueAt(lastValue, path) ?? null) !== entry.before) {
        pending.delete(key);
      }
    }
    const kinds = new Map([...pending].map(([key, entry]) => [key, entry.kind]));
    model = buildForm(schema, lastValue, state.problems, { pendingKinds: kinds });
    page.renderState(state, reason, model.unplaced);
    form.render(model, readOnly);
    document.body.dataset.version = String(state.version);
    if (!restoredScroll) {
      restoredScroll = true;
      restoreScroll(saved.scrollY);
    }
  };

  const stats = listenToHost([
    on(StateMessage, (next) => {
      if (noticeVersion !== undefined && next.version !== noticeVersion) {
        // The document changed since the notice (an edit went through, or the text was fixed).
        page.showNotice('info', undefined);
        noticeVersion = undefined;
      }
      state = next;
      render();
    }),
    on(NoticeMessage, ({ severity, message }) => {
      page.showNotice(severity, message);
      noticeVersion = state?.version;
    }),
  ]);

  const fields = (): FieldNode[] => {
    const out: FieldNode[] = [];
    if (model !== undefined) walkNodes(model.nodes, (node) => node.type === 'field' && out.push(node));
    return out;
  };
  const testHooks: ConfigEditorTestHooks = {
    fieldPaths: () => fields().map((field) => dottedPath(field.path)),
    field: (path) => {
      const field = fields().find((f) => dottedPath(f.path) === path);
      return field === undefined ? undefined : snapshot(field, readOnly);
    },
    unplacedProblems: () => (model?.unplaced ?? []).map((p) => `${p.severity} ${problemLocation(p)}: ${p.message}`),
    readOnly: () => readOnly,
    version: () => state?.version,
    rejectedMessages: () => stats.rejected,
  };
  window.__medvlmConfigEditor = testHooks;
  postToHost(ReadyMessage, {});
}

/** The form's custom elements lay out over a few frames: scroll once the page is tall enough. */
function restoreScroll(y: number, framesLeft = 60): void {
  window.scrollTo(0, y);
  if (Math.abs(window.scrollY - y) > 1 && framesLeft > 0) {
    requestAnimationFrame(() => restoreScroll(y, framesLeft - 1));
  }
}

interface SavedState {
  readonly openSections: Readonly<Record<string, boolean>>;
  readonly scrollY: number;
}

function readSavedState(raw: unknown): SavedState {
  const empty: SavedState = { openSections: {}, scrollY: 0 };
  if (typeof raw !== 'object' || raw === null) return empty;
  const r = raw as { openSections?: unknown; scrollY?: unknown };
  const openSections: Record<string, boolean> = {};
  if (typeof r.openSections === 'object' && r.openSections !== null) {
    for (const [key, open] of Object.entries(r.openSections).slice(0, 1000)) {
      if (typeof open === 'boolean' && key.length <= 1000) openSections[key] = open;
    }
  }
  const scrollY = typeof r.scrollY === 'number' && Number.isFinite(r.scrollY) && r.scrollY >= 0 ? r.scrollY : 0;
  return { openSections, scrollY };
}

function snapshot(field: FieldNode, readOnly: boolean): FieldSnapshot {
  const control = field.control;
  let shown: FieldSnapshot['shown'];
  switch (control.kind) {
    case 'text':
    case 'number':
    case 'list':
    case 'json':
      shown = control.text;
      break;
    case 'enum':
      shown = control.selected;
      break;
    case 'boolean':
      shown = control.checked;
      break;
    case 'enumList':
      shown = control.selected;
      break;
    default:
      shown = undefined;
  }
  return {
    kind: control.kind,
    present: field.present,
    value: field.value,
    shown,
    defaultText: field.defaultText,
    unionKind: field.union?.selected,
    disabled: readOnly,
    problems: field.problems.map((p) => `${p.severity}: ${p.message}`),
  };
}

start();
