import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { parse } from 'yaml';
import schemaJson from '../../media/run-config.schema.json';
import { deriveNumbers } from '../../src/core/config/derivedNumbers';
import { CONFIG_PRESETS } from '../../src/core/config/presets';
import { applyChanges, setValue } from '../../src/core/config/yamlEdit';
import { isPlainObject, loadSchema, schemaAt } from '../../src/shared/configSchema';
import type { ConfigPath, JsonValue, SchemaNode } from '../../src/shared/configSchema';
import { repoRoot } from './testUtil';

const schema = loadSchema(schemaJson);
const readConfig = (name: string): string => readFileSync(path.join(repoRoot, 'python', 'configs', name), 'utf8');

/** Whether the schema node accepts the value: kinds, enums, ranges, lengths, patterns, required keys. */
function accepts(node: SchemaNode, value: JsonValue): boolean {
  switch (node.kind) {
    case 'union':
      return node.options.some((option) => accepts(option, value));
    case 'null':
      return value === null;
    case 'boolean':
      return typeof value === 'boolean';
    case 'integer':
    case 'number':
      return (
        typeof value === 'number' &&
        Number.isFinite(value) &&
        (node.kind === 'number' || Number.isInteger(value)) &&
        (node.minimum === undefined || value >= node.minimum) &&
        (node.maximum === undefined || value <= node.maximum) &&
        (node.exclusiveMinimum === undefined || value > node.exclusiveMinimum) &&
        (node.exclusiveMaximum === undefined || value < node.exclusiveMaximum)
      );
    case 'string':
      return (
        typeof value === 'string' &&
        (node.enum === undefined || node.enum.includes(value)) &&
        (node.minLength === undefined || value.length >= node.minLength) &&
        (node.maxLength === undefined || value.length <= node.maxLength) &&
        (node.pattern === undefined || new RegExp(node.pattern).test(value))
      );
    case 'array':
      return (
        Array.isArray(value) &&
        (node.minItems === undefined || value.length >= node.minItems) &&
        (node.maxItems === undefined || value.length <= node.maxItems) &&
        value.every((item) => accepts(node.items, item))
      );
    case 'object':
      return (
        isPlainObject(value) &&
        [...node.required].every((key) => key in value) &&
        Object.entries(value).every(([key, v]) => {
          const child = node.properties.get(key);
          return child !== undefined && accepts(child, v);
        })
      );
  }
}

function getIn(value: JsonValue | undefined, at: ConfigPath): JsonValue | undefined {
  let node = value;
  for (const part of at) node = isPlainObject(node) && typeof part === 'string' ? node[part] : Array.isArray(node) && typeof part === 'number' ? node[part] : undefined;
  return node;
}

test('the accepts check itself tells good values from bad ones', () => {
  const node = (p: string[]): SchemaNode => schemaAt(schema, p) as SchemaNode;
  assert.ok(accepts(node(['train', 'epochs']), 2) && !accepts(node(['train', 'epochs']), 0) && !accepts(node(['train', 'epochs']), '2'));
  assert.ok(accepts(node(['train', 'max_steps']), -1) && !accepts(node(['train', 'max_steps']), 1.5));
  assert.ok(accepts(node(['model', 'quantization']), '4bit') && !accepts(node(['model', 'quantization']), '8bit'));
  assert.ok(accepts(node(['checkpoints', 'save_total_limit']), null) && !accepts(node(['checkpoints', 'save_total_limit']), 0));
  assert.ok(accepts(node(['lora', 'target_modules']), ['q_proj']) && !accepts(node(['lora', 'target_modules']), [1]));
  assert.ok(accepts(node(['hub', 'repo_id']), 'lab/model') && !accepts(node(['hub', 'repo_id']), 'no slash'));
  assert.ok(accepts(node(['data', 'image', 'window']), { center: 40, width: 400 }) && !accepts(node(['data', 'image', 'window']), { center: 40 }));
});

test('every preset path exists in the schema and every value is accepted there', () => {
  const ids = new Set<string>();
  for (const preset of CONFIG_PRESETS) {
    assert.ok(!ids.has(preset.id), `unique id ${preset.id}`);
    ids.add(preset.id);
    assert.ok(preset.label.length > 0 && preset.detail.length > 0);
    const paths = new Set<string>();
    for (const { path: at, value } of preset.values) {
      const key = at.join('.');
      assert.ok(!paths.has(key), `${preset.id}: ${key} set once`);
      paths.add(key);
      assert.ok(['model', 'train', 'lora', 'eval', 'checkpoints', 'launch'].includes(at[0] as string), `${preset.id}: ${key} is in a section presets own`);
      const node = schemaAt(schema, at);
      assert.ok(node !== undefined, `${preset.id}: ${key} exists in the schema`);
      assert.ok(accepts(node, value), `${preset.id}: ${key} = ${JSON.stringify(value)} is accepted`);
    }
    for (const required of ['model.base', 'model.quantization', 'train.per_device_batch_size', 'train.gradient_accumulation_steps', 'lora.r', 'launch.num_processes']) {
      assert.ok(paths.has(required), `${preset.id} sets ${required}`);
    }
  }
  assert.deepEqual(
    CONFIG_PRESETS.map((p) => p.label),
    ['MedGemma 4B QLoRA', 'Qwen2.5-VL 7B LoRA', 'Qwen2.5-VL 32B QLoRA as in the MedVision tutorial'],
  );
});

test('applied to the demo config, each preset leaves its values and the demo\'s data untouched', () => {
  const demo = readConfig('demo.sft.yaml');
  const demoData = (parse(demo) as { data: JsonValue }).data;
  const dataLines = (text: string): string => text.slice(text.indexOf('\ndata:\n'), text.indexOf('\ntrain:\n'));
  for (const preset of CONFIG_PRESETS) {
    let text = demo;
    for (const { path: at, value } of preset.values) {
      const result = setValue(text, at, value);
      assert.ok(result.ok, `${preset.id}: ${at.join('.')}: ${result.ok ? '' : result.message}`);
      text = applyChanges(text, result.changes);
    }
    const parsed = parse(text) as JsonValue;
    for (const { path: at, value } of preset.values) {
      assert.deepEqual(getIn(parsed, at), value, `${preset.id}: ${at.join('.')}`);
    }
    assert.deepEqual((parsed as { data: JsonValue }).data, demoData, `${preset.id}: data unchanged`);
    assert.equal(dataLines(text), dataLines(demo), `${preset.id}: the data section's text is byte-identical`);
    assert.ok(text.startsWith(demo.slice(0, demo.indexOf('\nmodel:'))), `${preset.id}: the header comments stay`);
    const memory = deriveNumbers(parsed, undefined).memory;
    assert.ok(memory.totalGiB !== null, `${preset.id}: ${memory.why}`);
  }
});

test('presets match the example configs they are named after, and their stated GPU sizes', () => {
  // A list with a default_factory has no JSON default: its default is empty.
  const defaults = (at: ConfigPath): JsonValue | undefined => {
    const node = schemaAt(schema, at);
    return node?.hasDefault === true ? node.default : node?.kind === 'array' ? [] : undefined;
  };
  const compare = (presetId: string, file: string, differences: Record<string, JsonValue>): void => {
    const preset = CONFIG_PRESETS.find((p) => p.id === presetId);
    assert.ok(preset !== undefined);
    const config = parse(readConfig(file)) as JsonValue;
    for (const { path: at, value } of preset.values) {
      const key = at.join('.');
      const inFile = getIn(config, at);
      const expected = key in differences ? differences[key] : inFile === undefined ? defaults(at) : inFile;
      assert.deepEqual(value, expected, `${presetId}: ${key} as in ${file}`);
    }
  };
  compare('medgemma-4b-qlora', 'medgemma-4b-qlora.sft.yaml', {});
  compare('qwen2_5_vl-32b-medvision-qlora', 'qwen2_5_vl-32b-medvision.sft.yaml', { 'model.quantization': '4bit' });

  const gib = (id: string): number => {
    const preset = CONFIG_PRESETS.find((p) => p.id === id);
    const config: { [key: string]: JsonValue } = { data: { sources: [{ records: 'r.jsonl' }] } };
    for (const { path: at, value } of preset?.values ?? []) {
      const [section, key] = at as [string, string];
      config[section] = { ...(config[section] as object), [key]: value };
    }
    return deriveNumbers(config, undefined).memory.totalGiB ?? NaN;
  };
  assert.ok(gib('medgemma-4b-qlora') < 16, 'MedGemma 4B QLoRA fits a 16 GB GPU');
  assert.ok(gib('qwen2_5_vl-7b-lora') < 40, 'Qwen2.5-VL 7B LoRA fits a 40 GB GPU');
  assert.ok(gib('qwen2_5_vl-32b-medvision-qlora') < 40, 'Qwen2.5-VL 32B in 4-bit fits a 40 GB GPU');
});
