// The config form as data: the run config's schema and the parsed YAML become a tree of
// sections, fields and list cards, each with its value, its default and its problems. Pure
// (no DOM), so it is unit-tested in Node, and schema-driven: a new pydantic field appears in
// the form without touching this file.

import type { ConfigPath, JsonValue, ObjectSchema, SchemaNode } from '../../src/shared/configSchema';
import { describeType, isNullable, isPlainObject, options } from '../../src/shared/configSchema';
import type { StateProblem } from '../../src/shared/protocol/configEditor';
import { attachProblems } from './formProblems';
import type { CardListNode, CardNode, Control, FieldNode, FormModel, FormNode, NodeBase, ScalarKind } from './formTypes';
import { fieldId, pathKey } from './formTypes';
import { DEFAULT_KIND, kindOfValue, NULL_KIND, offsetOf, unionKinds } from './formUnion';

/** The value at `path`, or undefined where the path does not exist. */
export function valueAt(value: JsonValue | undefined, path: ConfigPath): JsonValue | undefined {
  let node: JsonValue | undefined = value;
  for (const part of path) {
    if (typeof part === 'number') {
      node = Array.isArray(node) ? node[part] : undefined;
    } else {
      node = isPlainObject(node) && Object.hasOwn(node, part) ? node[part] : undefined;
    }
    if (node === undefined) {
      return undefined;
    }
  }
  return node;
}

/** A value as the form shows it: strings bare, everything else as JSON (`null`, `[1, 2]`). */
export function formatValue(value: JsonValue): string {
  if (typeof value === 'string') {
    return value;
  }
  return JSON.stringify(value).replace(/,(?=\S)/g, ', ');
}

export interface BuildOptions {
  /** Union kinds the user picked that the YAML does not show yet (path key -> kind id). */
  readonly pendingKinds?: ReadonlyMap<string, string>;
}

export function buildForm(
  schema: ObjectSchema,
  value: JsonValue | undefined,
  problems: readonly StateProblem[],
  opts: BuildOptions = {},
): FormModel {
  const pending = opts.pendingKinds ?? new Map<string, string>();
  const nodes = objectChildren(schema, value, [], pending, undefined);
  const unplaced = attachProblems(nodes, problems);
  return { nodes, unplaced };
}

function objectChildren(
  object: ObjectSchema,
  value: JsonValue | undefined,
  path: ConfigPath,
  pending: ReadonlyMap<string, string>,
  wrap: ConfigPath | undefined,
): FormNode[] {
  const mapping = isPlainObject(value) ? value : undefined;
  const out: FormNode[] = [];
  for (const [key, child] of object.properties) {
    const childPath = [...path, key];
    const present = mapping !== undefined && Object.hasOwn(mapping, key);
    const childValue = present ? mapping[key] : undefined;
    out.push(buildNode(key, child, childValue, present, childPath, object.required.has(key), pending, wrap));
  }
  return out;
}

function buildNode(
  key: string,
  node: SchemaNode,
  value: JsonValue | undefined,
  present: boolean,
  path: ConfigPath,
  required: boolean,
  pending: ReadonlyMap<string, string>,
  wrap: ConfigPath | undefined,
): FormNode {
  const base = { path, id: fieldId(path), key, description: node.description ?? '', problems: [] as StateProblem[] };
  // A plain sub-mapping (`data.image`, `launch.slurm`) is a section; a union with a mapping
  // alternative (`window`) stays a field with a kind picker.
  if (node.kind === 'object') {
    return {
      ...base,
      type: 'section',
      present,
      notMapping: present && !isPlainObject(value),
      children: objectChildren(node, value, path, pending, wrap),
      problemCount: 0,
    };
  }
  if (node.kind === 'array' && node.items.kind === 'object' && wrap === undefined) {
    return cardList(base, node.items, node.minItems, node.maxItems, value, pending);
  }
  return buildField(base, node, value, present, required, pending, wrap);
}

function cardList(
  base: NodeBase,
  item: ObjectSchema,
  minItems: number | undefined,
  maxItems: number | undefined,
  value: JsonValue | undefined,
  pending: ReadonlyMap<string, string>,
): CardListNode {
  const list = Array.isArray(value) ? value : [];
  const itemLabel = singular(base.key);
  const items = list.map((entry, index): CardNode => {
    const path = [...base.path, index];
    return {
      type: 'card',
      path,
      id: fieldId(path),
      key: String(index),
      description: item.description ?? '',
      problems: [],
      title: cardTitle(itemLabel, index, entry, item),
      children: objectChildren(item, entry, path, pending, undefined),
    };
  });
  return {
    ...base,
    type: 'cards',
    itemLabel,
    items,
    canAdd: maxItems === undefined || list.length < maxItems,
    canRemove: list.length > (minItems ?? 0),
    newItem: skeleton(item),
  };
}

function singular(key: string): string {
  const words = key.replace(/_/g, ' ');
  return words.endsWith('s') && !words.endsWith('ss') ? words.slice(0, -1) : words;
}

/** `source 2: detection`: the item's `name`, else its first required text, else the number. */
function cardTitle(itemLabel: string, index: number, entry: JsonValue, item: ObjectSchema): string {
  const heading = `${itemLabel} ${index + 1}`;
  if (!isPlainObject(entry)) {
    return heading;
  }
  const candidates = ['name', ...item.required];
  for (const key of candidates) {
    const text = entry[key];
    if (typeof text === 'string' && text.trim() !== '') {
      return `${heading}: ${text.trim()}`;
    }
  }
  return heading;
}

/** A new list item: required keys only, with their defaults or empty values of their type. */
export function skeleton(object: ObjectSchema): JsonValue {
  const out: { [key: string]: JsonValue } = {};
  for (const key of object.required) {
    const node = object.properties.get(key);
    if (node !== undefined) {
      out[key] = emptyValue(node);
    }
  }
  return out;
}

function emptyValue(node: SchemaNode): JsonValue {
  if (node.hasDefault && node.default !== undefined) {
    return node.default;
  }
  const first = options(node)[0] ?? node;
  switch (first.kind) {
    case 'object':
      return skeleton(first);
    case 'array':
      return [];
    case 'string':
      return first.enum?.[0] ?? '';
    case 'integer':
    case 'number':
      return first.minimum ?? 0;
    case 'boolean':
      return false;
    default:
      return null;
  }
}

function buildField(
  base: NodeBase,
  node: SchemaNode,
  value: JsonValue | undefined,
  present: boolean,
  required: boolean,
  pending: ReadonlyMap<string, string>,
  wrap: ConfigPath | undefined,
): FieldNode {
  const nullable = isNullable(node);
  const defaultText = node.hasDefault && node.default !== undefined ? formatValue(node.default) : undefined;
  const common = {
    ...base,
    type: 'field' as const,
    present,
    value,
    hasDefault: node.hasDefault,
    defaultText,
    required,
    nullable,
    typeText: describeType(node),
    ...(wrap !== undefined ? { wrap } : {}),
  };
  const alternatives = options(node);
  // One alternative plus a null that is also the default (`resume_from`, `gpus`) needs no
  // picker: clearing the field removes the key, which means null.
  const needsPicker = alternatives.length > 1 || (nullable && node.hasDefault && node.default !== null);
  if (!needsPicker) {
    const only = alternatives[0] ?? node;
    return { ...common, control: controlFor(only, value, base.path, pending) };
  }
  const kinds = unionKinds(alternatives, nullable, node.hasDefault, defaultText);
  const fromValue = present ? kindOfValue(alternatives, kinds, value) : DEFAULT_KIND;
  const wanted = pending.get(pathKey(base.path));
  const selected = wanted !== undefined && kinds.some((k) => k.id === wanted) ? wanted : fromValue;
  const index = kinds.findIndex((k) => k.id === selected);
  const alternative = selected === DEFAULT_KIND || selected === NULL_KIND ? undefined : alternatives[index - offsetOf(kinds)];
  // Only show the value in a control of its own kind; a pending kind starts empty.
  const shown = selected === fromValue ? value : undefined;
  const control: Control = alternative === undefined ? { kind: 'none' } : controlFor(alternative, shown, base.path, pending);
  return { ...common, control, union: { kinds, selected } };
}

function controlFor(
  node: SchemaNode,
  value: JsonValue | undefined,
  path: ConfigPath,
  pending: ReadonlyMap<string, string>,
): Control {
  switch (node.kind) {
    case 'string':
      if (node.enum !== undefined) {
        return { kind: 'enum', choices: node.enum, selected: value === undefined || value === null ? undefined : formatValue(value) };
      }
      return { kind: 'text', text: displayText(value), ...(node.maxLength !== undefined ? { maxLength: node.maxLength } : {}) };
    case 'integer':
    case 'number': {
      const min = node.minimum ?? node.exclusiveMinimum;
      const max = node.maximum ?? node.exclusiveMaximum;
      return {
        kind: 'number',
        integer: node.kind === 'integer',
        text: displayText(value),
        ...(min !== undefined ? { min } : {}),
        ...(max !== undefined ? { max } : {}),
      };
    }
    case 'boolean': {
      const fallback = node.hasDefault && typeof node.default === 'boolean' ? node.default : false;
      return { kind: 'boolean', checked: typeof value === 'boolean' ? value : fallback };
    }
    case 'array': {
      const item = node.items;
      if (item.kind === 'string' && item.enum !== undefined) {
        const selected = Array.isArray(value) ? value.filter((v): v is string => typeof v === 'string') : [];
        return { kind: 'enumList', choices: item.enum, selected };
      }
      if (item.kind === 'string' || item.kind === 'integer' || item.kind === 'number') {
        return { kind: 'list', itemKind: item.kind, text: listText(value, item.kind) };
      }
      return { kind: 'json', text: value === undefined ? '' : JSON.stringify(value) };
    }
    case 'object': {
      // The union's mapping alternative; until the value is a mapping, edits write the whole mapping.
      const wrap = isPlainObject(value) ? undefined : path;
      return { kind: 'object', fields: objectChildren(node, value, path, pending, wrap) };
    }
    default:
      return { kind: 'json', text: value === undefined ? '' : JSON.stringify(value) };
  }
}

function displayText(value: JsonValue | undefined): string {
  return value === undefined || value === null ? '' : formatValue(value);
}

function listText(value: JsonValue | undefined, itemKind: ScalarKind): string {
  if (value === undefined || value === null) {
    return '';
  }
  if (!Array.isArray(value)) {
    return formatValue(value);
  }
  return value.map(formatValue).join(itemKind === 'string' ? '\n' : ', ');
}

