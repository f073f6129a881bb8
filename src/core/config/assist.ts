// Hover text and completions for run configs, from the schema. Completions work on text that
// does not parse (the user is in the middle of typing a key), so the path of the cursor is
// found from indentation rather than from the YAML tree.

import type { ConfigPath, JsonValue, ObjectSchema, SchemaNode } from '../../shared/configSchema';
import { arrayOf, describeType, dottedPath, enumChoices, isNullable, objectOf, options, schemaAt } from '../../shared/configSchema';
import { RUN_CONFIG_SCHEMA } from './validateConfig';
import type { SourceRange } from './yamlSource';
import { pathAtOffset } from './configTree';
import { parseConfig } from './yamlSource';

export interface ConfigHover {
  readonly path: ConfigPath;
  readonly markdown: string;
  readonly range: SourceRange;
}

export type CompletionKind = 'section' | 'key' | 'value';

export interface ConfigCompletion {
  readonly label: string;
  readonly kind: CompletionKind;
  /** Plain text, or a snippet when `snippet` is true (`$1` tab stops). */
  readonly insertText: string;
  readonly snippet: boolean;
  readonly detail: string;
  readonly documentation: string;
  /** The text the completion replaces (the word typed so far). */
  readonly replace: SourceRange;
  readonly sortText: string;
}

/** Markdown describing a schema node: type, default and description. */
export function describeField(path: ConfigPath, schema: SchemaNode): string {
  const lines = [`**${dottedPath(path)}**: ${describeType(schema)}`];
  if (schema.hasDefault) {
    lines.push(`Default: \`${formatDefault(schema.default)}\``);
  } else if (schema.kind === 'object' && schema.required.size === 0) {
    lines.push('Optional section; every key has a default.');
  }
  if (schema.description) {
    lines.push('', schema.description);
  }
  return lines.join('\n\n').replace(/\n\n\n\n/g, '\n\n');
}

export function formatDefault(value: JsonValue | undefined): string {
  if (value === undefined) return '';
  if (value === null) return 'null';
  if (typeof value === 'string') return value;
  if (typeof value === 'number') return String(value);
  return JSON.stringify(value);
}

export function hoverAt(text: string, offset: number, schema: ObjectSchema = RUN_CONFIG_SCHEMA): ConfigHover | undefined {
  const parsed = parseConfig(text);
  let path: ConfigPath | undefined;
  let range: SourceRange | undefined;
  if (parsed.root !== undefined) {
    const found = pathAtOffset(parsed.root, offset);
    if (found !== undefined) {
      path = found.path;
      range = wordAround(text, offset);
    }
  }
  if (path === undefined) {
    const line = lineAt(text, offset);
    const key = /^(\s*)(-\s+)?([^\s:#'"][^:#]*?)\s*:(?:\s|$)/.exec(line.text);
    if (key === null) return undefined;
    const keyStart = line.start + key[1]!.length + (key[2]?.length ?? 0);
    const parent = key[2] !== undefined ? parentOfDash(text, line.index, key[1]!.length) : mappingPathAt(text, line.index, keyStart - line.start);
    if (parent === undefined) return undefined;
    path = [...parent, key[3]!];
    range = { start: keyStart, end: keyStart + key[3]!.length };
  }
  // Numeric parts (list items) hover as the list.
  while (path.length > 0 && typeof path[path.length - 1] === 'number') path = path.slice(0, -1);
  if (path.length === 0) return undefined;
  const node = schemaAt(schema, path);
  if (node === undefined || range === undefined) return undefined;
  return { path, markdown: describeField(path, node), range };
}

function wordAround(text: string, offset: number): SourceRange {
  let start = offset;
  let end = offset;
  while (start > 0 && /[^\s:#,[\]{}]/.test(text[start - 1]!)) start -= 1;
  while (end < text.length && /[^\s:#,[\]{}]/.test(text[end]!)) end += 1;
  return { start, end: Math.max(end, start) };
}

interface Line {
  readonly index: number;
  readonly start: number;
  readonly text: string;
}

function lineAt(text: string, offset: number): Line {
  const start = text.lastIndexOf('\n', offset - 1) + 1;
  let end = text.indexOf('\n', offset);
  if (end < 0) end = text.length;
  let index = 0;
  for (let i = text.indexOf('\n'); i >= 0 && i < start; i = text.indexOf('\n', i + 1)) index += 1;
  return { index, start, text: text.slice(start, end).replace(/\r$/, '') };
}

const KEY_LINE = /^(\s*)(-\s+)?([^\s:#'"-][^:#]*?|'[^']*'|"[^"]*")\s*:(?:\s|$)/;

function indentOf(line: string): number {
  return line.length - line.trimStart().length;
}

function unquote(key: string): string {
  return (key.startsWith('"') && key.endsWith('"')) || (key.startsWith("'") && key.endsWith("'")) ? key.slice(1, -1) : key;
}

/**
 * The path of the mapping that a key starting at `column` on line `lineIndex` belongs to,
 * found by walking up the indentation. Understands block sequences, including the
 * "indentless" form (`sources:` then `- records:` at the same column).
 */
export function mappingPathAt(text: string, lineIndex: number, column: number): ConfigPath | undefined {
  const lines = text.split('\n').map((l) => l.replace(/\r$/, ''));
  const path: (string | number)[] = [];
  let want = column;
  let itemColumn: number | undefined; // column of the `-` of the item we are inside, while counting
  let itemCount = 0;
  for (let l = lineIndex - 1; l >= 0 && want > 0; l -= 1) {
    const line = lines[l]!;
    const trimmed = line.trim();
    if (trimmed === '' || trimmed.startsWith('#') || trimmed === '---') continue;
    const ind = indentOf(line);
    if (itemColumn !== undefined) {
      // Counting earlier items of the same list until its key.
      if (ind === itemColumn && trimmed.startsWith('-')) {
        itemCount += 1;
        continue;
      }
      if (ind > itemColumn) continue;
      const key = KEY_LINE.exec(line);
      if (key === null || key[2] !== undefined) return undefined;
      path.unshift(unquote(key[3]!), itemCount);
      want = ind;
      itemColumn = undefined;
      continue;
    }
    if (ind >= want) continue;
    if (trimmed.startsWith('- ') || trimmed === '-') {
      // We are inside this list item (its content starts after the dash).
      itemColumn = ind;
      itemCount = 0;
      continue;
    }
    const key = KEY_LINE.exec(line);
    if (key === null) return undefined;
    if (key[2] !== undefined) {
      // `- key: value` on the parent line: the key's mapping is the list item.
      const dashColumn = ind;
      path.unshift(unquote(key[3]!));
      itemColumn = dashColumn;
      itemCount = 0;
      continue;
    }
    path.unshift(unquote(key[3]!));
    want = ind;
  }
  if (itemColumn !== undefined) return undefined; // a list at the top level
  return path;
}

/** Completions at `offset`: keys of the enclosing section, or values of the key on the line. */
export function completionsAt(text: string, offset: number, schema: ObjectSchema = RUN_CONFIG_SCHEMA): ConfigCompletion[] {
  const line = lineAt(text, offset);
  const before = line.text.slice(0, offset - line.start);
  const after = line.text.slice(offset - line.start);
  const valueMatch = /^(\s*)(-\s+)?([^\s:#'"-][^:#]*?|'[^']*'|"[^"]*")\s*:\s+(["']?)([^\s#"']*)$/.exec(before);
  if (valueMatch !== null) {
    const keyColumn = valueMatch[1]!.length + (valueMatch[2]?.length ?? 0);
    const parent = mappingPathAt(text, line.index, keyColumn);
    const key = unquote(valueMatch[3]!);
    if (parent === undefined) return [];
    const prefixParent = valueMatch[2] !== undefined ? parentOfDash(text, line.index, valueMatch[1]!.length) : parent;
    if (prefixParent === undefined) return [];
    const node = schemaAt(schema, [...prefixParent, key]);
    if (node === undefined) return [];
    const typed = valueMatch[5]!;
    const wordEnd = /^[^\s#"']*/.exec(after)![0].length;
    const replace = { start: offset - typed.length, end: offset + wordEnd };
    return valueCompletions([...prefixParent, key], node, replace, valueMatch[4] !== '');
  }
  const keyMatch = /^(\s*)(-\s+)?([A-Za-z_][\w.-]*)?$/.exec(before);
  if (keyMatch === null) return [];
  const indent = keyMatch[1]!.length;
  const typed = keyMatch[3] ?? '';
  const column = indent + (keyMatch[2]?.length ?? 0);
  let parent: ConfigPath | undefined;
  if (keyMatch[2] !== undefined) {
    // A new list item: its keys belong to the list's item schema.
    const list = listPathAt(text, line.index, indent);
    if (list === undefined) return [];
    const array = schemaAt(schema, list);
    const items = array ? arrayOf(array)?.items : undefined;
    if (items === undefined) return [];
    if (objectOf(items) === undefined) {
      const wordEnd = /^[^\s#]*/.exec(after)![0].length;
      return valueCompletions(list, items, { start: offset - typed.length, end: offset + wordEnd }, false);
    }
    parent = [...list, countItemsAbove(text, line.index, indent)];
  } else {
    parent = mappingPathAt(text, line.index, column);
  }
  if (parent === undefined) return [];
  const section = schemaAt(schema, parent);
  const object = section ? objectOf(section) : undefined;
  if (object === undefined) return [];
  const present = siblingKeys(text, line.index, column, keyMatch[2] !== undefined);
  const wordEnd = /^[\w.-]*/.exec(after)![0].length;
  const replace = { start: offset - typed.length, end: offset + wordEnd };
  const childIndent = ' '.repeat(column + detectIndentUnit(text));
  const out: ConfigCompletion[] = [];
  let order = 0;
  for (const [key, field] of object.properties) {
    order += 1;
    if (present.has(key)) continue;
    const isSection = objectOf(field) !== undefined && options(field).length === 1;
    const list = arrayOf(field);
    const listOfMappings = list !== undefined && objectOf(list.items) !== undefined && options(field).length === 1;
    let insertText: string;
    if (isSection) {
      insertText = `${key}:\n${childIndent}$0`;
    } else if (listOfMappings) {
      insertText = `${key}:\n${childIndent}- $0`;
    } else {
      insertText = `${key}: ${valueSnippet(field)}`;
    }
    out.push({
      label: key,
      kind: isSection ? 'section' : 'key',
      insertText,
      snippet: true,
      detail: describeType(field),
      documentation: describeField([...parent, key], field),
      replace,
      // Required keys first, then schema order (the order of the pydantic model).
      sortText: `${object.required.has(key) ? '0' : '1'}${String(order).padStart(3, '0')}`,
    });
  }
  return out;
}

function valueSnippet(field: SchemaNode): string {
  const choices = enumChoices(field);
  if (choices.length > 0 && choices.every((c) => /^[\w.-]+$/.test(c))) {
    const ordered = field.hasDefault && typeof field.default === 'string' ? [field.default, ...choices.filter((c) => c !== field.default)] : [...choices];
    return `\${1|${ordered.join(',')}|}`;
  }
  if (field.hasDefault && field.default !== null && typeof field.default !== 'object') {
    return `\${1:${escapeSnippet(formatDefault(field.default))}}`;
  }
  return '$1';
}

function escapeSnippet(text: string): string {
  return text.replace(/[$}\\]/g, (c) => `\\${c}`);
}

function valueCompletions(path: ConfigPath, node: SchemaNode, replace: SourceRange, quoted: boolean): ConfigCompletion[] {
  const out: ConfigCompletion[] = [];
  const add = (label: string, detail: string, sort: string): void => {
    out.push({ label, kind: 'value', insertText: label, snippet: false, detail, documentation: describeField(path, node), replace, sortText: sort });
  };
  const def = node.hasDefault ? formatDefault(node.default) : undefined;
  enumChoices(node).forEach((choice, i) => add(choice, choice === def ? 'default' : '', `0${String(i).padStart(3, '0')}`));
  if (!quoted) {
    if (options(node).some((o) => o.kind === 'boolean')) {
      add('true', def === 'true' ? 'default' : '', '1a');
      add('false', def === 'false' ? 'default' : '', '1b');
    }
    if (isNullable(node)) {
      add('null', def === 'null' ? 'default' : '', '2');
    }
    const numeric = options(node).some((o) => o.kind === 'integer' || o.kind === 'number');
    if (numeric && def !== undefined && def !== 'null') {
      add(def, 'default', '3');
    }
  }
  return out;
}

function detectIndentUnit(text: string): number {
  const match = /\n( +)\S/.exec(text);
  return match ? Math.min(match[1]!.length, 8) : 2;
}

/** The path of the list whose item starts with a dash at `dashColumn` on this line. */
function listPathAt(text: string, lineIndex: number, dashColumn: number): ConfigPath | undefined {
  const lines = text.split('\n').map((l) => l.replace(/\r$/, ''));
  for (let l = lineIndex - 1; l >= 0; l -= 1) {
    const line = lines[l]!;
    const trimmed = line.trim();
    if (trimmed === '' || trimmed.startsWith('#')) continue;
    const ind = indentOf(line);
    if (ind > dashColumn || (ind === dashColumn && trimmed.startsWith('-'))) continue;
    const key = KEY_LINE.exec(line);
    if (key === null || ind > dashColumn) return undefined;
    const keyColumn = ind + (key[2]?.length ?? 0);
    const parent = key[2] !== undefined ? parentOfDash(text, l, ind) : mappingPathAt(text, l, keyColumn);
    return parent === undefined ? undefined : [...parent, unquote(key[3]!)];
  }
  return undefined;
}

/** For a line `- key: value` whose dash is at `dashColumn`: the path of that list item. */
function parentOfDash(text: string, lineIndex: number, dashColumn: number): ConfigPath | undefined {
  const list = listPathAt(text, lineIndex, dashColumn);
  return list === undefined ? undefined : [...list, countItemsAbove(text, lineIndex, dashColumn)];
}

function countItemsAbove(text: string, lineIndex: number, dashColumn: number): number {
  const lines = text.split('\n');
  let count = 0;
  for (let l = lineIndex - 1; l >= 0; l -= 1) {
    const line = lines[l]!.replace(/\r$/, '');
    const trimmed = line.trim();
    if (trimmed === '' || trimmed.startsWith('#')) continue;
    const ind = indentOf(line);
    if (ind === dashColumn && trimmed.startsWith('-')) count += 1;
    else if (ind < dashColumn || (ind === dashColumn && !trimmed.startsWith('-'))) break;
  }
  return count;
}

/** Keys already written in the mapping that a key at `column` on this line belongs to. */
function siblingKeys(text: string, lineIndex: number, column: number, newItem: boolean): Set<string> {
  const lines = text.split('\n').map((l) => l.replace(/\r$/, ''));
  const keys = new Set<string>();
  const scan = (from: number, step: number): void => {
    for (let l = from; l >= 0 && l < lines.length; l += step) {
      const line = lines[l]!;
      const trimmed = line.trim();
      if (trimmed === '' || trimmed.startsWith('#')) continue;
      const match = KEY_LINE.exec(line);
      const ind = indentOf(line);
      const keyColumn = match ? ind + (match[2]?.length ?? 0) : ind;
      if (keyColumn < column || (match?.[2] !== undefined && ind < column)) {
        // The dash line of our own item holds a sibling key; anything else shallower ends the mapping.
        if (match && match[2] !== undefined && keyColumn === column && step < 0) keys.add(unquote(match[3]!));
        break;
      }
      if (keyColumn === column && match && match[2] === undefined) keys.add(unquote(match[3]!));
    }
  };
  // A new list item (`- ` on this line) has no keys above it.
  if (!newItem) scan(lineIndex - 1, -1);
  scan(lineIndex + 1, 1);
  return keys;
}
