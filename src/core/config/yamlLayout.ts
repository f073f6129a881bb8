// The parsed run-config text as yamlEdit needs it: the `yaml` document with its CST tokens,
// line positions, the file's own indentation and line endings, and the anchors that aliases use.
// Edits are refused (a Refusal carries the message for the user) rather than guessed at.

import { isAlias, isCollection, isMap, isScalar, isSeq, LineCounter, parseDocument, visit } from 'yaml';
import type { Document, Node, Pair, YAMLSeq } from 'yaml';
import { dottedPath, options, schemaAt } from '../../shared/configSchema';
import type { ConfigPath, JsonValue } from '../../shared/configSchema';
import { RUN_CONFIG_SCHEMA } from './validateConfig';
import type { WriteStyle } from './yamlWrite';

export type AnyPair = Pair<unknown, unknown>;

/** Why an edit cannot be made in place; the message says what to fix first. */
export class Refusal {
  constructor(readonly message: string) {}
}

/** Numbers at paths where the schema wants a float are written with a dot. */
function floatAt(path: ConfigPath): boolean {
  const node = schemaAt(RUN_CONFIG_SCHEMA, path);
  const kinds = node === undefined ? [] : options(node).map((o) => o.kind);
  return kinds.includes('number') && !kinds.includes('integer');
}

export function where(path: ConfigPath): string {
  return path.length === 0 ? 'the config' : `\`${dottedPath(path)}\``;
}

/** The parsed text with the positions and style that edits need. */
export class Source {
  readonly doc: Document.Parsed;
  /** The config as plain values (an empty document is an empty mapping). */
  readonly value: JsonValue;
  readonly eol: string;
  readonly style: WriteStyle;
  private readonly anchorsInUse = new Set<string>();

  constructor(readonly text: string) {
    const lineCounter = new LineCounter();
    this.doc = parseDocument(text, { keepSourceTokens: true, lineCounter, uniqueKeys: true });
    const error = this.doc.errors[0];
    if (error !== undefined) {
      const line = error.linePos?.[0].line ?? lineCounter.linePos(error.pos[0]).line;
      const what = error.message.split('\n')[0]?.replace(/ at line \d+, column \d+:?$/, '') ?? '';
      throw new Refusal(`fix the YAML error on line ${line} first (${what})`);
    }
    try {
      this.value = (this.doc.toJS() as JsonValue) ?? {};
    } catch {
      // The parser accepts an alias whose anchor is missing or comes later, and aliases that
      // expand too far (yaml's maxAliasCount); reading them fails.
      let line: number | undefined;
      const defined = new Set<string>();
      visit(this.doc, {
        Node: (_, n) => {
          if ('anchor' in n && typeof n.anchor === 'string') defined.add(n.anchor);
          if (isAlias(n) && !defined.has(n.source)) {
            line = lineCounter.linePos(n.range?.[0] ?? 0).line;
            return visit.BREAK;
          }
          return undefined;
        },
      });
      throw new Refusal(
        line === undefined
          ? 'fix the YAML first: its aliases expand to too many values'
          : `fix the YAML error on line ${line} first (an alias without its anchor before it)`,
      );
    }
    this.eol = text.includes('\r\n') ? '\r\n' : '\n';
    let indent: number | undefined;
    let seqIndent: number | undefined;
    visit(this.doc, {
      Alias: (_, alias) => {
        this.anchorsInUse.add(alias.source);
      },
      Pair: (_, pair) => {
        const keyColumn = isScalar(pair.key) && pair.key.range ? this.column(pair.key.range[0]) : undefined;
        const value = pair.value;
        if (keyColumn === undefined || !isCollection(value) || value.flow === true || value.items.length === 0) return;
        if (isMap(value) && indent === undefined) {
          const first = value.items[0]?.key;
          if (isScalar(first) && first.range && this.column(first.range[0]) > keyColumn) indent = this.column(first.range[0]) - keyColumn;
        } else if (isSeq(value) && seqIndent === undefined) {
          const dash = dashOffsets(value)[0];
          if (dash !== undefined) seqIndent = Math.max(0, this.column(dash) - keyColumn);
        }
      },
    });
    this.style = { indent: indent ?? 2, seqIndent: seqIndent ?? indent ?? 2, isFloat: floatAt };
  }

  lineStart(offset: number): number {
    return this.text.lastIndexOf('\n', offset - 1) + 1;
  }
  /** Just past the line's newline (or the end of the text). */
  lineEndIncl(offset: number): number {
    const i = this.text.indexOf('\n', offset);
    return i < 0 ? this.text.length : i + 1;
  }
  /** Just before the line's newline. */
  lineEndExcl(offset: number): number {
    const end = this.lineEndIncl(offset);
    if (end > 0 && this.text[end - 1] === '\n') return this.text[end - 2] === '\r' ? end - 2 : end - 1;
    return end;
  }
  /** The line holding `offset` has nothing but whitespace. */
  isBlankLine(offset: number): boolean {
    return this.text.slice(this.lineStart(offset), this.lineEndExcl(offset)).trim() === '';
  }
  column(offset: number): number {
    return offset - this.lineStart(offset);
  }
  /** Only indentation before `offset` on its line. */
  startsLine(offset: number): boolean {
    return this.text.slice(this.lineStart(offset), offset).trim() === '';
  }
  /** End of a node's own text: its range without trailing comments and whitespace. */
  contentEnd(node: Node): number {
    let end = node.range?.[1] ?? 0;
    while (end > 0 && /\s/.test(this.text[end - 1] ?? '')) end--;
    return end;
  }
  /** Refuses to replace or delete text holding an anchor that an alias elsewhere refers to. */
  checkAnchors(node: unknown, path: ConfigPath): void {
    if (this.anchorsInUse.size === 0 || node === null || typeof node !== 'object') return;
    visit(node as Node, {
      Node: (_, n) => {
        if ('anchor' in n && typeof n.anchor === 'string' && this.anchorsInUse.has(n.anchor)) {
          throw new Refusal(`${where(path)} holds the anchor &${n.anchor}, which is used elsewhere: edit it in the text`);
        }
      },
    });
  }
  /** Start of a value including its anchor and tag on the same line. */
  propsStart(node: Node): number {
    let start = node.range?.[0] ?? 0;
    for (;;) {
      let i = start;
      while (i > 0 && (this.text[i - 1] === ' ' || this.text[i - 1] === '\t')) i--;
      let j = i;
      while (j > 0 && !/\s/.test(this.text[j - 1] ?? '')) j--;
      if (j < i && (this.text[j] === '&' || this.text[j] === '!')) start = j;
      else return start;
    }
  }
}

export function dashOffsets(seq: YAMLSeq): number[] {
  const token = seq.srcToken;
  if (token === undefined || token.type !== 'block-seq') return [];
  return token.items.flatMap((item) => item.start.filter((t) => t.type === 'seq-item-ind').map((t) => t.offset));
}

export function colonOffset(pair: AnyPair): number {
  const token = pair.srcToken;
  if (token?.start.some((t) => t.type === 'explicit-key-ind')) {
    throw new Refusal('a key written with `? ` cannot be edited here: edit it in the text');
  }
  const colon = token?.sep?.find((t) => t.type === 'map-value-ind');
  if (colon === undefined) throw new Refusal('a key without `:` cannot be edited here: edit it in the text');
  return colon.offset;
}

export function keyName(pair: AnyPair): string | undefined {
  const key = pair.key;
  return isScalar(key) && key.value !== null && typeof key.value !== 'object' ? String(key.value) : undefined;
}

/** No value written (`key:` or an empty document): a place to put one, not a value to keep. */
export function isBlank(node: unknown): boolean {
  return node === null || node === undefined || (isScalar(node) && node.value === null && node.source === '');
}
