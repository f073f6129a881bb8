// Union fields (`window`: mapping, preset or null; `target_modules`: text or list; a nullable
// number with a non-null default): the kinds the picker offers, and which kind a value is.

import type { JsonValue, SchemaNode } from '../../src/shared/configSchema';
import { isPlainObject } from '../../src/shared/configSchema';

export interface UnionKind {
  readonly id: string;
  readonly label: string;
}

/** Kind ids that are not schema alternatives. */
export const DEFAULT_KIND = 'default';
export const NULL_KIND = 'null';

/** Kinds listed before the schema's alternatives (only "default"). */
export function offsetOf(kinds: readonly UnionKind[]): number {
  return kinds[0]?.id === DEFAULT_KIND ? 1 : 0;
}

export function unionKinds(
  alternatives: readonly SchemaNode[],
  nullable: boolean,
  hasDefault: boolean,
  defaultText: string | undefined,
): UnionKind[] {
  const kinds: UnionKind[] = [];
  if (hasDefault) {
    kinds.push({ id: DEFAULT_KIND, label: `default (${defaultText ?? 'null'})` });
  }
  const seen = new Set<string>();
  for (const [i, alternative] of alternatives.entries()) {
    let id: string = alternative.kind === 'string' && alternative.enum !== undefined ? 'enum' : alternative.kind;
    if (seen.has(id)) {
      id = `${id}${i}`;
    }
    seen.add(id);
    kinds.push({ id, label: kindLabel(alternative) });
  }
  if (nullable && !(hasDefault && defaultText === 'null')) {
    kinds.push({ id: NULL_KIND, label: 'null' });
  }
  return kinds;
}

function kindLabel(node: SchemaNode): string {
  switch (node.kind) {
    case 'object':
      return `{${[...node.properties.keys()].join(', ')}}`;
    case 'string':
      return node.enum !== undefined ? 'choice' : 'text';
    case 'array':
      return 'list';
    case 'boolean':
      return 'true/false';
    default:
      return node.kind;
  }
}

/** Which alternative a written value belongs to; a value of no alternative shows in the first. */
export function kindOfValue(alternatives: readonly SchemaNode[], kinds: readonly UnionKind[], value: JsonValue | undefined): string {
  if (value === null) {
    return kinds.some((k) => k.id === NULL_KIND) ? NULL_KIND : DEFAULT_KIND;
  }
  const offset = offsetOf(kinds);
  const matches = (node: SchemaNode): boolean => {
    switch (node.kind) {
      case 'object':
        return isPlainObject(value);
      case 'array':
        return Array.isArray(value);
      case 'string':
        return typeof value === 'string' && (node.enum === undefined || node.enum.includes(value));
      case 'integer':
        return typeof value === 'number' && Number.isInteger(value);
      case 'number':
        return typeof value === 'number';
      case 'boolean':
        return typeof value === 'boolean';
      default:
        return false;
    }
  };
  let index = alternatives.findIndex(matches);
  if (index < 0) {
    // A string outside an enum still belongs with the enum when there is no free-text option.
    index = Math.max(0, alternatives.findIndex((node) => node.kind === 'string' && typeof value === 'string'));
  }
  return kinds[index + offset]?.id ?? DEFAULT_KIND;
}
