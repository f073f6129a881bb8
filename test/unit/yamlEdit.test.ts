import assert from 'node:assert/strict';
import { test } from 'node:test';
import { isScalar, parseDocument } from 'yaml';
import { appendListItem, applyChanges, removeValue, setValue } from '../../src/core/config/yamlEdit';
import type { EditResult } from '../../src/core/config/yamlEdit';
import type { ConfigPath, JsonValue } from '../../src/shared/configSchema';
import { applied, commentLines, examples, lineDiff, toJs, withValue } from './helpers/yamlEditUtil';

test('replacing a scalar touches one line and keeps its trailing comment', () => {
  const text = examples.find((e) => e.name === 'medgemma-27b-medvision.sft.yaml')?.text ?? '';
  const after = applied(text, setValue(text, ['model', 'attn_implementation'], 'sdpa'));
  assert.deepEqual(lineDiff(text, after), {
    removed: ['  attn_implementation: eager  # reference: flash_attention_2, which Hugging Face advises against for Gemma 3'],
    added: ['  attn_implementation: sdpa  # reference: flash_attention_2, which Hugging Face advises against for Gemma 3'],
  });
  const limit = applied(text, setValue(text, ['data', 'train_limit'], 20000));
  assert.deepEqual(lineDiff(text, limit).added, ['  train_limit: 20000  # the reference\'s total of 22000 is the sum of the source limits']);
});

test('every top-level section of every example config can be edited, added to and removed from', () => {
  const edits: { path: ConfigPath; value: JsonValue }[] = [
    { path: ['model', 'base'], value: 'Qwen/Qwen2.5-VL-7B-Instruct' },
    { path: ['model', 'max_length'], value: 2048 },
    { path: ['data', 'seed'], value: 7 },
    { path: ['data', 'sources', 0, 'val_limit'], value: 12 },
    { path: ['data', 'image', 'normalization'], value: 'window' },
    { path: ['train', 'epochs'], value: 3 },
    { path: ['train', 'learning_rate'], value: 1e-4 },
    { path: ['lora', 'r'], value: 32 },
    { path: ['lora', 'modules_to_save'], value: ['lm_head'] },
    { path: ['eval', 'strategy'], value: 'epoch' },
    { path: ['checkpoints', 'save_total_limit'], value: null },
    { path: ['logging', 'report_to'], value: ['tensorboard', 'wandb'] },
    { path: ['logging', 'wandb', 'project'], value: 'medvision' },
    { path: ['hub', 'repo_id'], value: 'lab/medgemma-sft' },
    { path: ['launch', 'num_processes'], value: 4 },
    { path: ['launch', 'gpus'], value: [0, 1, 2, 3] },
    { path: ['launch', 'slurm', 'time'], value: '24:00:00' },
  ];
  for (const { name, text } of examples) {
    const original = toJs(text);
    for (const { path: at, value } of edits) {
      const after = applied(text, setValue(text, at, value));
      assert.deepEqual(toJs(after), withValue(original, at, value), `${name}: set ${at.join('.')}`);
      assert.deepEqual(commentLines(after), commentLines(text), `${name}: comments kept when setting ${at.join('.')}`);
    }
    for (const section of Object.keys(original as object)) {
      const removed = applied(text, removeValue(text, [section]));
      const expected = structuredClone(original) as Record<string, JsonValue>;
      delete expected[section];
      assert.deepEqual(toJs(removed), expected, `${name}: remove ${section}`);
    }
  }
});

test('a missing section is created in block style after the last one, with the file\'s blank-line habit', () => {
  const demo = examples.find((e) => e.name === 'demo.sft.yaml')?.text ?? '';
  const after = applied(demo, setValue(demo, ['hub', 'repo_id'], 'lab/demo'));
  assert.ok(after.startsWith(demo), 'appended after the existing text, which is untouched');
  assert.equal(after.slice(demo.length), '\nhub:\n  repo_id: lab/demo\n');
  const nested = applied(demo, setValue(demo, ['launch', 'slurm', 'extra_sbatch'], ['--gres=gpu:2', '#SBATCH --x']));
  assert.equal(nested.slice(demo.length), '\nlaunch:\n  slurm:\n    extra_sbatch:\n      - --gres=gpu:2\n      - "#SBATCH --x"\n');
  const inSection = applied(demo, setValue(demo, ['lora', 'target_modules'], ['q_proj', 'v_proj']));
  assert.deepEqual(lineDiff(demo, inSection), { removed: [], added: ['  target_modules:', '    - q_proj', '    - v_proj'] });
  assert.ok(inSection.includes('  dropout: 0.0\n  target_modules:\n    - q_proj\n    - v_proj\n\neval:'));
});

test('list items: appended with all their lines, edited in place, removed with all their lines', () => {
  const text = examples.find((e) => e.name === 'medgemma-4b-qlora.sft.yaml')?.text ?? '';
  const original = toJs(text) as { data: { sources: JsonValue[] } };
  const source = { name: 'ceph', records: '/data/ceph.jsonl', tasks: '/data/ceph-tasks.json', train_limit: 100 };
  const appended = applied(text, appendListItem(text, ['data', 'sources'], source));
  assert.deepEqual(lineDiff(text, appended), {
    removed: [],
    added: ['    - name: ceph', '      records: /data/ceph.jsonl', '      tasks: /data/ceph-tasks.json', '      train_limit: 100'],
  });
  const removed = applied(text, removeValue(text, ['data', 'sources', 1]));
  assert.deepEqual(lineDiff(text, removed).removed, [
    '    - name: detection',
    '      records: /data/medvision/detection/records.jsonl',
    '      tasks: /data/medvision/detection/tasks.json',
    '      train_limit: 4000',
    '      val_limit: 40',
  ]);
  assert.deepEqual((toJs(removed) as typeof original).data.sources, [original.data.sources[0], original.data.sources[2]]);
  const firstKey = applied(text, removeValue(text, ['data', 'sources', 0, 'name']));
  assert.deepEqual(lineDiff(text, firstKey), {
    removed: ['    - name: angle-distance', '      records: /data/medvision/angle_distance/records.jsonl'],
    added: ['    - records: /data/medvision/angle_distance/records.jsonl'],
  });
  const field = applied(text, setValue(text, ['data', 'sources', 2, 'val_limit'], 0));
  assert.deepEqual(lineDiff(text, field), { removed: ['      val_limit: 20'], added: ['      val_limit: 0'] });
  const created = applied(text, setValue(text, ['data', 'sources', 3, 'records'], 'x.jsonl'));
  assert.deepEqual(lineDiff(text, created).added, ['    - records: x.jsonl']);
});

test('removing the last key of a section removes the section; an emptied list stays as []', () => {
  const text = 'model:\n  base: m\n\nhub:\n  repo_id: a/b  # where\n\n# launch settings\nlaunch:\n  gpus:\n    - 0\n  target: local\n';
  assert.equal(applied(text, removeValue(text, ['hub', 'repo_id'])), 'model:\n  base: m\n\n\n# launch settings\nlaunch:\n  gpus:\n    - 0\n  target: local\n');
  assert.equal(applied(text, removeValue(text, ['launch', 'gpus', 0])), 'model:\n  base: m\n\nhub:\n  repo_id: a/b  # where\n\n# launch settings\nlaunch:\n  gpus: []\n  target: local\n');
  const nested = 'model:\n  base: m\nlaunch:\n  slurm:\n    time: "1:00:00"\n';
  assert.equal(applied(nested, removeValue(nested, ['launch', 'slurm', 'time'])), 'model:\n  base: m\n');
  // The last section of a file takes its separating blank line along.
  const tail = 'model:\n  base: m\n\nlogging:\n  steps: 1\n';
  assert.equal(applied(tail, removeValue(tail, ['logging'])), 'model:\n  base: m\n');
  // The only key of the file: an empty config is left (with its comments).
  assert.equal(applied('# c\nmodel:\n  base: m\n', removeValue('# c\nmodel:\n  base: m\n', ['model', 'base'])), '# c\n');
  // Setting what is already written, or removing what is absent, is no change at all.
  assert.deepEqual(setValue(text, ['model', 'base'], 'm'), { ok: true, changes: [] });
  assert.deepEqual(removeValue(text, ['train', 'epochs']), { ok: true, changes: [] });
  assert.deepEqual(removeValue(text, ['launch', 'gpus', 5]), { ok: true, changes: [] });
});

test('new scalars read back as the same value and type', () => {
  const strings = [
    'true', 'False', 'null', 'NULL', '~', '', ' lead', 'trail ', 'yes', 'No', 'on', 'OFF', 'y', 'n',
    '1e3', '0x1F', '0o17', '017', '1_000', '24:00:00', '2025-01-01', '.5', '+1', '-2', '.inf', '-.Inf', '.NaN', '1.0',
    'a: b', 'a #b', 'a#b', 'x:', '- x', '-x', '? x', ':x', '[x', ']x', '{x', '}x', ',x', '#x', '&x', '*x', '!x', '|x', '>x',
    "'x", '"x', '%x', '@x', '`x', '<<', '---', '...', 'multi\nline', 'tab\there', 'cr\rhere', 'bell\u0007', 'del\u007f',
    'nbsp\u00a0x', 'bom\ufeff', 'line\u2028sep', 'é', '日本語', 'emoji 😀', 'back\\slash', 'say "hi"', "it's", 'a,b', 'a[0]',
    'google/medgemma-4b-it', '/data/x y/records.jsonl', 'C:\\data\\records.jsonl', '4bit', 'all-linear',
  ];
  const text = 'model:\n  base: some/model  # keep\nlora:\n  target_modules: [q_proj]\n';
  for (const value of strings) {
    const after = applied(text, setValue(text, ['model', 'base'], value));
    assert.equal((toJs(after) as { model: { base: unknown } }).model.base, value, `block: ${JSON.stringify(value)} -> ${after}`);
    assert.ok(after.includes('  # keep\n'), 'the trailing comment stays');
    const flow = applied(text, appendListItem(text, ['lora', 'target_modules'], value));
    assert.deepEqual((toJs(flow) as { lora: { target_modules: unknown } }).lora.target_modules, ['q_proj', value], `flow: ${JSON.stringify(value)} -> ${flow}`);
    const key = applied(text, setValue(text, ['logging', 'wandb', value], 1));
    assert.equal(((toJs(key) as { logging: { wandb: Record<string, unknown> } }).logging.wandb)[value], 1, `key: ${JSON.stringify(value)} -> ${key}`);
  }
  assert.match(applied(text, setValue(text, ['model', 'base'], '1e3')), /base: "1e3"/, 'number-like text is quoted');
  assert.match(applied(text, setValue(text, ['model', 'base'], '4bit')), /base: 4bit {2}#/, 'text that reads as text stays plain');
  // Changes never split a surrogate pair, even where neighbouring emoji share their first half.
  const emoji = 'model:\n  base: a😀\n';
  const change = setValue(emoji, ['model', 'base'], 'a😁');
  assert.ok(change.ok);
  for (const c of change.changes) {
    assert.ok(!/^[\udc00-\udfff]/.test(c.text) && !/[\ud800-\udbff]$/.test(c.text), JSON.stringify(c));
  }
  assert.equal(applyChanges(emoji, change.changes), 'model:\n  base: a😁\n');
  assert.match(applied(text, setValue(text, ['model', 'base'], 'all-linear')), /base: all-linear {2}#/, 'plain text stays plain');
});

test('numbers are written so they read back as the same type: floats always with a dot', () => {
  const text = 'train:\n  epochs: 1\n';
  const cases: { path: ConfigPath; value: number; written: string }[] = [
    { path: ['train', 'epochs'], value: 2, written: 'epochs: 2.0' },
    { path: ['train', 'epochs'], value: 2.5, written: 'epochs: 2.5' },
    { path: ['train', 'learning_rate'], value: 2e-4, written: 'learning_rate: 0.0002' },
    { path: ['train', 'learning_rate'], value: 1e-7, written: 'learning_rate: 1.0e-7' },
    { path: ['train', 'max_grad_norm'], value: 1e21, written: 'max_grad_norm: 1.0e+21' },
    { path: ['train', 'weight_decay'], value: 0, written: 'weight_decay: 0.0' },
    { path: ['train', 'max_steps'], value: 1000, written: 'max_steps: 1000' },
    { path: ['train', 'max_steps'], value: -1, written: 'max_steps: -1' },
    { path: ['train', 'seed'], value: 9007199254740991, written: 'seed: 9007199254740991' },
    { path: ['data', 'image', 'window', 'center'], value: -600, written: 'center: -600.0' },
    { path: ['lora', 'dropout'], value: 0.1, written: 'dropout: 0.1' },
  ];
  for (const { path: at, value, written } of cases) {
    const after = applied(text, setValue(text, at, value));
    assert.ok(after.includes(written), `${at.join('.')} = ${value}: ${after}`);
    const node = parseDocument(after).getIn(at, true);
    assert.ok(isScalar(node) && node.value === value, `${at.join('.')} reads back as ${value}`);
  }
  // Floats inside new mappings and lists follow the schema too.
  const window = applied(text, setValue(text, ['data', 'image', 'window'], { center: 40, width: 400 }));
  assert.ok(window.includes('      center: 40.0\n      width: 400.0\n'), window);
});

test('values of every shape: block mappings and lists at the right indentation, [] and {}', () => {
  const text = 'data:\n    sources:\n    -   records: a\n    seed: 1\n';
  // Four-space indentation and a compact list style are the file's own, so new text follows them.
  const after = applied(text, setValue(text, ['launch', 'slurm'], { partition: 'gpu', extra_sbatch: ['--mem=64G'] }));
  assert.equal(after.slice(text.length), 'launch:\n    slurm:\n        partition: gpu\n        extra_sbatch:\n        - --mem=64G\n');
  const empty = applied(text, setValue(text, ['logging', 'report_to'], []));
  assert.equal(empty.slice(text.length), 'logging:\n    report_to: []\n');
  const emptyMap = applied(text, setValue(text, ['data', 'image'], {}));
  assert.ok(emptyMap.includes('    seed: 1\n    image: {}\n'));
  const flow = 'launch:\n  gpus: [0, 1]  # two cards\n';
  assert.equal(applied(flow, setValue(flow, ['launch', 'gpus'], [2, 3, 4])), 'launch:\n  gpus: [2, 3, 4]  # two cards\n');
  assert.equal(applied(flow, setValue(flow, ['launch', 'gpus', 1], 5)), 'launch:\n  gpus: [0, 5]  # two cards\n');
  assert.equal(applied(flow, removeValue(flow, ['launch', 'gpus', 0])), 'launch:\n  gpus: [1]  # two cards\n');
  assert.equal(applied(flow, setValue(flow, ['launch', 'gpus'], null)), 'launch:\n  gpus: null  # two cards\n');
  const block = 'lora:  # adapters\n  r: 8\n  alpha: 16\nx: 1\n';
  assert.equal(applied(block, setValue(block, ['lora'], {})), 'lora: {}  # adapters\nx: 1\n');
  const scalarToBlock = 'lora:\n  target_modules: all-linear  # every layer\n';
  assert.equal(
    applied(scalarToBlock, setValue(scalarToBlock, ['lora', 'target_modules'], ['q_proj', 'v_proj'])),
    'lora:\n  target_modules:  # every layer\n    - q_proj\n    - v_proj\n',
  );
  const sources = 'data:\n  sources: []\n';
  assert.equal(applied(sources, appendListItem(sources, ['data', 'sources'], { records: 'r.jsonl', val_limit: 2 })), 'data:\n  sources:\n    - records: r.jsonl\n      val_limit: 2\n');
  const nullSection = 'train:  # later\nlora:\n  r: 4\n';
  assert.equal(applied(nullSection, setValue(nullSection, ['train', 'epochs'], 3)), 'train:  # later\n  epochs: 3.0\nlora:\n  r: 4\n');
});

test('CRLF, no final newline, empty files, document markers and quoted keys', () => {
  const crlf = 'model:\r\n  base: m  # c\r\ndata:\r\n  seed: 1';
  const a = applied(crlf, setValue(crlf, ['data', 'group_by_volume'], false));
  assert.equal(a, 'model:\r\n  base: m  # c\r\ndata:\r\n  seed: 1\r\n  group_by_volume: false');
  const b = applied(crlf, setValue(crlf, ['train', 'epochs'], 2));
  assert.equal(b, `${crlf}\r\ntrain:\r\n  epochs: 2.0`);
  assert.equal(applied(crlf, removeValue(crlf, ['data', 'seed'])), 'model:\r\n  base: m  # c');
  assert.doesNotMatch(applied(crlf, appendListItem(crlf, ['data', 'sources'], { records: 'r' })), /[^\r]\n/);
  assert.equal(applied('', setValue('', ['model', 'base'], 'm')), 'model:\n  base: m\n');
  assert.equal(applied('# just a comment', setValue('# just a comment', ['model', 'base'], 'm')), '# just a comment\nmodel:\n  base: m\n');
  const marked = '---\n# config\nmodel:\n  base: m\n';
  assert.equal(applied(marked, setValue(marked, ['model', 'base'], 'other')), '---\n# config\nmodel:\n  base: other\n');
  assert.equal(applied('---\n', setValue('---\n', ['model', 'base'], 'm')), '---\nmodel:\n  base: m\n');
  const quoted = '"train":\n  \'learning_rate\': 1.0e-4\n  "lr": 1\n';
  assert.equal(applied(quoted, setValue(quoted, ['train', 'learning_rate'], 3e-4)), '"train":\n  \'learning_rate\': 0.0003\n  "lr": 1\n');
  assert.equal(applied(quoted, removeValue(quoted, ['train', 'lr'])), '"train":\n  \'learning_rate\': 1.0e-4\n');
  const tagged = 'train:\n  epochs: !!float 3\n';
  assert.equal(applied(tagged, setValue(tagged, ['train', 'epochs'], 4)), 'train:\n  epochs: 4.0\n');
});

test('refusals say what to fix, and never return a half edit', () => {
  const refused = (result: EditResult, pattern: RegExp): void => {
    assert.ok(!result.ok, 'expected a refusal');
    assert.match(result.message, pattern);
  };
  refused(setValue('model:\n  base: m\n\ntrain:\n  epochs: [1\n', ['train', 'epochs'], 2), /^fix the YAML error on line \d+ first/);
  refused(setValue('model:\n  base: m\n  base: n\n', ['model', 'family'], 'auto'), /fix the YAML error on line 3 first \(Map keys must be unique\)/);
  refused(setValue('a: 1\n---\nb: 2\n', ['a'], 2), /fix the YAML error on line 2 first/);
  refused(setValue('- 1\n- 2\n', ['model'], 1), /must be a mapping/);
  const aliased = 'defaults: &d\n  r: 8\nlora: *d\n';
  refused(setValue(aliased, ['lora', 'r'], 16), /`lora` is an alias \(\*d\)/);
  refused(setValue(aliased, ['defaults'], 1), /`defaults` holds the anchor &d, which is used elsewhere/);
  refused(setValue('model:\n  base: m\nlora:\n  r: *missing\n', ['model', 'base'], 'n'), /^fix the YAML error on line 4 first \(an alias without its anchor before it\)/);
  const bomb = ['a: &a [x, x, x, x, x, x, x, x, x, x]', ...'bcdefgh'.split('').map((k, i) => `${k}: &${k} [${Array(10).fill(`*${'abcdefg'[i]}`).join(', ')}]`)].join('\n');
  refused(setValue(`${bomb}\nmodel:\n  base: m\n`, ['model', 'base'], 'n'), /aliases expand to too many values/);
  refused(removeValue(aliased, ['defaults']), /holds the anchor &d/);
  assert.ok(setValue(aliased, ['model', 'base'], 'm').ok, 'edits elsewhere in a file with anchors work');
  refused(setValue('launch:\n  gpus: [0,\n    1]\n', ['launch', 'gpus', 0], 3), /flow style over several lines/);
  refused(setValue('data:\n  sources:\n    - records: a\n', ['data', 'sources', 3, 'records'], 'b'), /`data.sources` has 1 items/);
  refused(setValue('data:\n  sources:\n    - records: a\n', ['data', 'sources', 'x'], 'b'), /`data.sources` is a list, not a mapping/);
  refused(setValue('model:\n  base: m\n', ['model', 0], 'b'), /`model` is a mapping, not a list/);
  refused(setValue('model:\n  base: m\n', [], 'b'), /choose a setting/);
  refused(setValue('? model\n: x\n', ['model'], 'y'), /`\? `/);
});

// A small seeded generator, so a failure names a case that can be replayed.
