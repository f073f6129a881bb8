// Run-config text -> a small tree of values with source ranges, answering every input with
// positioned problems and never throwing. It mirrors the trainer's loader
// (python/src/medvlm_sft/config/yaml_source.py) rule for rule, because the editor and
// `medvlm-sft validate` must agree on what is accepted:
// - YAML 1.2 core-schema scalars (`no` stays text, `2e-4` is a float), explicit `!!str`,
//   `!!int`, `!!float`, `!!bool`, `!!null` tags, and nothing else;
// - keys are compared as written (`1:` and `"1":` are the same key), duplicates are errors;
// - `<<` merges with YAML's rules (explicit keys win, then earlier sources);
// - the same bounds: 1 MiB of text, 64 KiB per value, 64 levels, 100 000 values after aliases.
// The `yaml` package does the parsing; this module only reads its nodes.

import { isAlias, isMap, isPair, isScalar, isSeq, parseDocument } from 'yaml';
import type { Document, Node as YamlNode, ParsedNode, Scalar } from 'yaml';
import type { ConfigPath, JsonValue } from '../../shared/configSchema';

export const MAX_TEXT_BYTES = 1024 * 1024;
export const MAX_SCALAR_CHARS = 64 * 1024;
export const MAX_DEPTH = 64;
export const MAX_NODES = 100_000;

/** Offsets into the text, end exclusive. */
export interface SourceRange {
  readonly start: number;
  readonly end: number;
}

export type ScalarType = 'null' | 'bool' | 'int' | 'float' | 'str';

export type ConfigNode = ScalarNode | MapNode | SeqNode;

export interface ScalarNode {
  readonly kind: 'scalar';
  readonly type: ScalarType;
  readonly value: JsonValue;
  /** The scalar as written (for plain scalars) or its decoded text (quoted). */
  readonly text: string;
  readonly quoted: boolean;
  readonly range: SourceRange;
}

export interface MapEntry {
  readonly key: string;
  readonly keyRange: SourceRange;
  readonly value: ConfigNode;
  /** Came from a `<<` merge, so its key is written elsewhere. */
  readonly merged: boolean;
}

export interface MapNode {
  readonly kind: 'map';
  readonly entries: readonly MapEntry[];
  readonly range: SourceRange;
}

export interface SeqNode {
  readonly kind: 'seq';
  readonly items: readonly ConfigNode[];
  readonly range: SourceRange;
}

export type Severity = 'error' | 'warning';

export interface TextFix {
  readonly title: string;
  readonly edits: readonly { readonly range: SourceRange; readonly text: string }[];
}

export interface ConfigProblem {
  readonly path: ConfigPath;
  readonly message: string;
  readonly severity: Severity;
  /** The same codes the trainer's validate prints (`unknown-key`, `yaml-syntax`, ...). */
  readonly code: string;
  readonly range: SourceRange;
  readonly fixes?: readonly TextFix[];
}

export interface ParsedConfig {
  readonly text: string;
  /** The root mapping; undefined when loading stopped at a fatal problem. */
  readonly root: MapNode | undefined;
  readonly problems: readonly ConfigProblem[];
  /** Paths already reported while loading, so schema checks there would be noise. */
  readonly reported: ReadonlySet<string>;
}

const NULL_RE = /^(?:~|null|Null|NULL|)$/;
const BOOL_RE = /^(?:true|True|TRUE|false|False|FALSE)$/;
const INT_RE = /^(?:[-+]?[0-9]+|0o[0-7]+|0x[0-9a-fA-F]+)$/;
const FLOAT_RE = /^(?:[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$/;
// PyYAML's Reader.NON_PRINTABLE: what the trainer refuses as binary content.
const NON_PRINTABLE = /[^\x09\x0A\x0D\x20-\x7E\x85\xA0-\uD7FF\uE000-\uFFFD\u{10000}-\u{10FFFF}]/u;
const TAG = 'tag:yaml.org,2002:';

class Stop extends Error {
  constructor(readonly problem: ConfigProblem) {
    super(problem.message);
  }
}

export function pathKey(path: ConfigPath): string {
  return JSON.stringify(path);
}

function problem(range: SourceRange, path: ConfigPath, message: string, code: string, severity: Severity = 'error'): ConfigProblem {
  return { path, message, severity, code, range };
}

function point(offset: number, text: string): SourceRange {
  const start = Math.max(0, Math.min(offset, text.length));
  return { start, end: Math.min(start + 1, Math.max(text.length, start)) };
}

/** Parse config text. Never throws. */
export function parseConfig(text: string): ParsedConfig {
  const fatal = (p: ConfigProblem): ParsedConfig => ({ text, root: undefined, problems: [p], reported: new Set() });
  if (text.length > MAX_TEXT_BYTES || new TextEncoder().encode(text).length > MAX_TEXT_BYTES) {
    const message = `the file is larger than ${MAX_TEXT_BYTES / 1024} KiB; a run config is a few KiB of YAML`;
    return fatal(problem({ start: 0, end: 0 }, [], message, 'yaml-too-large'));
  }
  const bad = NON_PRINTABLE.exec(text);
  if (bad) {
    const hex = bad[0].codePointAt(0)!.toString(16).toUpperCase().padStart(4, '0');
    const message = `binary or non-UTF-8 content (character U+${hex}); a run config must be plain text`;
    return fatal(problem(point(bad.index, text), [], message, 'yaml-binary'));
  }
  let doc: Document.Parsed;
  try {
    doc = parseDocument(text, { uniqueKeys: false, merge: false, version: '1.2', schema: 'core', prettyErrors: false, strict: true, keepSourceTokens: false });
  } catch (err) {
    // The parser recurses per nesting level; a pathological file can exhaust the stack.
    const message = err instanceof RangeError ? `nesting deeper than ${MAX_DEPTH} levels; a run config is a few levels deep` : `cannot parse the YAML: ${String(err)}`;
    return fatal(problem({ start: 0, end: Math.min(text.length, 1) }, [], message, err instanceof RangeError ? 'yaml-too-deep' : 'yaml-syntax'));
  }
  const syntax = doc.errors[0];
  if (syntax !== undefined) {
    return fatal(syntaxProblem(text, syntax.code, syntax.message, syntax.pos));
  }
  const contents = doc.contents;
  if (contents === null || (isScalar(contents) && contents.value === null && !contents.tag)) {
    const message = 'the file is empty; a run config needs at least `model.base` and `data.sources`';
    return fatal(problem({ start: 0, end: Math.min(text.length, 1) }, [], message, 'yaml-empty'));
  }
  if (!isMap(contents)) {
    const kind = isSeq(contents) ? 'a list' : 'a single value';
    const message = `the top level is ${kind}; a run config is a mapping of sections such as \`model:\` and \`data:\``;
    return fatal(problem(rangeOf(contents, text), [], message, 'yaml-not-mapping'));
  }
  const builder = new Builder(doc, text);
  try {
    const root = builder.build(contents, [], 0);
    if (root.kind !== 'map') {
      return { text, root: undefined, problems: builder.problems, reported: builder.reported };
    }
    return { text, root, problems: builder.problems, reported: builder.reported };
  } catch (err) {
    if (err instanceof Stop) {
      return { text, root: undefined, problems: [...builder.problems, err.problem], reported: builder.reported };
    }
    if (err instanceof RangeError) {
      return fatal(problem({ start: 0, end: 1 }, [], `nesting deeper than ${MAX_DEPTH} levels; a run config is a few levels deep`, 'yaml-too-deep'));
    }
    return fatal(problem({ start: 0, end: 1 }, [], `reading the YAML failed unexpectedly (${String(err)}); please report this`, 'internal-error'));
  }
}

function syntaxProblem(text: string, code: string, message: string, pos: [number, number]): ConfigProblem {
  const start = Math.max(0, Math.min(pos[0], text.length));
  const lineStart = text.lastIndexOf('\n', start - 1) + 1;
  let lineEnd = text.indexOf('\n', start);
  if (lineEnd < 0) lineEnd = text.length;
  // A range within one line: a parse error often spans the rest of the document.
  const end = Math.max(Math.min(pos[1], lineEnd), Math.min(start + 1, lineEnd));
  const range = { start, end: end > start ? end : start };
  const line = text.slice(lineStart, lineEnd);
  const firstLine = message.split('\n')[0]!.replace(/\s+at line \d+, column \d+:?$/, '');
  if (code === 'TAB_AS_INDENT' || /^\s*\t/.test(line) || /\t/.test(line.slice(0, line.length - line.trimStart().length))) {
    return problem(range, [], `${firstLine}: YAML indentation must use spaces, not tabs`, 'yaml-tab');
  }
  if (code === 'MULTIPLE_DOCS') {
    const message2 = 'a run config is a single YAML document; remove the `---` separator and what follows or merge it';
    return problem(range, [], message2, 'yaml-syntax');
  }
  return problem(range, [], `YAML syntax error: ${firstLine}`, 'yaml-syntax');
}

function rangeOf(node: YamlNode | null | undefined, text: string): SourceRange {
  const r = node?.range;
  if (!r) {
    return point(0, text);
  }
  return { start: r[0], end: Math.max(r[1], r[0]) };
}

class Builder {
  readonly problems: ConfigProblem[] = [];
  readonly reported = new Set<string>();
  private count = 0;

  constructor(
    private readonly doc: Document.Parsed,
    private readonly text: string,
  ) {}

  private report(range: SourceRange, path: ConfigPath, message: string, code: string): void {
    this.reported.add(pathKey(path));
    this.problems.push(problem(range, path, message, code));
  }

  private tick(path: ConfigPath, depth: number, range: SourceRange): void {
    this.count += 1;
    if (this.count > MAX_NODES) {
      const message = `aliases expand to more than ${MAX_NODES} values (an alias bomb?); a run config has a few hundred, so use fewer nested aliases`;
      throw new Stop(problem(range, path.slice(0, 1), message, 'yaml-too-many-values'));
    }
    if (depth > MAX_DEPTH) {
      throw new Stop(problem(range, path.slice(0, 1), `nesting deeper than ${MAX_DEPTH} levels; a run config is a few levels deep`, 'yaml-too-deep'));
    }
  }

  build(raw: unknown, path: ConfigPath, depth: number, aliasRange?: SourceRange): ConfigNode {
    let node = raw as ParsedNode | null;
    const ownRange = aliasRange ?? rangeOf(node, this.text);
    if (node !== null && isAlias(node)) {
      const target = node.resolve(this.doc) as ParsedNode | undefined;
      if (target === undefined) {
        this.report(ownRange, path, `unknown alias \`*${node.source}\`; define the anchor \`&${node.source}\` before using it`, 'yaml-syntax');
        return { kind: 'scalar', type: 'null', value: null, text: '', quoted: false, range: ownRange };
      }
      node = target;
    }
    this.tick(path, depth, ownRange);
    if (node === null) {
      return { kind: 'scalar', type: 'null', value: null, text: '', quoted: false, range: ownRange };
    }
    const range = rangeOf(node, this.text);
    if (isScalar(node)) {
      return this.scalar(node, path, range);
    }
    const tag = node.tag;
    if (isSeq(node)) {
      if (tag !== undefined && tag !== TAG + 'seq') {
        this.report(range, path, `unsupported YAML tag \`${tag}\`; a run config uses plain values`, 'yaml-tag');
      }
      const items = node.items.map((item, index) => this.build(item, [...path, index], depth + 1));
      return { kind: 'seq', items, range };
    }
    if (isMap(node)) {
      if (tag !== undefined && tag !== TAG + 'map') {
        this.report(range, path, `unsupported YAML tag \`${tag}\`; a run config uses plain values`, 'yaml-tag');
      }
      return { kind: 'map', entries: this.mapping(node, path, depth), range };
    }
    this.report(range, path, 'unsupported YAML node', 'yaml-syntax');
    return { kind: 'scalar', type: 'null', value: null, text: '', quoted: false, range };
  }

  private mapping(node: ParsedNode, path: ConfigPath, depth: number): MapEntry[] {
    const items = isMap(node) ? node.items : [];
    const entries: MapEntry[] = [];
    const first = new Map<string, SourceRange>();
    const merges: unknown[] = [];
    for (const pair of items) {
      if (!isPair(pair)) continue;
      const keyNode = pair.key as ParsedNode | null;
      if (keyNode !== null && isScalar(keyNode) && keyNode.type === 'PLAIN' && keyNode.source === '<<' && !keyNode.tag) {
        merges.push(pair.value);
        continue;
      }
      if (keyNode !== null && !isScalar(keyNode)) {
        const at = isAlias(keyNode) ? rangeOf(keyNode, this.text) : rangeOf(keyNode, this.text);
        this.report(at, path, 'a key must be a plain name, not a list or mapping', 'yaml-complex-key');
        continue;
      }
      this.count += 1;
      const key = keyNode === null ? '' : scalarText(keyNode);
      const keyRange = keyNode === null ? rangeOf(pair.value as ParsedNode | null, this.text) : rangeOf(keyNode, this.text);
      const child = [...path, key];
      const earlier = first.get(key);
      if (earlier !== undefined) {
        const line = lineOf(this.text, earlier.start);
        this.report(keyRange, child, `duplicate key \`${key}\` (first defined on line ${line}); YAML keeps only the last one, so remove or merge the two`, 'yaml-duplicate-key');
      } else {
        first.set(key, keyRange);
      }
      const value = this.build(pair.value, child, depth + 1, pair.value === null ? { start: keyRange.end, end: keyRange.end } : undefined);
      // The last duplicate wins, as in YAML loaders.
      const existing = entries.findIndex((e) => e.key === key);
      if (existing >= 0) entries.splice(existing, 1);
      entries.push({ key, keyRange, value, merged: false });
    }
    for (const mergeValue of merges) {
      let source = mergeValue as ParsedNode | null;
      if (source !== null && isAlias(source)) source = (source.resolve(this.doc) as ParsedNode | undefined) ?? null;
      const sources: unknown[] = source !== null && isSeq(source) ? source.items : [mergeValue];
      for (let raw of sources) {
        let resolved = raw as ParsedNode | null;
        if (resolved !== null && isAlias(resolved)) resolved = (resolved.resolve(this.doc) as ParsedNode | undefined) ?? null;
        raw = resolved;
        if (resolved === null || !isMap(resolved)) {
          this.report(rangeOf(resolved, this.text), path, '`<<` merges need a mapping or a list of mappings', 'yaml-merge');
          continue;
        }
        this.tick(path, depth + 1, rangeOf(resolved, this.text));
        for (const entry of this.mapping(resolved, path, depth + 1)) {
          if (!entries.some((e) => e.key === entry.key)) {
            entries.push({ ...entry, merged: true });
          }
        }
      }
    }
    return entries;
  }

  private scalar(node: Scalar, path: ConfigPath, range: SourceRange): ScalarNode {
    const quoted = node.type !== 'PLAIN' && node.type !== undefined;
    const text = scalarText(node);
    if (text.length > MAX_SCALAR_CHARS) {
      const message = `a value of ${text.length} characters (the limit is ${MAX_SCALAR_CHARS / 1024} KiB); put long content in a file and give its path`;
      throw new Stop(problem(range, path, message, 'yaml-value-too-long'));
    }
    const make = (type: ScalarType, value: JsonValue): ScalarNode => ({ kind: 'scalar', type, value, text, quoted, range });
    const tag = node.tag;
    const block = node.type === 'BLOCK_LITERAL' || node.type === 'BLOCK_FOLDED';
    if (tag === undefined) {
      if (quoted || block) return make('str', text);
      return resolvePlain(text, make, (message) => {
        this.report(range, path, message, 'yaml-bad-number');
        return make('null', null);
      });
    }
    if (tag === TAG + 'str') return make('str', text);
    const kind = tag.startsWith(TAG) ? tag.slice(TAG.length) : undefined;
    const typed: Record<string, RegExp> = { null: NULL_RE, bool: BOOL_RE, int: INT_RE, float: FLOAT_RE };
    if (kind !== undefined && kind in typed) {
      const fits = typed[kind]!.test(text) || (kind === 'float' && INT_RE.test(text));
      if (fits) {
        if (kind === 'null') return make('null', null);
        if (kind === 'bool') return make('bool', text.toLowerCase() === 'true');
        const bad = (message: string): ScalarNode => {
          this.report(range, path, message, 'yaml-bad-number');
          return make('null', null);
        };
        if (kind === 'int') return intScalar(text, make, bad);
        return make('float', parseFloatText(text));
      }
      this.report(range, path, `\`${text.slice(0, 40)}\` is not a valid ${kind}`, 'yaml-tag');
      return make('null', null);
    }
    this.report(range, path, `unsupported YAML tag \`${tag}\`; a run config uses plain values`, 'yaml-tag');
    return make('null', null);
  }
}

type Make = (type: ScalarType, value: JsonValue) => ScalarNode;

function resolvePlain(text: string, make: Make, bad: (message: string) => ScalarNode): ScalarNode {
  if (NULL_RE.test(text)) return make('null', null);
  if (BOOL_RE.test(text)) return make('bool', text.toLowerCase() === 'true');
  if (INT_RE.test(text)) return intScalar(text, make, bad);
  if (FLOAT_RE.test(text)) return make('float', parseFloatText(text));
  return make('str', text);
}

function intScalar(text: string, make: Make, bad: (message: string) => ScalarNode): ScalarNode {
  const negative = text.startsWith('-');
  const body = text.replace(/^[-+]/, '');
  if (body.startsWith('0o')) return make('int', parseInt(body.slice(2), 8));
  if (body.startsWith('0x')) return make('int', parseInt(body.slice(2), 16));
  if (body.length > 100) {
    return bad(`cannot read \`${text.slice(0, 40)}\` as a number: ${body.length} digits is too many`);
  }
  const value = Number(body);
  return make('int', negative ? -value : value);
}

function parseFloatText(text: string): number {
  const lower = text.toLowerCase();
  if (lower.endsWith('.inf')) return lower.startsWith('-') ? -Infinity : Infinity;
  if (lower === '.nan') return NaN;
  return Number(text);
}

/** A scalar's text as the trainer's loader sees it: plain scalars as written, quoted ones decoded. */
function scalarText(node: Scalar): string {
  if (node.type === 'PLAIN' && typeof node.source === 'string') {
    return node.source;
  }
  if (typeof node.value === 'string') return node.value;
  return typeof node.source === 'string' ? node.source : String(node.value);
}

export function lineOf(text: string, offset: number): number {
  let line = 1;
  for (let i = text.indexOf('\n'); i >= 0 && i < offset; i = text.indexOf('\n', i + 1)) line += 1;
  return line;
}
