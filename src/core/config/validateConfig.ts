// Structural checks of a run config against the generated JSON schema, on the YAML tree so
// every problem has the exact range of the offending key or value (design contract 7).
// Types follow the trainer's strict pydantic model: `"5"` is text, `2.0` is not an integer,
// `1` is not a boolean. Cross-field rules and data checks are the trainer's
// (`medvlm-sft validate --json`); this module never guesses them.
//
// Why not a generic JSON-schema validator: it would check plain values, losing the YAML
// ranges and the int/float distinction, and its messages would not say how to fix things.
// The schema uses a dozen keywords (loadSchema refuses others), so walking it is small.

import schemaJson from '../../../media/run-config.schema.json';
import type { ConfigPath, JsonValue, NumberSchema, ObjectSchema, SchemaNode, StringSchema } from '../../shared/configSchema';
import { describeType, dottedPath, enumChoices, loadSchema, options } from '../../shared/configSchema';
import { firstSentence, listSize, orList, show, sizeText, stringMessage } from './configMessages';
import { closestMatch } from './similarity';
import type { ConfigNode, ConfigProblem, MapNode, ParsedConfig, ScalarNode, SourceRange, TextFix } from './yamlSource';
import { parseConfig, pathKey } from './yamlSource';

export const RUN_CONFIG_SCHEMA: ObjectSchema = loadSchema(schemaJson);

/** Codes this module (and yamlSource) produce; the trainer's other codes are cross-field or data checks. */
export const STRUCTURAL_CODES: ReadonlySet<string> = new Set([
  'unknown-key',
  'missing-key',
  'invalid-choice',
  'not-a-mapping',
  'invalid-value',
  'yaml-syntax',
  'yaml-tab',
  'yaml-duplicate-key',
  'yaml-tag',
  'yaml-complex-key',
  'yaml-merge',
  'yaml-too-deep',
  'yaml-too-many-values',
  'yaml-value-too-long',
  'yaml-too-large',
  'yaml-binary',
  'yaml-empty',
  'yaml-not-mapping',
  'yaml-bad-number',
  'internal-error',
]);

export interface ConfigCheck {
  readonly parsed: ParsedConfig;
  readonly problems: readonly ConfigProblem[];
}

/** Parse and check config text against the run-config schema. Never throws. */
export function checkConfigText(text: string, schema: ObjectSchema = RUN_CONFIG_SCHEMA): ConfigCheck {
  const parsed = parseConfig(text);
  if (parsed.root === undefined) {
    return { parsed, problems: parsed.problems };
  }
  const checker = new Checker(text, parsed.reported);
  try {
    checker.object(schema, parsed.root, [], undefined);
  } catch (err) {
    const message = `checking the config failed unexpectedly (${String(err)}); please report this`;
    return { parsed, problems: [{ path: [], message, severity: 'error', code: 'internal-error', range: { start: 0, end: Math.min(1, text.length) } }] };
  }
  const problems = [...parsed.problems, ...checker.problems].sort((a, b) => a.range.start - b.range.start || (a.severity === b.severity ? 0 : a.severity === 'error' ? -1 : 1));
  return { parsed, problems };
}

export function hasErrors(problems: readonly ConfigProblem[]): boolean {
  return problems.some((p) => p.severity === 'error');
}

class Checker {
  readonly problems: ConfigProblem[] = [];

  constructor(
    private readonly text: string,
    private readonly reported: ReadonlySet<string>,
  ) {}

  private add(path: ConfigPath, range: SourceRange, message: string, code: string, fixes?: TextFix[]): void {
    for (let n = 0; n <= path.length; n += 1) {
      if (this.reported.has(pathKey(path.slice(0, n)))) return; // the loader already said what is wrong there
    }
    this.problems.push({ path, message, severity: 'error', code, range: this.head(range), ...(fixes && fixes.length > 0 ? { fixes } : {}) });
  }

  /** The first line of a multi-line range, so a diagnostic does not paint a whole block. */
  private head(range: SourceRange): SourceRange {
    const newline = this.text.indexOf('\n', range.start);
    if (newline < 0 || newline >= range.end) return range;
    const end = this.text.slice(range.start, newline).trimEnd().length + range.start;
    return { start: range.start, end: Math.max(end, range.start + 1) };
  }

  /** `parentKey` is where a missing key is reported: the section's own key. */
  object(schema: ObjectSchema, node: MapNode, path: ConfigPath, parentKey: SourceRange | undefined): void {
    const present = new Set<string>();
    for (const entry of node.entries) {
      present.add(entry.key);
      const child = [...path, entry.key];
      const field = schema.properties.get(entry.key);
      if (field === undefined) {
        this.add(child, entry.keyRange, unknownKeyMessage(schema, path, entry.key), 'unknown-key', this.keyFixes(schema, entry.key, entry.keyRange));
        continue;
      }
      this.value(field, entry.value, child, entry.keyRange);
    }
    for (const key of schema.required) {
      if (!present.has(key)) {
        const field = schema.properties.get(key);
        const hint = field?.description ? ` (${firstSentence(field.description)})` : '';
        const where = path.length > 0 ? ` in \`${dottedPath(path)}\`` : ' at the top level';
        const at = parentKey ?? node.range;
        this.add([...path, key], path.length === 0 ? { start: 0, end: Math.min(1, this.text.length) } : at, `missing required key \`${key}\`${where}${hint}`, 'missing-key');
      }
    }
  }

  value(schema: SchemaNode, node: ConfigNode, path: ConfigPath, keyRange: SourceRange | undefined): void {
    if (accepts(schema, node)) {
      this.children(schema, node, path, keyRange);
      return;
    }
    // A mapping where a section (or a union with a section) is expected: check inside it, so
    // the problem points at the wrong key rather than at the whole block.
    const object = options(schema).find((o): o is ObjectSchema => o.kind === 'object');
    if (object !== undefined && node.kind === 'map') {
      this.object(object, node, path, keyRange);
      return;
    }
    const array = options(schema).find((o) => o.kind === 'array');
    if (array !== undefined && array.kind === 'array' && node.kind === 'seq' && !sizeOk(array, node.items.length)) {
      this.add(path, node.range, `${listSize(node.items.length)}; ${sizeText(array)}`, 'invalid-value');
      return;
    }
    if (array !== undefined && array.kind === 'array' && node.kind === 'seq') {
      node.items.forEach((item, index) => this.value(array.items, item, [...path, index], undefined));
      return;
    }
    const range = node.kind === 'scalar' && node.range.end === node.range.start && keyRange !== undefined ? keyRange : node.range;
    const { message, code, fixes } = this.mismatch(schema, node);
    this.add(path, range, message, code, fixes);
  }

  private children(schema: SchemaNode, node: ConfigNode, path: ConfigPath, keyRange: SourceRange | undefined): void {
    if (node.kind === 'map') {
      const object = options(schema).find((o): o is ObjectSchema => o.kind === 'object');
      if (object) this.object(object, node, path, keyRange);
    } else if (node.kind === 'seq') {
      const array = options(schema).find((o) => o.kind === 'array');
      if (array && array.kind === 'array') node.items.forEach((item, index) => this.value(array.items, item, [...path, index], undefined));
    }
  }

  private mismatch(schema: SchemaNode, node: ConfigNode): { message: string; code: string; fixes?: TextFix[] } {
    const got = show(node);
    const choices = enumChoices(schema);
    const kinds = options(schema);
    if (kinds.length === 1 && kinds[0]!.kind === 'object') {
      return { message: `expected a mapping of \`key: value\` settings here, got ${got}`, code: 'not-a-mapping' };
    }
    if (node.kind === 'scalar') {
      // Out of range for the one numeric option that matches the type.
      const numeric = kinds.find((o): o is NumberSchema => (o.kind === 'integer' || o.kind === 'number') && typeMatches(o, node));
      if (numeric !== undefined && typeof node.value === 'number') {
        const fixes = this.rangeFixes(numeric, node);
        const message = !Number.isFinite(node.value) ? `${got} should be a finite number` : `${got} is out of range; expected ${describeType(numeric)}`;
        return { message, code: 'invalid-value', ...(fixes.length > 0 ? { fixes } : {}) };
      }
      const text = kinds.find((o): o is StringSchema => o.kind === 'string' && o.enum === undefined);
      if (text !== undefined && node.type === 'str') {
        return { message: stringMessage(text, node), code: 'invalid-value' };
      }
      if (choices.length > 0 && node.type === 'str') {
        const close = closestMatch(node.text, choices);
        const message = `${got} should be ${orList(choices.map((c) => `\`${c}\``))}${close ? `; did you mean \`${close}\`?` : ''}`;
        return { message, code: 'invalid-choice', ...(close ? { fixes: [this.replaceFix(node.range, close, `Change to \`${close}\``)] } : {}) };
      }
      const fixes = this.typeFixes(schema, node);
      const code = choices.length > 0 && kinds.every((o) => o.kind === 'string') ? 'invalid-choice' : 'invalid-value';
      return { message: typeMessage(schema, node), code, ...(fixes.length > 0 ? { fixes } : {}) };
    }
    return { message: `${got} should be ${describeType(schema)}`, code: choices.length > 0 && kinds.every((o) => o.kind === 'string') ? 'invalid-choice' : 'invalid-value' };
  }

  private replaceFix(range: SourceRange, text: string, title: string): TextFix {
    return { title, edits: [{ range, text }] };
  }

  private keyFixes(schema: ObjectSchema, key: string, range: SourceRange): TextFix[] {
    const close = closestMatch(key, [...schema.properties.keys()]);
    const fixes: TextFix[] = [];
    if (close !== undefined) fixes.push(this.replaceFix(range, close, `Change to \`${close}\``));
    const lineStart = this.text.lastIndexOf('\n', range.start - 1) + 1;
    if (this.text.slice(lineStart, range.start).trim() === '') {
      fixes.push({ title: `Remove \`${key}\``, edits: [{ range: entryLines(this.text, lineStart, range.start - lineStart), text: '' }] });
    }
    return fixes;
  }

  private rangeFixes(schema: NumberSchema, node: ScalarNode): TextFix[] {
    const value = node.value as number;
    const fixes: TextFix[] = [];
    const write = (n: number): string => (node.type === 'float' && Number.isInteger(n) ? `${n}.0` : String(n));
    if (schema.maximum !== undefined && value > schema.maximum) fixes.push(this.replaceFix(node.range, write(schema.maximum), `Set to the maximum, ${schema.maximum}`));
    if (schema.minimum !== undefined && value < schema.minimum) fixes.push(this.replaceFix(node.range, write(schema.minimum), `Set to the minimum, ${schema.minimum}`));
    return fixes;
  }

  private typeFixes(schema: SchemaNode, node: ScalarNode): TextFix[] {
    const kinds = options(schema);
    const fixes: TextFix[] = [];
    if (node.quoted && node.type === 'str') {
      const unquoted = parseConfig(`x: ${node.text}\n`).root?.entries[0]?.value;
      if (unquoted && unquoted.kind === 'scalar' && unquoted.type !== 'str' && kinds.some((o) => typeMatches(o, unquoted))) {
        fixes.push(this.replaceFix(node.range, node.text, 'Remove the quotes'));
      }
    }
    if (node.type === 'float' && Number.isInteger(node.value) && kinds.some((o) => o.kind === 'integer')) {
      fixes.push(this.replaceFix(node.range, String(node.value), `Change to ${node.value}`));
    }
    return fixes;
  }
}

/** Whether the node matches the schema entirely (children included for scalars only: collections are checked by `children`). */
function accepts(schema: SchemaNode, node: ConfigNode): boolean {
  return options(schema).some((o) => acceptsOne(o, node)) || (schema.kind === 'union' && schema.options.some((o) => o.kind === 'null') && node.kind === 'scalar' && node.type === 'null');
}

function acceptsOne(schema: SchemaNode, node: ConfigNode): boolean {
  switch (schema.kind) {
    case 'object':
      return node.kind === 'map' && deepAccepts(schema, node);
    case 'array':
      return node.kind === 'seq' && sizeOk(schema, node.items.length) && node.items.every((item) => deepMatch(schema.items, item));
    case 'union':
      return schema.options.some((o) => acceptsOne(o, node));
    default:
      return node.kind === 'scalar' && scalarOk(schema, node);
  }
}

/** Full recursive match, used to pick union members and to accept list items. */
function deepMatch(schema: SchemaNode, node: ConfigNode): boolean {
  return acceptsOne(schema, node);
}

function deepAccepts(schema: ObjectSchema, node: MapNode): boolean {
  const present = new Set<string>();
  for (const entry of node.entries) {
    present.add(entry.key);
    const field = schema.properties.get(entry.key);
    if (field === undefined || !deepMatch(field, entry.value)) return false;
  }
  for (const key of schema.required) if (!present.has(key)) return false;
  return true;
}

function sizeOk(schema: { minItems?: number; maxItems?: number }, n: number): boolean {
  return (schema.minItems === undefined || n >= schema.minItems) && (schema.maxItems === undefined || n <= schema.maxItems);
}

function typeMatches(schema: SchemaNode, node: ScalarNode): boolean {
  switch (schema.kind) {
    case 'string':
      return node.type === 'str';
    case 'integer':
      return node.type === 'int';
    case 'number':
      return node.type === 'int' || node.type === 'float';
    case 'boolean':
      return node.type === 'bool';
    case 'null':
      return node.type === 'null';
    default:
      return false;
  }
}

function scalarOk(schema: SchemaNode, node: ScalarNode): boolean {
  if (!typeMatches(schema, node)) return false;
  if (schema.kind === 'string') {
    const text = node.value as string;
    const length = [...text].length;
    if (schema.enum !== undefined && !schema.enum.includes(text)) return false;
    if (schema.minLength !== undefined && length < schema.minLength) return false;
    if (schema.maxLength !== undefined && length > schema.maxLength) return false;
    if (schema.pattern !== undefined && !patternOf(schema.pattern).test(text)) return false;
    return true;
  }
  if (schema.kind === 'integer' || schema.kind === 'number') {
    // JSON has no infinity or NaN, and the trainer refuses them (pydantic allow_inf_nan=False).
    return Number.isFinite(node.value) && inRange(schema, node.value as number);
  }
  return true;
}

function inRange(schema: NumberSchema, value: number): boolean {
  // Comparisons with NaN are false, so NaN fails any bound, as in pydantic.
  if (schema.minimum !== undefined && !(value >= schema.minimum)) return false;
  if (schema.maximum !== undefined && !(value <= schema.maximum)) return false;
  if (schema.exclusiveMinimum !== undefined && !(value > schema.exclusiveMinimum)) return false;
  if (schema.exclusiveMaximum !== undefined && !(value < schema.exclusiveMaximum)) return false;
  return true;
}

const patterns = new Map<string, RegExp>();
function patternOf(source: string): RegExp {
  let re = patterns.get(source);
  if (re === undefined) {
    re = new RegExp(source, 'u');
    patterns.set(source, re);
  }
  return re;
}

function typeMessage(schema: SchemaNode, node: ScalarNode): string {
  const got = show(node);
  const kinds = options(schema);
  const wantsBool = kinds.some((o) => o.kind === 'boolean');
  if (wantsBool && node.quoted && /^(?:true|false)$/i.test(node.text)) {
    return `${got} is quoted text; write true or false without quotes`;
  }
  if (node.quoted && node.type === 'str') {
    const unquoted = parseConfig(`x: ${node.text}\n`).root?.entries[0]?.value;
    if (unquoted && unquoted.kind === 'scalar' && unquoted.type !== 'str' && kinds.some((o) => typeMatches(o, unquoted))) {
      return `\`${node.text}\` is quoted text; ${describeType(schema)} is expected here (remove the quotes)`;
    }
  }
  if (node.type === 'float' && Number.isInteger(node.value) && kinds.some((o) => o.kind === 'integer')) {
    return `${got} should be a whole number such as \`${node.value}\``;
  }
  if (node.type === 'null' && node.text === '') {
    return `the value is empty; expected ${describeType(schema)}`;
  }
  if (wantsBool && node.type === 'str' && /^(?:yes|no|on|off|y|n)$/i.test(node.text) && !node.quoted) {
    return `${got} is text, not a boolean (YAML 1.2 reads yes/no/on/off as text); write true or false`;
  }
  if (kinds.every((o) => o.kind === 'string') && (node.type === 'int' || node.type === 'float' || node.type === 'bool')) {
    return `${got} should be text; put it in quotes to use it as text`;
  }
  return `${got} should be ${describeType(schema)}`;
}

/** Sections that have a key, to say where a misplaced key belongs. */
function sectionsWith(root: ObjectSchema, key: string): string[] {
  const out: string[] = [];
  const walk = (schema: ObjectSchema, prefix: string, depth: number): void => {
    if (depth > 8) return;
    for (const [name, field] of schema.properties) {
      if (name === key && prefix) out.push(prefix);
      for (const o of options(field)) {
        if (o.kind === 'object') walk(o, prefix ? `${prefix}.${name}` : name, depth + 1);
      }
    }
  };
  walk(root, '', 0);
  return out;
}

function unknownKeyMessage(schema: ObjectSchema, path: ConfigPath, key: string): string {
  const where = path.length > 0 ? ` in \`${dottedPath(path)}\`` : ' at the top level';
  const known = [...schema.properties.keys()];
  const close = closestMatch(key, known);
  if (close !== undefined) return `unknown key \`${key}\`${where}; did you mean \`${close}\`?`;
  const elsewhere = sectionsWith(RUN_CONFIG_SCHEMA, key);
  if (elsewhere.length > 0) return `unknown key \`${key}\`${where}; it belongs in \`${elsewhere[0]}\``;
  return `unknown key \`${key}\`${where}; known keys: ${known.join(', ')}`;
}

/** The lines of a mapping entry that starts at `lineStart` (key at `indent`), with its nested block. */
function entryLines(text: string, lineStart: number, indent: number): SourceRange {
  let end = text.indexOf('\n', lineStart);
  end = end < 0 ? text.length : end + 1;
  while (end < text.length) {
    let next = text.indexOf('\n', end);
    next = next < 0 ? text.length : next + 1;
    const line = text.slice(end, next).replace(/\r?\n$/, '');
    const lineIndent = line.length - line.trimStart().length;
    if (line.trim() !== '' && !line.trimStart().startsWith('#') && lineIndent <= indent) break;
    if (line.trim() === '') break;
    end = next;
  }
  return { start: lineStart, end };
}

export type { JsonValue };
