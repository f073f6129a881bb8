// Edits of a run config's YAML text, for the config form (design: the TextDocument is the model;
// the form changes it through WorkspaceEdits, so undo, dirty state and comments survive).
//
// Each edit is a splice of the original text located with the `yaml` parser's node ranges and
// CST tokens: only the lines that change are touched, so comments, key order, blank lines,
// quoting and indentation elsewhere stay byte-identical. Every result is parsed again and
// compared with the intended value; an edit that would not read back exactly is refused with a
// message instead of corrupting the file. New text follows the file's own indentation and line
// endings; scalar spelling is in yamlWrite.ts.

import { isAlias, isCollection, isMap, isScalar, isSeq, parseDocument, visit } from 'yaml';
import type { Node, YAMLMap, YAMLSeq } from 'yaml';
import { isPlainObject } from '../../shared/configSchema';
import type { ConfigPath, JsonValue } from '../../shared/configSchema';
import { applyToJson, checkCreatable, getIn, sameJson } from './editedValue';
import type { Op } from './editedValue';
import { colonOffset, dashOffsets, isBlank, keyName, Refusal, Source, where } from './yamlLayout';
import type { AnyPair } from './yamlLayout';
import { blockLines, flowText, inlineText, isFlat, itemLines, pairLines } from './yamlWrite';

/** Offsets into the original text; non-overlapping; apply back-to-front. */
export interface TextChange {
  readonly offset: number;
  readonly length: number;
  readonly text: string;
}
export type EditResult = { readonly ok: true; readonly changes: readonly TextChange[] } | { readonly ok: false; readonly message: string };

/** Create or replace the value at `path`, creating missing parent mappings. */
export function setValue(text: string, path: ConfigPath, value: JsonValue): EditResult {
  return edit(text, { kind: 'set', path, value });
}

/** Delete a key (so the trainer's default applies) or a list item, with all its lines. */
export function removeValue(text: string, path: ConfigPath): EditResult {
  return edit(text, { kind: 'remove', path });
}

/** Add an item at the end of the list at `listPath`, creating the list if absent. */
export function appendListItem(text: string, listPath: ConfigPath, item: JsonValue): EditResult {
  return edit(text, { kind: 'append', path: listPath, value: item });
}

export function applyChanges(text: string, changes: readonly TextChange[]): string {
  let out = text;
  for (const change of [...changes].sort((a, b) => b.offset - a.offset)) {
    out = out.slice(0, change.offset) + change.text + out.slice(change.offset + change.length);
  }
  return out;
}

/** Where a value sits: the document root, a mapping entry, or a list item. */
type Slot =
  | { readonly kind: 'root' }
  | { readonly kind: 'pair'; readonly map: YAMLMap; readonly index: number }
  | { readonly kind: 'item'; readonly seq: YAMLSeq; readonly index: number };
interface Step {
  readonly slot: Slot;
  readonly node: unknown;
  readonly path: ConfigPath;
}

function edit(text: string, op: Op): EditResult {
  try {
    const src = new Source(text);
    const splice = plan(src, op);
    if (splice === null) {
      return { ok: true, changes: [] };
    }
    const next = applyChanges(text, [splice]);
    if (!readsAs(next, applyToJson(src.value, op))) {
      return { ok: false, message: `${where(op.path)} cannot be edited in place here; edit it in the text` };
    }
    const change = trimChange(text, splice);
    return { ok: true, changes: change.length === 0 && change.text === '' ? [] : [change] };
  } catch (e) {
    if (e instanceof Refusal) {
      return { ok: false, message: e.message };
    }
    throw e;
  }
}

function readsAs(text: string, expected: JsonValue): boolean {
  const doc = parseDocument(text, { uniqueKeys: true });
  if (doc.errors.length > 0) return false;
  try {
    // An emptied document reads as null; the config it stands for is an empty mapping.
    return sameJson((doc.toJS() as JsonValue) ?? {}, expected);
  } catch {
    return false; // an alias whose anchor the edit removed
  }
}

function slotNode(src: Source, slot: Slot): unknown {
  switch (slot.kind) {
    case 'root':
      return src.doc.contents;
    case 'pair':
      return slot.map.items[slot.index]?.value;
    case 'item':
      return slot.seq.items[slot.index];
  }
}

type Splice = TextChange;

function plan(src: Source, op: Op): Splice | null {
  if (op.path.length === 0) throw new Refusal('choose a setting to edit');
  const root = src.doc.contents;
  if (!isBlank(root) && !isMap(root)) {
    throw new Refusal('the config must be a mapping of sections (`model:`, `data:`, ...): fix the text first');
  }
  // Walk down as far as the text goes: the first `depth` parts name containers, the last the target
  // (for an append, the list itself is the container).
  const chain: Step[] = [{ slot: { kind: 'root' }, node: root, path: [] }];
  const depth = op.kind === 'append' ? op.path.length : op.path.length - 1;
  for (let i = 0; ; i++) {
    const here = chain[chain.length - 1] as Step;
    const node = here.node;
    if (isAlias(node)) throw new Refusal(`${where(here.path)} is an alias (*${node.source}): edit the anchored value instead`);
    if (isCollection(node) && node.flow === true && (i < op.path.length || op.kind === 'append')) return rewriteFlow(src, chain, op);
    if (i === depth) {
      return op.kind === 'append' ? appendAt(src, here, op.value) : targetIn(src, chain, op, op.path[i] as string | number);
    }
    const part = op.path[i] as string | number;
    const next = childStep(here, part);
    if (next === undefined) {
      // The rest of the path is missing: write it as one nested value.
      if (op.kind === 'remove') return null;
      return createUnder(src, here, op.path.slice(i), op.kind === 'append' ? [op.value] : op.value);
    }
    chain.push(next);
  }
}

/** The existing child of a container, undefined when the text has none (or no container). */
function childStep(here: Step, part: string | number): Step | undefined {
  const node = here.node;
  if (isMap(node)) {
    if (typeof part !== 'string') throw new Refusal(`${where(here.path)} is a mapping, not a list`);
    const index = node.items.findIndex((p) => keyName(p) === part);
    return index < 0 ? undefined : { slot: { kind: 'pair', map: node, index }, node: node.items[index]?.value, path: [...here.path, part] };
  }
  if (isSeq(node)) {
    if (typeof part !== 'number') throw new Refusal(`${where(here.path)} is a list, not a mapping`);
    return part < node.items.length ? { slot: { kind: 'item', seq: node, index: part }, node: node.items[part], path: [...here.path, part] } : undefined;
  }
  return undefined;
}

/** Set or remove the entry `part` of the container at the end of `chain`. */
function targetIn(src: Source, chain: Step[], op: Op, part: string | number): Splice | null {
  const here = chain[chain.length - 1] as Step;
  const target = childStep(here, part);
  if (op.kind === 'remove') {
    return target === undefined ? null : removeEntry(src, [...chain, target]);
  }
  const value = op.kind === 'set' ? op.value : [op.value];
  if (target !== undefined) return replaceSlot(src, target.slot, value, target.path);
  return createUnder(src, here, [part], value);
}

function appendAt(src: Source, here: Step, item: JsonValue): Splice {
  const node = here.node;
  if (isSeq(node) && node.items.length > 0) {
    return insertLines(src, node, itemLines(item, src.column(dashOffsets(node)[0] ?? 0), [...here.path, node.items.length], src.style));
  }
  if (isBlank(node) || (isSeq(node) && node.items.length === 0)) return replaceSlot(src, here.slot, [item], here.path);
  throw new Refusal(`${where(here.path)} is not a list`);
}

/** Write `rest` (a path below `here`, missing from the text) with `value` at its end. */
function createUnder(src: Source, here: Step, rest: ConfigPath, value: JsonValue): Splice {
  const node = here.node;
  const [first, ...below] = rest;
  if (isMap(node) && typeof first === 'string') {
    const firstKey = node.items[0]?.key;
    const column = isScalar(firstKey) && firstKey.range ? src.column(firstKey.range[0]) : 0;
    return insertLines(src, node, pairLines(first, nest(below, value, [...here.path, first]), column, [...here.path, first], src.style));
  }
  if (isSeq(node) && first === node.items.length) {
    return appendAt(src, here, nest(below, value, [...here.path, first]));
  }
  if (isSeq(node)) throw new Refusal(`${where(here.path)} has ${node.items.length} items; add them in order`);
  return replaceSlot(src, here.slot, nest(rest, value, here.path), here.path);
}

/** `value` wrapped in the mappings (and one-item lists) that `rest` names. */
function nest(rest: ConfigPath, value: JsonValue, at: ConfigPath): JsonValue {
  let out = value;
  for (let i = rest.length - 1; i >= 0; i--) {
    const part = rest[i] as string | number;
    if (typeof part === 'number') {
      if (part !== 0) throw new Refusal(`${where([...at, ...rest.slice(0, i)])} has no item ${part - 1} yet; add them in order`);
      out = [out];
    } else {
      out = { [part]: out };
    }
  }
  return out;
}

/** Lines added after the last entry of a block collection (before comments that follow it). */
function insertLines(src: Source, container: YAMLMap | YAMLSeq, lines: string[]): Splice {
  const lastIndex = container.items.length - 1;
  const end = entryEnd(src, container, lastIndex, container.items[lastIndex]);
  const at = src.lineEndIncl(end - 1);
  // A new section follows the file's habit of a blank line between top-level sections.
  const lastStart = src.lineStart(entryStart(container, lastIndex));
  const spaced = container === src.doc.contents && lines.length > 1 && lastStart > 0 && src.isBlankLine(lastStart - 1);
  const body = (spaced ? src.eol : '') + lines.join(src.eol);
  if (at === src.text.length && !src.text.endsWith('\n')) {
    return { offset: at, length: 0, text: src.eol + body };
  }
  return { offset: at, length: 0, text: body + src.eol };
}

function entryStart(container: YAMLMap | YAMLSeq, index: number): number {
  if (isSeq(container)) return dashOffsets(container)[index] ?? 0;
  const pair = container.items[index] as AnyPair;
  colonOffset(pair); // refuses explicit keys
  const key = pair.key as Node;
  return key.range?.[0] ?? 0;
}

function entryEnd(src: Source, container: YAMLMap | YAMLSeq, index: number, entry: unknown): number {
  const value = isSeq(container) ? entry : (entry as AnyPair).value;
  if (!isBlank(value)) return src.contentEnd(value as Node);
  return isSeq(container) ? (dashOffsets(container)[index] ?? 0) + 1 : colonOffset(entry as AnyPair) + 1;
}

function removeEntry(src: Source, chain: Step[]): Splice {
  const target = chain[chain.length - 1] as Step;
  const parent = chain[chain.length - 2] as Step;
  const container = parent.node as YAMLMap | YAMLSeq;
  const slot = target.slot as Exclude<Slot, { kind: 'root' }>;
  src.checkAnchors(container.items[slot.index], target.path);
  if (container.items.length === 1 && chain.length > 2) {
    // An emptied section goes with its key; an emptied list stays as `[]`, an emptied list item as `{}`.
    if (isSeq(container)) return replaceSlot(src, parent.slot, [], parent.path);
    if (parent.slot.kind === 'pair') return removeEntry(src, chain.slice(0, -1));
    return replaceSlot(src, parent.slot, {}, parent.path);
  }
  const start = entryStart(container, slot.index);
  const end = entryEnd(src, container, slot.index, container.items[slot.index]);
  if (src.startsLine(start)) {
    let from = src.lineStart(start);
    const to = src.lineEndIncl(end - 1);
    // The last entry of the file takes the blank line that separated it, so none dangles at the end.
    if (to === src.text.length && from > 0 && src.isBlankLine(from - 1) && src.lineStart(from - 1) > 0) from = src.lineStart(from - 1);
    if (to === src.text.length && !src.text.endsWith('\n') && from > 0) {
      // Keep a file without a final newline that way.
      const eolStart = src.text[from - 2] === '\r' ? from - 2 : from - 1;
      return { offset: eolStart, length: to - eolStart, text: '' };
    }
    return { offset: from, length: to - from, text: '' };
  }
  // The first entry of a compact `- key: value` item: the next entry moves up beside the dash.
  const next = entryStart(container, slot.index + 1);
  return { offset: start, length: next - start, text: '' };
}

/** The text of a value in a slot replaced by `value`. */
function replaceSlot(src: Source, slot: Slot, value: JsonValue, path: ConfigPath): Splice {
  const old = slotNode(src, slot);
  if (isAlias(old)) throw new Refusal(`${where(path)} is an alias (*${old.source}): edit the anchored value instead`);
  src.checkAnchors(old, path);
  const oldNode = isBlank(old) ? undefined : (old as Node);
  const oldFlow = isCollection(oldNode) && oldNode.flow === true;
  const inline = inlineText(value, path, src.style, oldFlow);
  const oldBlock = isCollection(oldNode) && !oldFlow;

  if (slot.kind === 'root') {
    if (!isPlainObject(value)) throw new Refusal('the config must be a mapping of sections');
    const body = blockLines(value, 0, path, src.style).join(src.eol);
    const lead = src.text.length > 0 && !src.text.endsWith('\n') ? src.eol : '';
    return { offset: src.text.length, length: 0, text: `${lead}${body}${src.eol}` };
  }

  if (slot.kind === 'pair') {
    const pair = slot.map.items[slot.index] as AnyPair;
    const colonEnd = colonOffset(pair) + 1;
    if (inline !== undefined) {
      if (oldNode === undefined) return { offset: colonEnd, length: 0, text: ` ${inline}` };
      if (!oldBlock) {
        const start = src.propsStart(oldNode);
        return { offset: start, length: src.contentEnd(oldNode) - start, text: inline };
      }
      // A block value becomes one line; a comment on the key line stays on it.
      const keyLineRest = src.text.slice(colonEnd, src.lineEndExcl(colonEnd));
      const comment = /^\s+#/.test(keyLineRest) ? keyLineRest : '';
      return { offset: colonEnd, length: src.contentEnd(oldNode) - colonEnd, text: ` ${inline}${comment}` };
    }
    const keyColumn = src.column((pair.key as Node).range?.[0] ?? colonEnd);
    const sameKind = oldBlock && isSeq(oldNode) === Array.isArray(value);
    const column = sameKind
      ? src.column(isSeq(oldNode) ? (dashOffsets(oldNode)[0] ?? 0) : ((oldNode as YAMLMap).items[0]?.key as Node).range?.[0] ?? 0)
      : keyColumn + (Array.isArray(value) ? src.style.seqIndent : src.style.indent);
    const body = blockLines(value, column, path, src.style).join(src.eol);
    if (oldNode === undefined) {
      const at = src.lineEndExcl(colonEnd);
      return { offset: at, length: 0, text: src.eol + body };
    }
    if (oldBlock) {
      const from = src.lineStart(oldNode.range?.[0] ?? 0);
      return { offset: from, length: src.lineEndExcl(src.contentEnd(oldNode) - 1) - from, text: body };
    }
    // A one-line value becomes a block under its key; the rest of that line (a comment) stays.
    const end = src.contentEnd(oldNode);
    src.propsStart(oldNode);
    const lineEnd = src.lineEndExcl(end);
    return { offset: colonEnd, length: lineEnd - colonEnd, text: src.text.slice(end, lineEnd) + src.eol + body };
  }

  const dash = dashOffsets(slot.seq)[slot.index] ?? 0;
  const dashColumn = src.column(dash);
  const text = inline ?? itemLines(value, dashColumn, path, src.style).join(src.eol).slice(dashColumn + 2);
  if (oldNode === undefined) {
    let end = dash + 1;
    while (src.text[end] === ' ') end++;
    return { offset: dash + 1, length: end - dash - 1, text: ` ${text}` };
  }
  const start = src.propsStart(oldNode);
  if (src.lineStart(start) !== src.lineStart(dash)) {
    return { offset: dash + 1, length: src.contentEnd(oldNode) - dash - 1, text: ` ${text}` };
  }
  return { offset: start, length: src.contentEnd(oldNode) - start, text };
}

/** Edit inside a one-line flow collection by writing the whole collection again. */
function rewriteFlow(src: Source, chain: Step[], op: Op): Splice | null {
  const here = chain[chain.length - 1] as Step;
  const node = here.node as YAMLMap | YAMLSeq;
  const [start, end] = node.range ?? [0, 0];
  if (src.text.slice(start, end).includes('\n')) {
    throw new Refusal(`${where(here.path)} is written in flow style over several lines: edit it in the text`);
  }
  let nested = false;
  visit(node, {
    Node: (_, n) => {
      if (isAlias(n) || ('anchor' in n && n.anchor !== undefined)) nested = true;
    },
  });
  if (nested) throw new Refusal(`${where(here.path)} uses anchors or aliases: edit it in the text`);
  const rest = op.path.slice(here.path.length);
  const before = node.toJS(src.doc) as JsonValue;
  if (op.kind === 'remove' && getIn(before, rest) === undefined) return null;
  const after = applyToJson(before, { ...op, path: rest });
  if (op.kind === 'remove' && isPlainObject(after) && Object.keys(after).length === 0 && here.slot.kind === 'pair' && chain.length > 1) {
    return removeEntry(src, chain);
  }
  if (rest.length > 0 && op.kind !== 'remove') checkCreatable(before, rest, here.path);
  // A list of mappings (a source added to `sources: []`) reads better as a block.
  if (!isFlat(after) && here.slot.kind !== 'root') return replaceSlot(src, here.slot, after, here.path);
  return { offset: start, length: end - start, text: flowText(after, here.path, src.style) };
}

/** The splice narrowed to the characters that actually change. */
function trimChange(text: string, change: TextChange): TextChange {
  let { offset, length, text: insert } = change;
  while (length > 0 && insert.length > 0 && text[offset] === insert[0]) {
    offset++;
    length--;
    insert = insert.slice(1);
  }
  while (length > 0 && insert.length > 0 && text[offset + length - 1] === insert[insert.length - 1]) {
    length--;
    insert = insert.slice(0, -1);
  }
  // Never split a surrogate pair: editors place offsets between whole characters.
  const high = (ch: string | undefined): boolean => ch !== undefined && ch >= '\ud800' && ch <= '\udbff';
  if (offset > change.offset && high(text[offset - 1])) {
    offset--;
    length++;
    insert = (text[offset] ?? '') + insert;
  }
  if (high(text[offset + length - 1]) && offset + length < change.offset + change.length) {
    insert += text[offset + length] ?? '';
    length++;
  }
  return { offset, length, text: insert };
}
