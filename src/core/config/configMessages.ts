// Wording of the editor's structural problems: how a value is shown, and the small phrases the
// messages are built from.

import type { StringSchema } from '../../shared/configSchema';
import type { ConfigNode, ScalarNode } from './yamlSource';

export function show(node: ConfigNode): string {
  if (node.kind === 'map') return 'a mapping';
  if (node.kind === 'seq') return 'a list';
  if (node.type === 'null') return node.text === '' ? 'an empty value' : '`null`';
  const text = node.type === 'str' ? node.text : node.text || String(node.value);
  if (text === '') return 'an empty value';
  const shown = text.length <= 40 ? text : `${text.slice(0, 37)}...`;
  return node.quoted ? `\`"${shown}"\`` : `\`${shown}\``;
}

export function stringMessage(schema: StringSchema, node: ScalarNode): string {
  const text = node.value as string;
  const length = [...text].length;
  if (schema.minLength !== undefined && length < schema.minLength) {
    return length === 0 ? 'the value is empty; expected text' : `${show(node)} is too short (at least ${schema.minLength} characters)`;
  }
  if (schema.maxLength !== undefined && length > schema.maxLength) {
    return `the text is ${length} characters long; at most ${schema.maxLength} are allowed`;
  }
  if (schema.pattern !== undefined) {
    return `${show(node)} should have the form \`owner/name\``;
  }
  return `${show(node)} is not valid here`;
}

export function listSize(n: number): string {
  return n === 0 ? 'the list is empty' : `the list has ${n} item${n === 1 ? '' : 's'}`;
}

export function sizeText(schema: { minItems?: number; maxItems?: number }): string {
  if (schema.minItems !== undefined && schema.maxItems !== undefined) return `give ${schema.minItems} to ${schema.maxItems} items`;
  if (schema.minItems !== undefined) return `give at least ${schema.minItems}`;
  return `give at most ${schema.maxItems}`;
}

export function orList(items: readonly string[]): string {
  return items.length <= 1 ? (items[0] ?? '') : `${items.slice(0, -1).join(', ')} or ${items[items.length - 1]}`;
}

export function firstSentence(description: string): string {
  return description.split('; ')[0]!.split('. ')[0]!.replace(/\.$/, '');
}
