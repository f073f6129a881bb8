// Shared by the YAML edit tests: the example configs, the schema, and the expected results of
// an edit computed on plain values (the config with one value set or removed).
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { parseDocument } from 'yaml';
import schemaJson from '../../../media/run-config.schema.json';
import { applyChanges } from '../../../src/core/config/yamlEdit';
import type { EditResult } from '../../../src/core/config/yamlEdit';
import { isPlainObject, loadSchema } from '../../../src/shared/configSchema';
import type { ConfigPath, JsonValue } from '../../../src/shared/configSchema';
import { repoRoot } from '../testUtil';

const configDir = path.join(repoRoot, 'python', 'configs');
export const examples = readdirSync(configDir)
  .filter((f) => f.endsWith('.sft.yaml'))
  .sort()
  .map((name) => ({ name, text: readFileSync(path.join(configDir, name), 'utf8') }));
export const schema = loadSchema(schemaJson);

export function applied(text: string, result: EditResult): string {
  assert.ok(result.ok, result.ok ? '' : result.message);
  return applyChanges(text, result.changes);
}

export function toJs(text: string): JsonValue {
  const doc = parseDocument(text);
  assert.deepEqual(doc.errors, [], `the result must parse:\n${text}`);
  return doc.toJS() as JsonValue;
}

/** The original with `value` at `path`, mappings created as needed. */
export function withValue(root: JsonValue, at: ConfigPath, value: JsonValue): JsonValue {
  const out = structuredClone(root) as { [key: string]: JsonValue };
  let node: JsonValue = out;
  at.forEach((part, i) => {
    const container = node as Record<string | number, JsonValue>;
    if (i === at.length - 1) {
      container[part] = value;
      return;
    }
    const child = container[part];
    if (child === null || child === undefined || typeof child !== 'object') {
      container[part] = typeof at[i + 1] === 'number' ? [] : {};
    }
    node = container[part] as JsonValue;
  });
  return out;
}

/** The config without `at`; a mapping emptied inside a mapping goes too (the rule removeValue follows). */
export function without(root: JsonValue, at: ConfigPath): JsonValue {
  const out = structuredClone(root);
  const chain: JsonValue[] = [out];
  for (const part of at.slice(0, -1)) chain.push((chain[chain.length - 1] as Record<string | number, JsonValue>)[part] as JsonValue);
  const last = at[at.length - 1] as string | number;
  const container = chain[chain.length - 1];
  if (Array.isArray(container)) container.splice(last as number, 1);
  else delete (container as Record<string, JsonValue>)[last as string];
  for (let i = at.length - 2; i >= 0; i--) {
    const parent = chain[i];
    const child = chain[i + 1];
    if (!isPlainObject(parent) || !isPlainObject(child) || Object.keys(child).length > 0) break;
    delete parent[at[i] as string];
  }
  return out;
}

/** Lines of `before` and `after` that differ, found from the common first and last lines. */
export function lineDiff(before: string, after: string): { removed: string[]; added: string[] } {
  const a = before.split('\n');
  const b = after.split('\n');
  let head = 0;
  while (head < a.length && head < b.length && a[head] === b[head]) head++;
  let tail = 0;
  while (tail < a.length - head && tail < b.length - head && a[a.length - 1 - tail] === b[b.length - 1 - tail]) tail++;
  return { removed: a.slice(head, a.length - tail), added: b.slice(head, b.length - tail) };
}

export function commentLines(text: string): string[] {
  return text.split(/\r?\n/).filter((line) => line.trim().startsWith('#'));
}
