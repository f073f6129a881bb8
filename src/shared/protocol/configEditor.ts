// The config editor's protocol, declared once. The webview never sends YAML text: it sends
// intents (set this path to this value, remove this path, append to this list, apply this
// preset) that the host turns into edits of the TextDocument, so undo, dirty state and
// comments stay VS Code's own. Both sides validate what they receive: the webview is a
// separate context, and the state carries text from the user's file and the trainer.

import type { ConfigPath, JsonValue } from '../configSchema';
import { defineMessage, isEmpty, isFiniteNumber, isObject, isString } from './message';

// Bounds keep a confused or hostile sender from making the other side allocate without limit.
/** The deepest config path is 5 parts (`data.sources[0].records`); 16 leaves room for growth. */
export const MAX_PATH_DEPTH = 16;
/** Config keys are Python identifiers; none is near this long. */
export const MAX_KEY_LENGTH = 64;
/** `data.sources` allows 256 items; list indices past this are junk. */
export const MAX_LIST_INDEX = 100_000;
/** Nesting of a value the form may write (a source card is 2 deep). */
export const MAX_VALUE_DEPTH = 8;
/** Scalars, keys and containers in one value. */
export const MAX_VALUE_NODES = 4096;
/** Longest string in a value; paths in the schema allow 4096 characters. */
export const MAX_VALUE_STRING = 8192;
export const MAX_PRESET_ID_LENGTH = 128;
export const MAX_TEXT_LENGTH = 16 * 1024;
export const MAX_PROBLEMS = 1000;
export const MAX_PRESETS = 100;
export const MAX_DERIVED_ITEMS = 64;

type Empty = Record<string, never>;

const KEY_PATTERN = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** A config key as the schema spells them: identifier-like, so never `__proto__`-style junk. */
export function isConfigKey(x: unknown): x is string {
  return isString(x) && x.length > 0 && x.length <= MAX_KEY_LENGTH && KEY_PATTERN.test(x) && x !== '__proto__';
}

export function isListIndex(x: unknown): x is number {
  return typeof x === 'number' && Number.isInteger(x) && x >= 0 && x <= MAX_LIST_INDEX;
}

/** A path of config keys and list indices; the empty path (the whole document) is not editable. */
export function isConfigPath(x: unknown): x is ConfigPath {
  return (
    Array.isArray(x) &&
    x.length > 0 &&
    x.length <= MAX_PATH_DEPTH &&
    x.every((part) => isConfigKey(part) || isListIndex(part))
  );
}

/** Problem paths may be the document root (`[]`) and name keys the schema does not know. */
function isProblemPath(x: unknown): x is ConfigPath {
  return (
    Array.isArray(x) &&
    x.length <= MAX_PATH_DEPTH &&
    x.every((part) => (isString(part) && part.length <= 256) || isListIndex(part))
  );
}

/**
 * JSON that fits the bounds: finite numbers, config-key object keys, plain arrays and objects,
 * at most MAX_VALUE_DEPTH deep and MAX_VALUE_NODES in all. Iterative budget, so a deep or
 * cyclic structure cannot blow the stack.
 */
export function isBoundedJson(x: unknown): x is JsonValue {
  let budget = MAX_VALUE_NODES;
  const walk = (value: unknown, depth: number): boolean => {
    budget -= 1;
    if (budget < 0 || depth > MAX_VALUE_DEPTH) {
      return false;
    }
    if (value === null || typeof value === 'boolean') {
      return true;
    }
    if (typeof value === 'number') {
      return Number.isFinite(value);
    }
    if (typeof value === 'string') {
      return value.length <= MAX_VALUE_STRING;
    }
    if (Array.isArray(value)) {
      return value.length <= MAX_VALUE_NODES && value.every((item) => walk(item, depth + 1));
    }
    if (isObject(value) && Object.getPrototypeOf(value) === Object.prototype) {
      const keys = Object.keys(value);
      return keys.length <= MAX_VALUE_NODES && keys.every((key) => isConfigKey(key) && walk(value[key], depth + 1));
    }
    return false;
  };
  return walk(x, 0);
}

function hasExactly(x: Record<string, unknown>, keys: readonly string[]): boolean {
  const own = Object.keys(x);
  return own.length === keys.length && own.every((key) => keys.includes(key));
}

// webview -> host.
export interface SetValuePayload {
  readonly path: ConfigPath;
  readonly value: JsonValue;
}
export interface RemoveValuePayload {
  readonly path: ConfigPath;
}
export interface AppendItemPayload {
  readonly listPath: ConfigPath;
  readonly item: JsonValue;
}
export interface ApplyPresetPayload {
  readonly presetId: string;
}

function isSetValuePayload(x: unknown): x is SetValuePayload {
  return isObject(x) && hasExactly(x, ['path', 'value']) && isConfigPath(x.path) && isBoundedJson(x.value);
}
function isRemoveValuePayload(x: unknown): x is RemoveValuePayload {
  return isObject(x) && hasExactly(x, ['path']) && isConfigPath(x.path);
}
function isAppendItemPayload(x: unknown): x is AppendItemPayload {
  return isObject(x) && hasExactly(x, ['listPath', 'item']) && isConfigPath(x.listPath) && isBoundedJson(x.item);
}
function isApplyPresetPayload(x: unknown): x is ApplyPresetPayload {
  return (
    isObject(x) &&
    hasExactly(x, ['presetId']) &&
    isString(x.presetId) &&
    x.presetId.length > 0 &&
    x.presetId.length <= MAX_PRESET_ID_LENGTH
  );
}

export const ReadyMessage = defineMessage<Empty>('configEditor/ready', isEmpty);
export const SetValueMessage = defineMessage<SetValuePayload>('configEditor/setValue', isSetValuePayload);
/** Removes a key (the trainer then uses its default) or, with an index last, a list item. */
export const RemoveValueMessage = defineMessage<RemoveValuePayload>('configEditor/removeValue', isRemoveValuePayload);
export const AppendItemMessage = defineMessage<AppendItemPayload>('configEditor/appendItem', isAppendItemPayload);
export const ApplyPresetMessage = defineMessage<ApplyPresetPayload>('configEditor/applyPreset', isApplyPresetPayload);
/** Runs `medvlm.startRun` on this editor's document; the webview cannot name another file. */
export const StartRunMessage = defineMessage<Empty>('configEditor/startRun', isEmpty);
/** Shows the document in a text editor beside the form. */
export const ShowTextMessage = defineMessage<Empty>('configEditor/showText', isEmpty);
/** Opens the Hub picker for this editor's `model.base` (`medvlm.pickBaseModel`). */
export const PickBaseModelMessage = defineMessage<Empty>('configEditor/pickBaseModel', isEmpty);

export type DatasetAction = 'preview' | 'check';
export interface DatasetActionPayload {
  readonly action: DatasetAction;
  /** Index into `data.sources`: the host reads the paths from the document, never from here. */
  readonly source: number;
}
/** "Preview samples" or "Check dataset" on one data source of this editor's config. */
export const DatasetActionMessage = defineMessage<DatasetActionPayload>(
  'configEditor/dataset',
  (x): x is DatasetActionPayload =>
    isObject(x) && hasExactly(x, ['action', 'source']) && (x.action === 'preview' || x.action === 'check') && Number.isInteger(x.source) && (x.source as number) >= 0 && (x.source as number) < 1000,
);

// host -> webview.
export type ProblemSeverity = 'error' | 'warning';
export type TrainerCheck = 'pending' | 'done' | 'unavailable';

export interface StateProblem {
  readonly path: ConfigPath;
  readonly message: string;
  readonly severity: ProblemSeverity;
  readonly code: string;
}

/** One derived number, already formatted by the host: a value, or why there is none. */
export interface DerivedItem {
  readonly key: string;
  readonly label: string;
  readonly value?: string;
  readonly why?: string;
  readonly breakdown?: readonly { readonly label: string; readonly value: string }[];
}

export interface PresetChoice {
  readonly id: string;
  readonly label: string;
  readonly detail: string;
}

export interface ConfigEditorState {
  readonly fileName: string;
  /** The TextDocument version this state describes. */
  readonly version: number;
  /** The parsed YAML; undefined while it does not parse (the form is then read-only). */
  readonly value?: JsonValue;
  /** Why the form cannot edit right now (YAML syntax errors), shown in a banner. */
  readonly readOnlyReason?: string;
  readonly problems: readonly StateProblem[];
  readonly trainerCheck: TrainerCheck;
  readonly trainerMessage?: string;
  readonly derived: readonly DerivedItem[];
  readonly presets: readonly PresetChoice[];
  /** Whether "Start SFT run" can run, and the reason when it cannot. */
  readonly startRun: { readonly enabled: boolean; readonly reason?: string };
}

export interface NoticePayload {
  readonly severity: 'error' | 'info';
  readonly message: string;
}

const isText = (max: number) => (x: unknown): x is string => isString(x) && x.length <= max;
const isShortText = isText(1024);
const isOptional = <T>(guard: (x: unknown) => x is T) => (x: unknown): x is T | undefined => x === undefined || guard(x);

function isStateProblem(x: unknown): x is StateProblem {
  return (
    isObject(x) &&
    isProblemPath(x.path) &&
    isText(MAX_TEXT_LENGTH)(x.message) &&
    (x.severity === 'error' || x.severity === 'warning') &&
    isShortText(x.code)
  );
}

function isBreakdownRow(x: unknown): x is { label: string; value: string } {
  return isObject(x) && isShortText(x.label) && isShortText(x.value);
}

export function isDerivedItem(x: unknown): x is DerivedItem {
  return (
    isObject(x) &&
    isShortText(x.key) &&
    isShortText(x.label) &&
    isOptional(isShortText)(x.value) &&
    isOptional(isText(MAX_TEXT_LENGTH))(x.why) &&
    isOptional((b: unknown): b is DerivedItem['breakdown'] => Array.isArray(b) && b.length <= 32 && b.every(isBreakdownRow))(x.breakdown)
  );
}

function isPresetChoice(x: unknown): x is PresetChoice {
  return isObject(x) && isText(MAX_PRESET_ID_LENGTH)(x.id) && isShortText(x.label) && isText(MAX_TEXT_LENGTH)(x.detail);
}

/** Parsed YAML from the user's file is bounded by the document, not by MAX_VALUE_*; only shape is checked. */
function isJson(x: unknown, depth = 0): x is JsonValue {
  if (depth > 64) {
    return false;
  }
  if (x === null || typeof x === 'boolean' || typeof x === 'string') {
    return true;
  }
  if (typeof x === 'number') {
    return Number.isFinite(x);
  }
  if (Array.isArray(x)) {
    return x.every((item) => isJson(item, depth + 1));
  }
  return isObject(x) && Object.values(x).every((item) => isJson(item, depth + 1));
}

export function isConfigEditorState(x: unknown): x is ConfigEditorState {
  return (
    isObject(x) &&
    isShortText(x.fileName) &&
    isFiniteNumber(x.version) &&
    (x.value === undefined || isJson(x.value)) &&
    isOptional(isText(MAX_TEXT_LENGTH))(x.readOnlyReason) &&
    Array.isArray(x.problems) &&
    x.problems.length <= MAX_PROBLEMS &&
    x.problems.every(isStateProblem) &&
    (x.trainerCheck === 'pending' || x.trainerCheck === 'done' || x.trainerCheck === 'unavailable') &&
    isOptional(isText(MAX_TEXT_LENGTH))(x.trainerMessage) &&
    Array.isArray(x.derived) &&
    x.derived.length <= MAX_DERIVED_ITEMS &&
    x.derived.every(isDerivedItem) &&
    Array.isArray(x.presets) &&
    x.presets.length <= MAX_PRESETS &&
    x.presets.every(isPresetChoice) &&
    isObject(x.startRun) &&
    typeof x.startRun.enabled === 'boolean' &&
    isOptional(isShortText)(x.startRun.reason)
  );
}

function isNoticePayload(x: unknown): x is NoticePayload {
  return isObject(x) && (x.severity === 'error' || x.severity === 'info') && isText(MAX_TEXT_LENGTH)(x.message);
}

/** The whole state, every time: the config is small, and a full snapshot cannot drift. */
export const StateMessage = defineMessage<ConfigEditorState>('configEditor/state', isConfigEditorState);
/** A one-off message for the banner, e.g. why an edit was refused. */
export const NoticeMessage = defineMessage<NoticePayload>('configEditor/notice', isNoticePayload);
