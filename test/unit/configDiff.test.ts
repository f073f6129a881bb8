// Compare mode's config differences: dotted paths, every run's value, nothing that is equal.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { diffConfigs, flattenConfig, formatConfigValue } from '../../src/core/configDiff';

const base = {
  model: { base: 'Qwen/Qwen2.5-VL-3B-Instruct', quantization: null },
  train: { learning_rate: 2e-4, epochs: 3, bf16: true },
  lora: { enabled: true, r: 16, target_modules: ['q_proj', 'v_proj'] },
  data: { sources: [{ name: 'lesion', records: '/data/a.jsonl', val_limit: 10 }] },
  hub: {},
};

describe('flattenConfig', () => {
  it('flattens to dotted paths with list indices, in document order', () => {
    assert.deepEqual([...flattenConfig(base)], [
      ['model.base', 'Qwen/Qwen2.5-VL-3B-Instruct'],
      ['model.quantization', null],
      ['train.learning_rate', 2e-4],
      ['train.epochs', 3],
      ['train.bf16', true],
      ['lora.enabled', true],
      ['lora.r', 16],
      ['lora.target_modules[0]', 'q_proj'],
      ['lora.target_modules[1]', 'v_proj'],
      ['data.sources[0].name', 'lesion'],
      ['data.sources[0].records', '/data/a.jsonl'],
      ['data.sources[0].val_limit', 10],
      ['hub', {}],
    ]);
  });

  it('quotes keys that would make a path ambiguous and keeps empty lists', () => {
    assert.deepEqual([...flattenConfig({ 'a.b': { 'c d': [] }, x: [[1]] })], [
      ['["a.b"]["c d"]', []],
      ['x[0][0]', 1],
    ]);
  });

  it('stops at a depth limit instead of recursing forever', () => {
    let deep: unknown = 1;
    for (let i = 0; i < 100; i++) deep = { k: deep };
    const flat = flattenConfig(deep, 8);
    assert.equal(flat.size, 1);
    assert.match([...flat.keys()][0] ?? '', /^k(\.k){7}$/);
  });
});

describe('diffConfigs', () => {
  it('lists only the paths whose values differ, with each run\'s value', () => {
    const other = structuredClone(base);
    other.train.learning_rate = 1e-4;
    other.lora.r = 32;
    other.lora.target_modules.push('o_proj');
    const differences = diffConfigs([base, other]);
    assert.deepEqual(differences, [
      { path: 'train.learning_rate', values: [2e-4, 1e-4] },
      { path: 'lora.r', values: [16, 32] },
      { path: 'lora.target_modules[2]', values: [undefined, 'o_proj'] },
    ]);
  });

  it('finds nothing between equal configs, and tells 1 from "1" and null from absent', () => {
    assert.deepEqual(diffConfigs([base, structuredClone(base), structuredClone(base)]), []);
    assert.deepEqual(diffConfigs([{ a: 1, b: null }, { a: '1' }]), [
      { path: 'a', values: [1, '1'] },
      { path: 'b', values: [null, undefined] },
    ]);
  });

  it('compares three runs: a path differs when any run differs', () => {
    const a = { train: { epochs: 3, seed: 1 } };
    const b = { train: { epochs: 3, seed: 2 } };
    const c = { train: { epochs: 4, seed: 1 } };
    assert.deepEqual(diffConfigs([a, b, c]), [
      { path: 'train.epochs', values: [3, 3, 4] },
      { path: 'train.seed', values: [1, 2, 1] },
    ]);
  });

  it('lists paths only later runs have after the first run\'s paths', () => {
    assert.deepEqual(
      diffConfigs([{ b: 1 }, { a: 2, b: 1 }]).map((d) => d.path),
      ['a'],
    );
  });
});

describe('formatConfigValue', () => {
  it('shows strings bare, the rest as JSON, absent as null, and cuts long values', () => {
    assert.equal(formatConfigValue('q_proj'), 'q_proj');
    assert.equal(formatConfigValue(2e-4), '0.0002');
    assert.equal(formatConfigValue(true), 'true');
    assert.equal(formatConfigValue(null), 'null');
    assert.equal(formatConfigValue([]), '[]');
    assert.equal(formatConfigValue(undefined), null);
    assert.equal(formatConfigValue('x'.repeat(50), 10), `${'x'.repeat(9)}…`);
  });
});
