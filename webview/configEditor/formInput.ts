// What the user types, turned into intents: parsing a field's text by its kind, writing a
// field through its parent when the parent is not a mapping yet, and splitting descriptions
// at `code` spans. Pure, so unit-tested in Node.

import type { ConfigPath, JsonValue } from '../../src/shared/configSchema';
import { dottedPath } from '../../src/shared/configSchema';
import type { StateProblem } from '../../src/shared/protocol/configEditor';
import type { Control, FieldNode, ScalarKind } from './formTypes';

export type ParseResult = { readonly ok: true; readonly value: JsonValue | undefined } | { readonly ok: false; readonly message: string };

const INTEGER = /^[+-]?\d+$/;
const NUMBER = /^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/;

function parseScalar(kind: ScalarKind, text: string): ParseResult {
  if (kind === 'string') {
    return { ok: true, value: text };
  }
  if (kind === 'integer') {
    return INTEGER.test(text) && Number.isSafeInteger(Number(text))
      ? { ok: true, value: Number(text) }
      : { ok: false, message: `"${text}" is not an integer.` };
  }
  const n = Number(text);
  return NUMBER.test(text) && Number.isFinite(n) ? { ok: true, value: n } : { ok: false, message: `"${text}" is not a number.` };
}

/**
 * What typing `text` into a field's control means: a value to set, `undefined` to remove the
 * key (the default applies), or a message when the text is not of the field's type. Range and
 * length are not checked here: the value is written and the diagnostics explain, as in YAML.
 */
export function parseInput(field: Pick<FieldNode, 'required'>, control: Control, text: string): ParseResult {
  const trimmed = control.kind === 'text' ? text : text.trim();
  if (trimmed === '' && control.kind !== 'list') {
    // A required key stays written, so the form keeps showing what is missing.
    return field.required && control.kind === 'text' ? { ok: true, value: '' } : { ok: true, value: undefined };
  }
  switch (control.kind) {
    case 'text':
      return { ok: true, value: text };
    case 'number':
      return parseScalar(control.integer ? 'integer' : 'number', trimmed);
    case 'list': {
      const parts = (control.itemKind === 'string' ? text.split('\n') : text.split(/[\s,]+/)).map((p) => p.trim()).filter((p) => p !== '');
      if (parts.length === 0) {
        return { ok: true, value: field.required ? [] : undefined };
      }
      const values: JsonValue[] = [];
      for (const part of parts) {
        const parsed = parseScalar(control.itemKind, part);
        if (!parsed.ok) {
          return parsed;
        }
        values.push(parsed.value ?? null);
      }
      return { ok: true, value: values };
    }
    case 'json':
      try {
        return { ok: true, value: JSON.parse(trimmed) as JsonValue };
      } catch {
        return { ok: false, message: 'Not valid JSON.' };
      }
    default:
      return { ok: false, message: 'This field is not edited as text.' };
  }
}

/** `{path, value}` for setting a field, through its parent when the parent is not a mapping yet. */
export function setIntent(field: Pick<FieldNode, 'path' | 'wrap' | 'key'>, value: JsonValue): { path: ConfigPath; value: JsonValue } {
  if (field.wrap !== undefined) {
    return { path: field.wrap, value: { [field.key]: value } };
  }
  return { path: field.path, value };
}

/** The dotted path of a problem, as the top list shows it (`(document)` for the root). */
export function problemLocation(problem: StateProblem): string {
  return problem.path.length === 0 ? '(document)' : dottedPath(problem.path);
}

/** Splits a schema description at `backticks`, so code spans render as <code> (as text, never HTML). */
export function descriptionSegments(text: string): { readonly code: boolean; readonly text: string }[] {
  const segments: { code: boolean; text: string }[] = [];
  const pattern = /`([^`]+)`/g;
  let last = 0;
  for (const match of text.matchAll(pattern)) {
    const index = match.index ?? 0;
    if (index > last) {
      segments.push({ code: false, text: text.slice(last, index) });
    }
    segments.push({ code: true, text: match[1] ?? '' });
    last = index + match[0].length;
  }
  if (last < text.length) {
    segments.push({ code: false, text: text.slice(last) });
  }
  return segments;
}
