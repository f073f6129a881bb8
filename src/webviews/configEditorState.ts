// The config editor host's pure parts, without `vscode` so they are unit-tested in Node:
// routing and schema-checking what the webview posts, turning a preset into one text change,
// describing a preset's changes for the confirmation, and the state's problems and banner.

import { parse } from 'yaml';
import type { DerivedNumber, DerivedNumbers } from '../core/config/derivedNumbers';
import type { EditResult, TextChange } from '../core/config/yamlEdit';
import { applyChanges } from '../core/config/yamlEdit';
import type { ConfigPath, JsonValue, ObjectSchema } from '../shared/configSchema';
import { arrayOf, dottedPath, isPlainObject, schemaAt, withDefaults } from '../shared/configSchema';
import type { Route } from '../shared/protocol/dispatch';
import { describeMessage, dispatch, MessageStats, on } from '../shared/protocol/dispatch';
import type { DatasetAction, DerivedItem, ProblemSeverity, StateProblem } from '../shared/protocol/configEditor';
import {
  AppendItemMessage,
  ApplyPresetMessage,
  DatasetActionMessage,
  MAX_PATH_DEPTH,
  MAX_PROBLEMS,
  MAX_TEXT_LENGTH,
  ReadyMessage,
  RemoveValueMessage,
  SetValueMessage,
  PickBaseModelMessage,
  ShowTextMessage,
  StartRunMessage,
} from '../shared/protocol/configEditor';

export interface ConfigEditorHandlers {
  ready(): void;
  set(path: ConfigPath, value: JsonValue): void;
  remove(path: ConfigPath): void;
  append(listPath: ConfigPath, item: JsonValue): void;
  applyPreset(presetId: string): void;
  startRun(): void;
  showText(): void;
  dataset(action: DatasetAction, source: number): void;
  pickBaseModel(): void;
}

/** After this many, rejected messages are logged only every LOG_EVERY-th time. */
const LOG_FIRST = 10;
const LOG_EVERY = 100;

/** True when `path` names a key the schema knows (through unions and list items). */
export function isSchemaPath(schema: ObjectSchema, path: ConfigPath): boolean {
  return path.length > 0 && schemaAt(schema, path) !== undefined;
}

/** A list item (`data.sources[1]`) or a schema key: what "remove" may name. */
function isRemovablePath(schema: ObjectSchema, path: ConfigPath): boolean {
  const last = path[path.length - 1];
  if (typeof last === 'number') {
    const parent = schemaAt(schema, path.slice(0, -1));
    return parent !== undefined && arrayOf(parent) !== undefined;
  }
  return isSchemaPath(schema, path);
}

/**
 * Returns the `onDidReceiveMessage` listener. Every message is validated against its token,
 * then its paths against the schema: the webview may only name keys the run config has, so a
 * compromised page cannot make the host write arbitrary structure. Rejections are counted
 * and logged (rate-limited), never thrown.
 */
export function createConfigEditorRouter(
  schema: ObjectSchema,
  handlers: ConfigEditorHandlers,
  log: (line: string) => void,
): { readonly receive: (data: unknown) => void; readonly stats: MessageStats } {
  const stats = new MessageStats();
  const report = (what: string): void => {
    const n = stats.rejected;
    if (n <= LOG_FIRST || n % LOG_EVERY === 0) {
      log(`config editor: ignored ${what} message #${n}`);
    }
  };
  /** Set by a route that refused its message: well-formed, but naming no key of the run config. */
  let refused: string | undefined;
  const outsideSchema = (kind: string, path: ConfigPath): void => {
    refused = `${kind} outside the schema (${dottedPath(path).slice(0, 200)})`;
  };
  const routes: readonly Route[] = [
    on(ReadyMessage, () => handlers.ready()),
    on(SetValueMessage, ({ path, value }) =>
      isSchemaPath(schema, path) ? handlers.set(path, value) : outsideSchema('setValue', path),
    ),
    on(RemoveValueMessage, ({ path }) => (isRemovablePath(schema, path) ? handlers.remove(path) : outsideSchema('removeValue', path))),
    on(AppendItemMessage, ({ listPath, item }) => {
      const node = schemaAt(schema, listPath);
      if (node !== undefined && arrayOf(node) !== undefined) handlers.append(listPath, item);
      else outsideSchema('appendItem', listPath);
    }),
    on(ApplyPresetMessage, ({ presetId }) => handlers.applyPreset(presetId)),
    on(StartRunMessage, () => handlers.startRun()),
    on(ShowTextMessage, () => handlers.showText()),
    on(PickBaseModelMessage, () => handlers.pickBaseModel()),
    on(DatasetActionMessage, ({ action, source }) => handlers.dataset(action, source)),
  ];
  const receive = (data: unknown): void => {
    refused = undefined;
    const outcome = dispatch(data, routes);
    if (outcome === 'handled' && refused !== undefined) {
      stats.record('malformed');
      report(refused);
    } else {
      stats.record(outcome);
      if (outcome !== 'handled') report(`${outcome} ${describeMessage(data)}`);
    }
  };
  return { receive, stats };
}

/** The one replacement that turns `before` into `after`: everything between their common ends. */
export function singleChange(before: string, after: string): TextChange | undefined {
  if (before === after) {
    return undefined;
  }
  let start = 0;
  const max = Math.min(before.length, after.length);
  while (start < max && before.charCodeAt(start) === after.charCodeAt(start)) start += 1;
  let end = 0;
  while (end < max - start && before.charCodeAt(before.length - 1 - end) === after.charCodeAt(after.length - 1 - end)) end += 1;
  return { offset: start, length: before.length - start - end, text: after.slice(start, after.length - end) };
}

/**
 * Runs several edits one after another (each on the text the previous one produced) and
 * returns them as one change into the original text, so a preset is one WorkspaceEdit and
 * one undo step. Stops at the first refusal.
 */
export function composeEdits(text: string, steps: readonly ((current: string) => EditResult)[]): EditResult {
  let current = text;
  for (const step of steps) {
    const outcome = step(current);
    if (!outcome.ok) {
      return outcome;
    }
    current = applyChanges(current, outcome.changes);
  }
  const change = singleChange(text, current);
  return { ok: true, changes: change === undefined ? [] : [change] };
}

export interface PresetValue {
  readonly path: ConfigPath;
  readonly value: JsonValue;
}

/** `train.learning_rate: 0.0002 (default) → 0.0001`, for each value the preset changes. */
export function describePresetChanges(schema: ObjectSchema, config: JsonValue | undefined, values: readonly PresetValue[]): string[] {
  const effective = withDefaults(schema, config ?? {});
  const lines: string[] = [];
  for (const { path, value } of values) {
    const written = valueAt(config, path);
    const now = written ?? valueAt(effective, path);
    if (written !== undefined && JSON.stringify(written) === JSON.stringify(value)) {
      continue;
    }
    const before = now === undefined ? '(not set)' : `${show(now)}${written === undefined ? ' (default)' : ''}`;
    lines.push(`${dottedPath(path)}: ${before} → ${show(value)}`);
  }
  return lines;
}

function valueAt(value: JsonValue | undefined, path: ConfigPath): JsonValue | undefined {
  let node = value;
  for (const part of path) {
    if (typeof part === 'number') node = Array.isArray(node) ? node[part] : undefined;
    else node = isPlainObject(node) && Object.hasOwn(node, part) ? node[part] : undefined;
    if (node === undefined) return undefined;
  }
  return node;
}

function show(value: JsonValue): string {
  const text = typeof value === 'string' ? value : JSON.stringify(value);
  return text.length > 120 ? `${text.slice(0, 117)}…` : text;
}

/** A problem as the language service reports it, with the line it starts on (1-based). */
export interface LocatedProblem {
  readonly path: ConfigPath;
  readonly message: string;
  readonly severity: ProblemSeverity;
  readonly code: string;
  readonly line?: number;
}

/** The problems the state carries, bounded as the protocol requires. */
export function stateProblems(problems: readonly LocatedProblem[]): StateProblem[] {
  return problems.slice(0, MAX_PROBLEMS).map((p) => ({
    path: p.path.slice(0, MAX_PATH_DEPTH).map((part) => (typeof part === 'string' ? part.slice(0, 256) : part)),
    message: p.message.slice(0, MAX_TEXT_LENGTH),
    severity: p.severity,
    code: p.code.slice(0, 1024),
  }));
}

/** Only "the file is empty": the form may write the first keys into it. */
export function isEmptyDocument(problems: readonly LocatedProblem[]): boolean {
  return problems.length > 0 && problems.every((p) => p.code === 'yaml-empty');
}

/** The read-only banner when the YAML cannot be read: its errors, with lines, so they can be found. */
export function readOnlyReason(problems: readonly LocatedProblem[]): string {
  const errors = problems.filter((p) => p.severity === 'error').slice(0, 5);
  const lines = errors.map((p) => `${p.line !== undefined ? `line ${p.line}: ` : ''}${p.message}`);
  const head = 'The YAML cannot be read, so the form cannot edit it; fix it in the text editor.';
  return [head, ...lines].join('\n').slice(0, MAX_TEXT_LENGTH);
}

/** The derived numbers in the order the panel shows them, with their labels. */
const DERIVED_ROWS: readonly (readonly [Exclude<keyof DerivedNumbers, 'memory'>, string])[] = [
  ['trainSamples', 'Training samples'],
  ['valSamples', 'Validation samples'],
  ['effectiveBatch', 'Effective batch size'],
  ['stepsPerEpoch', 'Steps per epoch'],
  ['totalSteps', 'Total steps'],
  ['epochs', 'Passes over the data'],
  ['warmupSteps', 'Warm-up steps'],
  ['evaluations', 'Evaluations'],
  ['checkpointsSaved', 'Checkpoints saved'],
  ['checkpointsKept', 'Checkpoints kept'],
];

/** Bounds a text for the protocol's short fields. */
const short = (text: string): string => (text.length > 1024 ? `${text.slice(0, 1023)}…` : text);

function numberText(n: DerivedNumber): string | undefined {
  if (n.value === null) {
    return undefined;
  }
  const text = n.value.toLocaleString('en-US');
  return n.exact ? text : `about ${text}`;
}

const gib = (value: number): string => `${value.toFixed(1)} GiB`;

/**
 * deriveNumbers' result as the panel's rows: formatted values, each with how it comes about
 * or, when unknown, why. Formatting happens here, so the webview only shows text.
 */
export function derivedItems(numbers: DerivedNumbers): DerivedItem[] {
  const items: DerivedItem[] = DERIVED_ROWS.map(([key, label]) => {
    const n = numbers[key];
    const value = numberText(n);
    return { key, label, ...(value !== undefined ? { value } : {}), ...(n.why !== '' ? { why: short(n.why) } : {}) };
  });
  const memory = numbers.memory;
  const breakdown =
    memory.breakdown === null
      ? []
      : [
          { label: 'weights', value: gib(memory.breakdown.weightsGiB) },
          { label: 'trainable + optimizer', value: gib(memory.breakdown.adaptersGiB) },
          { label: 'activations', value: gib(memory.breakdown.activationsGiB) },
          { label: 'CUDA and buffers', value: gib(memory.breakdown.overheadGiB) },
        ];
  if (memory.trainableParameters !== null) {
    breakdown.push({ label: 'trainable parameters', value: parameterText(memory.trainableParameters) });
  }
  items.push({
    key: 'memory',
    label: 'GPU memory per GPU',
    ...(memory.totalGiB !== null ? { value: `about ${gib(memory.totalGiB)}` } : {}),
    ...(memory.why !== '' ? { why: short(memory.why) } : {}),
    ...(breakdown.length > 0 ? { breakdown } : {}),
  });
  return items;
}

function parameterText(count: number): string {
  if (count >= 1e9) return `${(count / 1e9).toFixed(2)} B`;
  if (count >= 1e6) return `${(count / 1e6).toFixed(1)} M`;
  return count.toLocaleString('en-US');
}

/** `data.sources[index]` of a config's text, as far as it parses; undefined when there is none. */
export function dataSource(text: string, index: number): { readonly records?: unknown; readonly tasks?: unknown } | undefined {
  let doc: unknown;
  try {
    doc = parse(text, { maxAliasCount: 50 });
  } catch {
    return undefined;
  }
  const sources = isPlainObject(doc) && isPlainObject(doc.data) ? doc.data.sources : undefined;
  const source = Array.isArray(sources) ? (sources[index] as unknown) : undefined;
  return isPlainObject(source) ? source : undefined;
}
