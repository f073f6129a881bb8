// The editor's structural validation of run configs: ranges of the offending key or value,
// the trainer's strict types, YAML problems with their positions, and the quick fixes.
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { checkConfigText } from '../../src/core/config/validateConfig';
import type { ConfigProblem } from '../../src/core/config/yamlSource';
import { nodeAt, pathAtOffset, toValue } from '../../src/core/config/configTree';
import { parseConfig } from '../../src/core/config/yamlSource';
import { closestMatch, similarity } from '../../src/core/config/similarity';
import { dottedPath, loadSchema, parseDottedPath } from '../../src/shared/configSchema';
import { repoRoot } from './testUtil';

const BASE = 'model:\n  base: google/medgemma-4b-it\ndata:\n  sources:\n    - records: r.jsonl\n      tasks: t.json\n';

function problemsOf(text: string): ConfigProblem[] {
  return [...checkConfigText(text).problems];
}

/** The one problem, with the text its range covers. */
function only(text: string): ConfigProblem & { covered: string } {
  const problems = problemsOf(text);
  assert.equal(problems.length, 1, `expected one problem, got ${JSON.stringify(problems.map((p) => p.message))}`);
  const p = problems[0]!;
  return { ...p, covered: text.slice(p.range.start, p.range.end) };
}

describe('run config validation', () => {
  it('accepts every example config', () => {
    const dir = path.join(repoRoot, 'python/configs');
    for (const file of readdirSync(dir).filter((f) => f.endsWith('.sft.yaml'))) {
      assert.deepEqual(problemsOf(readFileSync(path.join(dir, file), 'utf8')), [], file);
    }
  });

  it('points at an unknown key and suggests the close one', () => {
    const p = only(`${BASE}train:\n  learning_rte: 1.0e-4\n`);
    assert.equal(p.code, 'unknown-key');
    assert.equal(p.covered, 'learning_rte');
    assert.deepEqual(p.path, ['train', 'learning_rte']);
    assert.match(p.message, /did you mean `learning_rate`/);
    assert.equal(p.fixes?.[0]?.title, 'Change to `learning_rate`');
    assert.deepEqual(p.fixes?.[0]?.edits, [{ range: p.range, text: 'learning_rate' }]);
    assert.equal(p.fixes?.[1]?.title, 'Remove `learning_rte`');
  });

  it('says where a misplaced key belongs', () => {
    const p = only(`${BASE}train:\n  r: 8\n`);
    assert.match(p.message, /belongs in `lora`/);
  });

  it('points at a value of the wrong type, following the trainer’s strict types', () => {
    const cases: [string, string, RegExp][] = [
      ['train:\n  epochs: two\n', 'two', /`two` should be a number/],
      ['train:\n  per_device_batch_size: "4"\n', '"4"', /quoted text.*remove the quotes/],
      ['train:\n  per_device_batch_size: 2.0\n', '2.0', /whole number such as `2`/],
      ['train:\n  use_cpu: yes\n', 'yes', /`yes` is text, not a boolean \(YAML 1\.2 reads yes\/no\/on\/off as text\); write true or false/],
      ['train:\n  use_cpu: "true"\n', '"true"', /quoted text; write true or false without quotes/],
      ['hub:\n  repo_id: 7\n', '7', /`7` should be text; put it in quotes/],
      ['train:\n  max_grad_norm: .inf\n', '.inf', /`\.inf` should be a finite number/],
      ['train:\n  use_cpu: 1\n', '1', /should be `true` or `false`/],
      ['model:\n  base: x\n  max_length: [1]\n', '[1]', /a list should be/],
    ];
    for (const [extra, covered, message] of cases) {
      const text = extra.startsWith('model:') ? `${extra}data:\n  sources:\n    - records: r.jsonl\n` : `${BASE}${extra}`;
      const p = only(text);
      assert.equal(p.covered, covered, extra);
      assert.match(p.message, message, extra);
      assert.equal(p.code, 'invalid-value');
    }
  });

  it('accepts an integer for a float and a float tag, as pydantic does', () => {
    assert.deepEqual(problemsOf(`${BASE}train:\n  epochs: 3\n  learning_rate: !!float 1\n`), []);
  });

  it('reports out-of-range numbers with a fix to the nearest bound', () => {
    const p = only(`${BASE}lora:\n  r: 5000\n`);
    assert.equal(p.covered, '5000');
    assert.match(p.message, /out of range; expected an integer from 1 to 1024/);
    assert.deepEqual(p.fixes?.map((f) => f.title), ['Set to the maximum, 1024']);
    const q = only(`${BASE}train:\n  learning_rate: 0.0\n`);
    assert.match(q.message, /above 0/);
    assert.deepEqual(q.fixes ?? [], [], 'an exclusive bound has no value to jump to');
  });

  it('reports a bad choice with the choices and the closest one', () => {
    const p = only(`${BASE}train:\n  optimizer: adamw\n`);
    assert.equal(p.code, 'invalid-choice');
    assert.equal(p.covered, 'adamw');
    assert.match(p.message, /`adamw_torch`, `adamw_torch_fused`, `adamw_8bit` or `paged_adamw_8bit`; did you mean `adamw_8bit`\?/);
  });

  it('checks inside unions: a window mapping without its width, a preset name typo', () => {
    const window = only(`${BASE}  image:\n    normalization: window\n    window: {center: 40}\n`);
    assert.equal(window.code, 'missing-key');
    assert.deepEqual(window.path, ['data', 'image', 'window', 'width']);
    assert.equal(window.covered, 'window');
    const preset = only(`${BASE}  image:\n    window: ct_bones\n`);
    assert.match(preset.message, /did you mean `ct_bone`/);
  });

  it('reports missing required keys at their section, and at the top for top-level ones', () => {
    const p = only('model:\n  family: qwen2_5_vl\ndata:\n  sources:\n    - records: r.jsonl\n');
    assert.equal(p.code, 'missing-key');
    assert.equal(p.covered, 'model');
    assert.match(p.message, /missing required key `base` in `model`/);
    const top = problemsOf('model:\n  base: x\n');
    assert.deepEqual(top.map((q) => [q.code, q.range.start]), [['missing-key', 0]]);
  });

  it('reports list sizes and list items', () => {
    assert.match(only('model:\n  base: x\ndata:\n  sources: []\n').message, /the list is empty; give 1 to 256 items/);
    const item = only(`${BASE}launch:\n  gpus: [0, -1]\n`);
    assert.deepEqual(item.path, ['launch', 'gpus', 1]);
    assert.equal(item.covered, '-1');
  });

  it('reports YAML problems with their positions', () => {
    const dup = only(`${BASE}train:\n  epochs: 1\n  epochs: 2\n`);
    assert.equal(dup.code, 'yaml-duplicate-key');
    assert.equal(dup.range.start, `${BASE}train:\n  epochs: 1\n  `.length);
    assert.match(dup.message, /first defined on line 8/);
    const tab = only(`${BASE}train:\n\tepochs: 1\n`);
    assert.equal(tab.code, 'yaml-tab');
    assert.equal(tab.range.start, `${BASE}train:\n`.length);
    const syntax = only(`${BASE}train:\n  epochs: [1\n`);
    assert.equal(syntax.code, 'yaml-syntax');
    assert.equal(only(`${BASE}---\nmodel: {}\n`).code, 'yaml-syntax');
    assert.equal(only('').code, 'yaml-empty');
    assert.equal(only('- a\n').code, 'yaml-not-mapping');
    assert.equal(only(`${BASE}train:\n  epochs: !custom 1\n`).code, 'yaml-tag');
    assert.equal(only(`${BASE}\u0000`).code, 'yaml-binary');
  });

  it('stays bounded on hostile input', () => {
    const bomb = ['a: &a [x, x, x, x, x, x, x, x, x, x]'];
    for (let i = 1; i <= 9; i += 1) bomb.push(`${String.fromCharCode(97 + i)}: &${String.fromCharCode(97 + i)} [${Array(10).fill(`*${String.fromCharCode(96 + i)}`).join(', ')}]`);
    assert.equal(only(bomb.join('\n')).code, 'yaml-too-many-values');
    assert.equal(only(`model: ${'['.repeat(100)}${']'.repeat(100)}\n`).code, 'yaml-too-deep');
    assert.equal(only(`${BASE}hub:\n  repo_id: ${'a'.repeat(70_000)}\n`).code, 'yaml-value-too-long');
    assert.equal(only(`${BASE}${'#\n'.repeat(600_000)}`).code, 'yaml-too-large');
  });

  it('reads aliases and merges as the trainer does', () => {
    const text = `${BASE}eval:\n  per_device_batch_size: &bs 4\ntrain:\n  <<: {per_device_batch_size: 1, epochs: 2}\n  per_device_batch_size: *bs\n`;
    assert.deepEqual(problemsOf(text), []);
    const value = toValue(parseConfig(text).root!) as { train: Record<string, unknown> };
    assert.deepEqual(value.train, { per_device_batch_size: 4, epochs: 2 });
  });

  it('compares keys as written, as the trainer does (`1` and "1" are one key)', () => {
    assert.equal(only(`${BASE}train:\n  epochs: 1\n  "epochs": 2\n`).code, 'yaml-duplicate-key');
  });
});

describe('positions and paths', () => {
  const text = 'model:\n  base: x\ndata:\n  sources:\n  - records: r.jsonl\n    tasks: t.json\n';
  const root = parseConfig(text).root!;

  it('finds the node of a path and the path at an offset', () => {
    const found = nodeAt(root, ['data', 'sources', 0, 'tasks'])!;
    assert.equal(text.slice(found.node.range.start, found.node.range.end), 't.json');
    assert.equal(text.slice(found.keyRange!.start, found.keyRange!.end), 'tasks');
    assert.deepEqual(pathAtOffset(root, text.indexOf('records') + 2), { path: ['data', 'sources', 0, 'records'], onKey: true });
    assert.deepEqual(pathAtOffset(root, text.indexOf('t.json') + 1), { path: ['data', 'sources', 0, 'tasks'], onKey: false });
  });

  it('round-trips dotted paths as the trainer prints them', () => {
    for (const p of [['data', 'sources', 0, 'records'], ['train'], [], ['launch', 'gpus', 12]]) {
      assert.deepEqual(parseDottedPath(dottedPath(p)), p);
    }
    assert.equal(parseDottedPath('a..b'), undefined);
    assert.equal(parseDottedPath('.a'), undefined);
  });

  it('refuses schema keywords it does not understand', () => {
    assert.throws(() => loadSchema({ type: 'object', additionalProperties: false, properties: { a: { type: 'string', format: 'uri' } } }), /unsupported keyword "format"/);
    assert.throws(() => loadSchema({ type: 'object', properties: {} }), /allows unknown keys/);
  });
});

describe('did-you-mean similarity', () => {
  it('matches difflib.SequenceMatcher.ratio (values from Python)', () => {
    assert.ok(Math.abs(similarity('familly', 'family') - 0.9230769230769231) < 1e-12);
    assert.ok(Math.abs(similarity('learning_rte', 'learning_rate') - 0.96) < 1e-12);
    assert.ok(Math.abs(similarity('adamw', 'adamw_torch') - 0.625) < 1e-12);
    assert.ok(Math.abs(similarity('qwen', 'qwen2_5_vl') - 0.5714285714285714) < 1e-12);
    assert.equal(similarity('abc', 'xyz'), 0);
  });

  it('picks what difflib.get_close_matches picks', () => {
    assert.equal(closestMatch('adamw', ['adamw_torch', 'adamw_torch_fused', 'adamw_8bit', 'paged_adamw_8bit']), 'adamw_8bit');
    assert.equal(closestMatch('qwen', ['auto', 'qwen2_5_vl', 'medgemma', 'generic']), undefined);
  });
});
