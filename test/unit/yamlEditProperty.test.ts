// Property tests of the YAML edits: random edits of the example configs read back as the
// original with exactly that change, and damaged texts never make an edit throw.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseDocument } from 'yaml';
import { appendListItem, applyChanges, removeValue, setValue } from '../../src/core/config/yamlEdit';
import { arrayOf, enumChoices, isPlainObject, objectOf, options } from '../../src/shared/configSchema';
import type { ConfigPath, JsonValue, SchemaNode } from '../../src/shared/configSchema';
import { commentLines, examples, schema, toJs, withValue, without } from './helpers/yamlEditUtil';
import { seededRandom } from './testUtil';

const TRICKY = ['x', 'yes', '1e3', '', ' pad', 'a: b', '#c', 'é', 'line\nbreak', 'null', '0x1F', '~', '-', '2.0', 'q_proj', '24:00:00'];

function randomValue(node: SchemaNode, next: () => number, depth = 0): JsonValue {
  const pick = <T>(items: readonly T[]): T => items[Math.floor(next() * items.length)] as T;
  const choices = node.kind === 'union' ? node.options : [node];
  const option = pick(choices);
  switch (option.kind) {
    case 'null':
      return null;
    case 'boolean':
      return next() < 0.5;
    case 'integer': {
      const low = option.minimum ?? (option.exclusiveMinimum ?? -1000) + 1;
      const high = Math.min(option.maximum ?? low + 5000, low + 5000);
      return low + Math.floor(next() * (high - low + 1));
    }
    case 'number':
      return pick([0, 1, 2, 3.5, 0.03, 2e-4, 1e-7, 123456.75, -40]);
    case 'string':
      return enumChoices(option).length > 0 ? pick(enumChoices(option)) : pick(TRICKY);
    case 'array':
      return depth > 1 ? [] : Array.from({ length: Math.floor(next() * 3) }, () => randomValue(option.items, next, depth + 1));
    case 'object': {
      const out: { [key: string]: JsonValue } = {};
      for (const [key, child] of option.properties) {
        if (option.required.has(key) || next() < 0.3) out[key] = randomValue(child, next, depth + 1);
      }
      return out;
    }
    case 'union':
      return randomValue(option, next, depth + 1);
  }
}

/** A random settable path: a leaf of the schema, or a whole list or small section. */
function randomPath(config: JsonValue, next: () => number): { path: ConfigPath; node: SchemaNode } {
  let node: SchemaNode = schema;
  const out: (string | number)[] = [];
  let value: JsonValue | undefined = config;
  for (;;) {
    const object = objectOf(node);
    const array = arrayOf(node);
    if (object !== undefined && (out.length === 0 || next() < 0.85) && !(options(node).length > 1 && next() < 0.5)) {
      const keys = [...object.properties.keys()];
      const key = keys[Math.floor(next() * keys.length)] as string;
      out.push(key);
      node = object.properties.get(key) as SchemaNode;
      value = isPlainObject(value) ? value[key] : undefined;
    } else if (array !== undefined && objectOf(array.items) !== undefined && Array.isArray(value) && next() < 0.8) {
      const index = Math.floor(next() * (value.length + 1));
      out.push(index);
      node = array.items;
      value = value[index];
    } else {
      return { path: out, node };
    }
  }
}

test('property: a few hundred random edits read back as the original with exactly that change', () => {
  const next = seededRandom(20240611);
  let edits = 0;
  for (let round = 0; round < 300; round++) {
    const example = examples[round % examples.length] as (typeof examples)[number];
    const original = toJs(example.text);
    const { path: at, node } = randomPath(original, next);
    const value = randomValue(node, next);
    const result = setValue(example.text, at, value);
    const label = `${example.name}: set ${JSON.stringify(at)} = ${JSON.stringify(value)}`;
    assert.ok(result.ok, `${label}: ${result.ok ? '' : result.message}`);
    const after = applyChanges(example.text, result.changes);
    const expected = withValue(original, at, value);
    assert.deepEqual(toJs(after), expected, label);
    assert.deepEqual(commentLines(after).filter((c) => !commentLines(example.text).includes(c)), [], `${label}: no comment invented`);
    if (!(isPlainObject(value) || Array.isArray(value))) {
      // Replacing a scalar never loses a comment.
      assert.deepEqual(commentLines(after), commentLines(example.text), `${label}: comments kept`);
    }
    if (next() < 0.3) {
      const removed = removeValue(after, at);
      assert.ok(removed.ok, `${label}, then removed: ${removed.ok ? '' : removed.message}`);
      assert.deepEqual(toJs(applyChanges(after, removed.changes)), without(expected, at), `${label}, then removed`);
    }
    edits++;
  }
  assert.equal(edits, 300);
});

test('damaged texts: every edit either refuses with a message or gives text that parses, never throws', () => {
  const next = seededRandom(99);
  const pieces = ['\n', ' ', ':', '- ', '#', '[', ']', '{', '"', "'", '&a ', '*a', '!!str ', '? ', '\t', '---\n', '|\n', '  '];
  const paths: ConfigPath[] = [['model', 'base'], ['data', 'sources', 0, 'records'], ['data', 'sources', 1], ['train', 'epochs'], ['lora', 'modules_to_save'], ['launch', 'gpus', 0], ['hub', 'repo_id'], ['x', 'y']];
  const values: JsonValue[] = [1, 2.5, 'text', null, true, [1, 2], { a: 1 }, [], {}, 'a: b'];
  const pick = <T>(items: readonly T[]): T => items[Math.floor(next() * items.length)] as T;
  for (let i = 0; i < 600; i++) {
    let text = pick(examples).text;
    for (let e = Math.floor(next() * 8); e > 0; e--) {
      const at = Math.floor(next() * (text.length + 1));
      text = next() < 0.5 ? text.slice(0, at) + pick(pieces) + text.slice(at) : text.slice(0, at) + text.slice(at + 1 + Math.floor(next() * 5));
    }
    const at = pick(paths);
    const kind = Math.floor(next() * 3);
    const result = kind === 0 ? setValue(text, at, pick(values)) : kind === 1 ? removeValue(text, at) : appendListItem(text, at, pick(values));
    if (result.ok) {
      assert.deepEqual(parseDocument(applyChanges(text, result.changes)).errors, [], JSON.stringify({ text, at, kind }));
    } else {
      assert.ok(result.message.length > 0);
    }
  }
});
