// YAML text for new values, written by the config form's edits (yamlEdit.ts).
//
// Every scalar must read back as the same value and type, both in the editor's parser (the
// `yaml` package, YAML 1.2 core schema) and in the trainer's loader (PyYAML with core-schema
// resolvers), and it should still read the same in a YAML 1.1 tool someone points at the file.
// So anything that one of those could read as null, a boolean, a number or a timestamp, or that
// plain style cannot carry, is double-quoted with JSON-style escapes; floats always carry a dot
// (and a signed exponent) because YAML 1.1 reads `1e-5` as text and pydantic must see a float.

import type { ConfigPath, JsonValue } from '../../shared/configSchema';

export interface WriteStyle {
  /** Spaces from a key to the keys of its nested mapping. */
  readonly indent: number;
  /** Spaces from a key to the `-` of its nested list (0 for the compact style). */
  readonly seqIndent: number;
  /** True where the schema wants a float, so `2` is written `2.0`. */
  readonly isFloat: (path: ConfigPath) => boolean;
}

type Scalar = null | boolean | number | string;
type JsonObject = { [key: string]: JsonValue };

// Words that YAML 1.2 core or YAML 1.1 read as null or booleans.
const RESERVED_WORDS = new Set(
  ['~', 'null', 'true', 'false', 'yes', 'no', 'on', 'off', 'y', 'n'].flatMap((w) => [w, w.toUpperCase(), w.charAt(0).toUpperCase() + w.slice(1)]),
);
// Anything number-like, timestamp-like or sexagesimal in either YAML version; over-matching only
// costs a pair of quotes.
const NUMBER_LIKE = /^[-+]?\.?[0-9][0-9a-fA-F_.:+\-xXoObBeEtTzZ ]*$|^[-+]?\.(inf|Inf|INF)$|^\.(nan|NaN|NAN)$/;
// PyYAML's rule (the strictest reader here): `-`, `?` and `:` may start a plain scalar when a
// non-space follows, `?` and `:` only outside flow collections.
const INDICATOR_START = /^[,[\]{}#&*!|>'"%@`]|^[-?:](\s|$)/;
const FLOW_INDICATOR_START = /^[?:]/;
// C0/C1 controls, DEL, BOM, line/paragraph separators and lone surrogates cannot stay plain.
const NEEDS_ESCAPE = /[\u0000-\u001f\u007f-\u009f\ufeff\u2028\u2029]|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;

export function isScalar(value: JsonValue): value is Scalar {
  return value === null || typeof value !== 'object';
}

function isEmptyCollection(value: JsonValue): boolean {
  return Array.isArray(value) ? value.length === 0 : value !== null && typeof value === 'object' && Object.keys(value).length === 0;
}

/** Plain style is safe: the text reads back as this same string, in block or flow context. */
function plainSafe(text: string, flow: boolean): boolean {
  if (text === '' || text !== text.trim() || RESERVED_WORDS.has(text) || text === '<<') return false;
  if (NUMBER_LIKE.test(text) || INDICATOR_START.test(text) || NEEDS_ESCAPE.test(text)) return false;
  if (flow && FLOW_INDICATOR_START.test(text)) return false;
  if (text.includes(': ') || text.includes(' #') || text.includes('\t') || text.endsWith(':')) return false;
  // A `---` or `...` can end a document where it starts a line (a list item continued below).
  if (text.startsWith('---') || text.startsWith('...')) return false;
  return !(flow && /[,[\]{}]/.test(text));
}

/** A YAML double-quoted scalar: JSON escapes, which YAML shares, plus the characters YAML forbids raw. */
export function doubleQuoted(text: string): string {
  let out = '"';
  for (const ch of text) {
    const code = ch.codePointAt(0) ?? 0;
    if (ch === '"' || ch === '\\') out += `\\${ch}`;
    else if (ch === '\n') out += '\\n';
    else if (ch === '\t') out += '\\t';
    else if (ch === '\r') out += '\\r';
    else if (NEEDS_ESCAPE.test(ch)) out += `\\u${code.toString(16).padStart(4, '0')}`;
    else out += ch;
  }
  return `${out}"`;
}

function floatText(value: number): string {
  if (Number.isNaN(value)) return '.nan';
  if (!Number.isFinite(value)) return value > 0 ? '.inf' : '-.inf';
  const text = String(value);
  const e = text.indexOf('e');
  if (e >= 0) {
    // JavaScript always signs the exponent (`1e-7`, `1e+21`), which YAML 1.1 requires too.
    const mantissa = text.slice(0, e);
    return `${mantissa.includes('.') ? mantissa : `${mantissa}.0`}${text.slice(e)}`;
  }
  return text.includes('.') ? text : `${text}.0`;
}

export function scalarText(value: Scalar, path: ConfigPath, style: WriteStyle, flow = false): string {
  if (value === null) return 'null';
  if (typeof value === 'boolean') return value ? 'true' : 'false';
  if (typeof value === 'number') {
    return Number.isSafeInteger(value) && !style.isFloat(path) ? String(value) : floatText(value);
  }
  return plainSafe(value, flow) ? value : doubleQuoted(value);
}

export function keyText(key: string): string {
  return plainSafe(key, false) ? key : doubleQuoted(key);
}

/** One-line flow text of any value (`[0, 1]`, `{center: 40.0, width: 400.0}`). */
export function flowText(value: JsonValue, path: ConfigPath, style: WriteStyle): string {
  if (isScalar(value)) return scalarText(value, path, style, true);
  if (Array.isArray(value)) return `[${value.map((item, i) => flowText(item, [...path, i], style)).join(', ')}]`;
  const entries = Object.entries(value).map(([k, v]) => `${plainSafe(k, true) ? k : doubleQuoted(k)}: ${flowText(v, [...path, k], style)}`);
  return `{${entries.join(', ')}}`;
}

/** A scalar, or a list or mapping of scalars: fits one line in flow style. */
export function isFlat(value: JsonValue): boolean {
  return Array.isArray(value) ? value.every(isScalar) : isScalar(value) || Object.values(value).every(isScalar);
}

/**
 * The value on one line after `key: ` or `- `, or undefined when it needs block lines.
 * `preferFlow` keeps a list or mapping of scalars in flow style where the text had one.
 */
export function inlineText(value: JsonValue, path: ConfigPath, style: WriteStyle, preferFlow = false): string | undefined {
  if (isScalar(value)) return scalarText(value, path, style);
  if (isEmptyCollection(value)) return Array.isArray(value) ? '[]' : '{}';
  return preferFlow && isFlat(value) ? flowText(value, path, style) : undefined;
}

const spaces = (n: number): string => ' '.repeat(n);

/** `key: value`, or `key:` and the nested block, with the key at `column`. */
export function pairLines(key: string, value: JsonValue, column: number, path: ConfigPath, style: WriteStyle): string[] {
  const head = `${spaces(column)}${keyText(key)}:`;
  const inline = inlineText(value, path, style);
  if (inline !== undefined) return [`${head} ${inline}`];
  return [head, ...blockLines(value, column + (Array.isArray(value) ? style.seqIndent : style.indent), path, style)];
}

/** `- value`, or a compact `- key: value` block, with the dash at `column`. */
export function itemLines(value: JsonValue, column: number, path: ConfigPath, style: WriteStyle): string[] {
  const inline = inlineText(value, path, style);
  if (inline !== undefined) return [`${spaces(column)}- ${inline}`];
  const lines = blockLines(value, column + 2, path, style);
  return [`${spaces(column)}- ${(lines[0] ?? '').slice(column + 2)}`, ...lines.slice(1)];
}

/** A non-empty mapping's pairs, or a list's items, with its entries at `column`. */
export function blockLines(value: JsonValue, column: number, path: ConfigPath, style: WriteStyle): string[] {
  if (Array.isArray(value)) return value.flatMap((item, i) => itemLines(item, column, [...path, i], style));
  return Object.entries(value as JsonObject).flatMap(([k, v]) => pairLines(k, v, column, [...path, k], style));
}
