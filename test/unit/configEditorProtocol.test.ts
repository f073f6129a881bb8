// The config editor protocol: what the webview posts is validated against its token, then its
// paths against the run-config schema, before the host edits the document; what the host posts
// is validated by the webview. Also the host's pure helpers: presets as one text change, the
// preset confirmation, the read-only banner.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import schemaJson from '../../media/run-config.schema.json';
import { deriveNumbers } from '../../src/core/config/derivedNumbers';
import { CONFIG_PRESETS } from '../../src/core/config/presets';
import { setValue } from '../../src/core/config/yamlEdit';
import type { ConfigPath, JsonValue } from '../../src/shared/configSchema';
import { loadSchema } from '../../src/shared/configSchema';
import type { ConfigEditorState } from '../../src/shared/protocol/configEditor';
import {
  AppendItemMessage,
  DatasetActionMessage,
  PickBaseModelMessage,
  ApplyPresetMessage,
  isBoundedJson,
  isConfigPath,
  isDerivedItem,
  MAX_PROBLEMS,
  MAX_VALUE_NODES,
  NoticeMessage,
  ReadyMessage,
  RemoveValueMessage,
  SetValueMessage,
  ShowTextMessage,
  StartRunMessage,
  StateMessage,
} from '../../src/shared/protocol/configEditor';
import { envelope, matchMessage } from '../../src/shared/protocol/message';
import type { ConfigEditorHandlers } from '../../src/webviews/configEditorState';
import {
  composeEdits,
  createConfigEditorRouter,
  dataSource,
  derivedItems,
  describePresetChanges,
  isEmptyDocument,
  readOnlyReason,
  singleChange,
  stateProblems,
} from '../../src/webviews/configEditorState';

const schema = loadSchema(schemaJson);
const HUGE = 'x'.repeat(100_000);

function deep(depth: number): JsonValue {
  let value: JsonValue = 1;
  for (let i = 0; i < depth; i++) value = { a: value };
  return value;
}

const VALID: ReadonlyArray<[string, unknown]> = [
  ['ready', envelope(ReadyMessage, {})],
  ['set a number', envelope(SetValueMessage, { path: ['train', 'learning_rate'], value: 0.0001 })],
  ['set null', envelope(SetValueMessage, { path: ['checkpoints', 'save_total_limit'], value: null })],
  ['set a mapping', envelope(SetValueMessage, { path: ['data', 'image', 'window'], value: { center: 40, width: 400 } })],
  ['set in a list item', envelope(SetValueMessage, { path: ['data', 'sources', 1, 'records'], value: 'a.jsonl' })],
  ['set a list', envelope(SetValueMessage, { path: ['launch', 'gpus'], value: [0, 1] })],
  ['remove a key', envelope(RemoveValueMessage, { path: ['model', 'dtype'] })],
  ['remove a list item', envelope(RemoveValueMessage, { path: ['data', 'sources', 0] })],
  ['append a source', envelope(AppendItemMessage, { listPath: ['data', 'sources'], item: { records: '' } })],
  ['preset', envelope(ApplyPresetMessage, { presetId: 'qlora-4bit' })],
  ['start run', envelope(StartRunMessage, {})],
  ['show text', envelope(ShowTextMessage, {})],
  ['preview a data source', envelope(DatasetActionMessage, { action: 'preview', source: 1 })],
  ['check a data source', envelope(DatasetActionMessage, { action: 'check', source: 0 })],
  ['pick the base model', envelope(PickBaseModelMessage, {})],
];

/** Everything a confused or hostile webview might post. */
const MALFORMED: ReadonlyArray<[string, unknown]> = [
  ['null', null],
  ['string', 'configEditor/setValue'],
  ['array envelope', ['configEditor/setValue', {}]],
  ['missing payload', { type: SetValueMessage.type }],
  ['text instead of an intent', { type: SetValueMessage.type, payload: { text: 'model: {}' } }],
  ['empty path', { type: SetValueMessage.type, payload: { path: [], value: 1 } }],
  ['path as a string', { type: SetValueMessage.type, payload: { path: 'train.learning_rate', value: 1 } }],
  ['path too deep', { type: SetValueMessage.type, payload: { path: new Array(17).fill('a'), value: 1 } }],
  ['negative index', { type: SetValueMessage.type, payload: { path: ['data', 'sources', -1], value: 1 } }],
  ['fractional index', { type: SetValueMessage.type, payload: { path: ['data', 'sources', 0.5], value: 1 } }],
  ['huge index', { type: SetValueMessage.type, payload: { path: ['data', 'sources', 1e12], value: 1 } }],
  ['key with a dot', { type: SetValueMessage.type, payload: { path: ['train.learning_rate'], value: 1 } }],
  ['__proto__ key', { type: SetValueMessage.type, payload: { path: ['__proto__', 'x'], value: 1 } }],
  ['huge key', { type: SetValueMessage.type, payload: { path: [HUGE], value: 1 } }],
  ['missing value', { type: SetValueMessage.type, payload: { path: ['train', 'seed'] } }],
  ['undefined value', { type: SetValueMessage.type, payload: { path: ['train', 'seed'], value: undefined } }],
  ['NaN value', { type: SetValueMessage.type, payload: { path: ['train', 'seed'], value: Number.NaN } }],
  ['huge string value', { type: SetValueMessage.type, payload: { path: ['model', 'base'], value: HUGE } }],
  ['too deep value', { type: SetValueMessage.type, payload: { path: ['model', 'base'], value: deep(20) } }],
  ['too many nodes', { type: SetValueMessage.type, payload: { path: ['launch', 'gpus'], value: new Array(MAX_VALUE_NODES + 1).fill(0) } }],
  ['odd object key in value', { type: SetValueMessage.type, payload: { path: ['data', 'image', 'window'], value: { 'a b': 1 } } }],
  ['__proto__ in value', JSON.parse('{"type":"configEditor/setValue","payload":{"path":["data","image","window"],"value":{"__proto__":{"x":1}}}}')],
  ['junk beside path', { type: RemoveValueMessage.type, payload: { path: ['model', 'dtype'], force: true } }],
  ['remove without path', { type: RemoveValueMessage.type, payload: {} }],
  ['append without item', { type: AppendItemMessage.type, payload: { listPath: ['data', 'sources'] } }],
  ['empty preset id', { type: ApplyPresetMessage.type, payload: { presetId: '' } }],
  ['huge preset id', { type: ApplyPresetMessage.type, payload: { presetId: HUGE } }],
  ['file in start run', { type: StartRunMessage.type, payload: { uri: 'file:///etc/passwd' } }],
  ['a path to preview', { type: DatasetActionMessage.type, payload: { action: 'preview', source: 0, records: '/etc/passwd' } }],
  ['an unknown dataset action', { type: DatasetActionMessage.type, payload: { action: 'delete', source: 0 } }],
  ['a negative data source', { type: DatasetActionMessage.type, payload: { action: 'check', source: -1 } }],
  ['a model id in pick base model', { type: PickBaseModelMessage.type, payload: { model: 'evil/model' } }],
  ['host-bound type', { type: NoticeMessage.type, payload: { severity: 'info', message: 'x' } }],
  ['unknown type', { type: 'configEditor/writeText', payload: { text: 'x' } }],
];

/** Well-formed, but naming keys the run config does not have. */
const OUTSIDE_SCHEMA: ReadonlyArray<[string, unknown]> = [
  ['unknown section', envelope(SetValueMessage, { path: ['secrets', 'token'], value: 'x' })],
  ['unknown key', envelope(SetValueMessage, { path: ['train', 'lerning_rate'], value: 1 })],
  ['index into a mapping', envelope(SetValueMessage, { path: ['train', 0], value: 1 })],
  ['key below a scalar', envelope(SetValueMessage, { path: ['train', 'seed', 'x'], value: 1 })],
  ['remove an index of a non-list', envelope(RemoveValueMessage, { path: ['train', 3] })],
  ['append to a non-list', envelope(AppendItemMessage, { listPath: ['train', 'seed'], item: 1 })],
  ['append to an unknown list', envelope(AppendItemMessage, { listPath: ['data', 'extra'], item: {} })],
];

function setup() {
  const calls: [string, ...unknown[]][] = [];
  const logged: string[] = [];
  const handlers: ConfigEditorHandlers = {
    ready: () => calls.push(['ready']),
    set: (path, value) => calls.push(['set', path, value]),
    remove: (path) => calls.push(['remove', path]),
    append: (listPath, item) => calls.push(['append', listPath, item]),
    applyPreset: (id) => calls.push(['applyPreset', id]),
    startRun: () => calls.push(['startRun']),
    showText: () => calls.push(['showText']),
    dataset: (action, source) => calls.push(['dataset', action, source]),
    pickBaseModel: () => calls.push(['pickBaseModel']),
  };
  const router = createConfigEditorRouter(schema, handlers, (line) => logged.push(line));
  return { calls, logged, router };
}

describe('config editor: webview -> host', () => {
  it('routes every valid intent, after a structured clone', () => {
    const { calls, router } = setup();
    for (const [, data] of VALID) router.receive(structuredClone(data));
    assert.equal(router.stats.handled, VALID.length);
    assert.equal(router.stats.rejected, 0);
    assert.deepEqual(calls, [
      ['ready'],
      ['set', ['train', 'learning_rate'], 0.0001],
      ['set', ['checkpoints', 'save_total_limit'], null],
      ['set', ['data', 'image', 'window'], { center: 40, width: 400 }],
      ['set', ['data', 'sources', 1, 'records'], 'a.jsonl'],
      ['set', ['launch', 'gpus'], [0, 1]],
      ['remove', ['model', 'dtype']],
      ['remove', ['data', 'sources', 0]],
      ['append', ['data', 'sources'], { records: '' }],
      ['applyPreset', 'qlora-4bit'],
      ['startRun'],
      ['showText'],
      ['dataset', 'preview', 1],
      ['dataset', 'check', 0],
      ['pickBaseModel'],
    ]);
  });

  for (const [name, data] of MALFORMED) {
    it(`rejects ${name}`, () => {
      const { calls, router } = setup();
      assert.doesNotThrow(() => router.receive(data));
      assert.deepEqual(calls, []);
      assert.equal(router.stats.rejected, 1);
    });
  }

  for (const [name, data] of OUTSIDE_SCHEMA) {
    it(`rejects a path outside the schema: ${name}`, () => {
      const { calls, router, logged } = setup();
      router.receive(data);
      assert.deepEqual(calls, []);
      assert.equal(router.stats.rejected, 1);
      assert.equal(router.stats.handled, 0);
      assert.match(logged[0] ?? '', /outside the schema/);
    });
  }

  it('rate-limits its log and never echoes huge payloads', () => {
    const { logged, router } = setup();
    for (let i = 0; i < 250; i++) router.receive({ type: SetValueMessage.type, payload: { path: [HUGE], value: HUGE } });
    assert.equal(logged.length, 12);
    assert.ok(logged.every((line) => line.length < 400));
  });

  it('bounds paths and values', () => {
    assert.ok(isConfigPath(['data', 'sources', 255, 'records']));
    assert.ok(!isConfigPath(['data', 'sources', '0']), 'indices are numbers, never digit strings');
    assert.ok(isBoundedJson({ center: 40, width: 400 }));
    assert.ok(isBoundedJson(deep(8)));
    assert.ok(!isBoundedJson(deep(9)));
    const cyclic: Record<string, unknown> = {};
    cyclic.self = cyclic;
    assert.ok(!isBoundedJson(cyclic), 'a cycle runs out of budget instead of the stack');
    assert.ok(!isBoundedJson(new Date()));
    assert.ok(!isBoundedJson(Number.POSITIVE_INFINITY));
  });
});

function state(overrides: Partial<ConfigEditorState> = {}): ConfigEditorState {
  return {
    fileName: 'demo.sft.yaml',
    version: 3,
    value: { model: { base: 'x' } },
    problems: [{ path: ['train', 'learning_rate'], message: 'too high', severity: 'error', code: 'invalid-value' }],
    trainerCheck: 'pending',
    derived: [
      { key: 'effectiveBatchSize', label: 'Effective batch size', value: '24' },
      { key: 'stepsPerEpoch', label: 'Steps per epoch', why: 'the data sizes are not known yet' },
      { key: 'memory', label: 'GPU memory', value: '38 GiB', breakdown: [{ label: 'weights', value: '27 GiB' }] },
    ],
    presets: [{ id: 'qlora', label: 'QLoRA 4-bit', detail: 'Loads the base in 4 bits.' }],
    startRun: { enabled: false, reason: 'untrusted' },
    ...overrides,
  };
}

describe('config editor: host -> webview', () => {
  it('accepts a full state, after a structured clone', () => {
    assert.ok(matchMessage(StateMessage, structuredClone(envelope(StateMessage, state()))));
    const { value: _value, ...unreadable } = state();
    assert.ok(matchMessage(StateMessage, envelope(StateMessage, { ...unreadable, readOnlyReason: 'line 3: bad indent' })));
    assert.ok(matchMessage(NoticeMessage, envelope(NoticeMessage, { severity: 'error', message: 'refused' })));
  });

  it('rejects malformed states', () => {
    const bad: unknown[] = [
      { ...state(), version: 'three' },
      { ...state(), problems: [{ path: ['a'], message: 'x', severity: 'fatal', code: 'c' }] },
      { ...state(), problems: [{ path: 'a', message: 'x', severity: 'error', code: 'c' }] },
      { ...state(), problems: new Array(MAX_PROBLEMS + 1).fill({ path: [], message: 'x', severity: 'error', code: 'c' }) },
      { ...state(), derived: [{ key: 'k', label: 'l', value: 5 }] },
      { ...state(), derived: [{ key: 'k', label: 'l', breakdown: 'x' }] },
      { ...state(), presets: [{ id: 'a', label: 'b' }] },
      { ...state(), startRun: { enabled: 'yes' } },
      { ...state(), trainerCheck: 'maybe' },
      { ...state(), fileName: HUGE },
      { ...state(), value: { x: Number.NaN } },
      { ...state(), readOnlyReason: HUGE },
    ];
    for (const payload of bad) assert.equal(matchMessage(StateMessage, { type: StateMessage.type, payload }), undefined);
    assert.equal(matchMessage(NoticeMessage, { type: NoticeMessage.type, payload: { severity: 'fatal', message: 'x' } }), undefined);
  });
});

describe('config editor host helpers', () => {
  const TEXT = '# demo\nmodel:\n  base: x   # the base\ntrain:\n  learning_rate: 2.0e-4\n';

  it('turns several edits into one change into the original text', () => {
    const steps = [
      (text: string) => setValue(text, ['train', 'learning_rate'], 0.0001),
      (text: string) => setValue(text, ['model', 'quantization'], '4bit'),
      (text: string) => setValue(text, ['lora', 'r'], 8),
    ];
    const outcome = composeEdits(TEXT, steps);
    assert.ok(outcome.ok);
    assert.equal(outcome.changes.length, 1);
    const change = outcome.changes[0];
    assert.ok(change);
    const after = TEXT.slice(0, change.offset) + change.text + TEXT.slice(change.offset + change.length);
    assert.match(after, /# demo\nmodel:\n {2}base: x {3}# the base\n/, 'comments survive');
    assert.match(after, /quantization: 4bit/);
    assert.match(after, /learning_rate: 1\.0e-4|learning_rate: 0\.0001/);
    assert.match(after, /lora:\n {2}r: 8/);
  });

  it('stops at the first refusal', () => {
    const refused = composeEdits('model: [unclosed\n', [(text) => setValue(text, ['model', 'base'], 'x')]);
    assert.equal(refused.ok, false);
  });

  it('finds the single change between two texts', () => {
    assert.equal(singleChange('abc', 'abc'), undefined);
    assert.deepEqual(singleChange('a: 1\nb: 2\n', 'a: 1\nb: 3\n'), { offset: 8, length: 1, text: '3' });
    assert.deepEqual(singleChange('aaa', 'aaaa'), { offset: 3, length: 0, text: 'a' });
    assert.deepEqual(singleChange('abcd', 'ad'), { offset: 1, length: 2, text: '' });
  });

  it('lists what a preset changes, with defaults marked, skipping values already set', () => {
    const config: JsonValue = { model: { base: 'x', quantization: '4bit' }, train: { learning_rate: 0.0002 } };
    const values: { path: ConfigPath; value: JsonValue }[] = [
      { path: ['model', 'quantization'], value: '4bit' },
      { path: ['train', 'learning_rate'], value: 0.0001 },
      { path: ['model', 'gradient_checkpointing'], value: true },
      { path: ['launch', 'gpus'], value: [0, 1] },
    ];
    assert.deepEqual(describePresetChanges(schema, config, values), [
      'train.learning_rate: 0.0002 → 0.0001',
      'model.gradient_checkpointing: false (default) → true',
      'launch.gpus: null (default) → [0,1]',
    ]);
  });

  it('explains why the form is read-only, with lines', () => {
    const reason = readOnlyReason([
      { path: [], message: 'YAML syntax error: bad indentation', severity: 'error', code: 'yaml-syntax', line: 4 },
      { path: ['x'], message: 'just a warning', severity: 'warning', code: 'w', line: 9 },
    ]);
    assert.match(reason, /cannot be read/);
    assert.match(reason, /line 4: YAML syntax error: bad indentation/);
    assert.doesNotMatch(reason, /just a warning/);
    assert.ok(isEmptyDocument([{ path: [], message: 'empty', severity: 'error', code: 'yaml-empty' }]));
    assert.ok(!isEmptyDocument([]));
  });

  it('bounds the problems it sends', () => {
    const many = Array.from({ length: MAX_PROBLEMS + 10 }, (_, i) => ({ path: [HUGE, i], message: HUGE, severity: 'error' as const, code: 'c' }));
    const sent = stateProblems(many);
    assert.equal(sent.length, MAX_PROBLEMS);
    assert.ok(matchMessage(StateMessage, envelope(StateMessage, state({ problems: sent }))));
  });

  it('formats the derived numbers for the panel, with why each is unknown', () => {
    const config: JsonValue = {
      model: { base: 'google/medgemma-4b-it', quantization: '4bit' },
      data: { sources: [{ records: 'r.jsonl', val_limit: 10 }] },
      train: { epochs: 2, per_device_batch_size: 2, gradient_accumulation_steps: 8 },
    };
    const unknownSizes = derivedItems(deriveNumbers(config, undefined));
    assert.ok(unknownSizes.every(isDerivedItem));
    const byKey = new Map(unknownSizes.map((item) => [item.key, item]));
    assert.equal(byKey.get('effectiveBatch')?.value, '16');
    assert.equal(byKey.get('totalSteps')?.value, undefined);
    assert.match(byKey.get('totalSteps')?.why ?? '', /dataset sizes/);
    const memory = byKey.get('memory');
    assert.match(memory?.value ?? '', /^about \d+\.\d GiB$/);
    assert.deepEqual(memory?.breakdown?.map((row) => row.label), ['weights', 'trainable + optimizer', 'activations', 'CUDA and buffers', 'trainable parameters']);

    const known = new Map(derivedItems(deriveNumbers(config, { train: 1990, val: 10, exact: true, sources: [] })).map((item) => [item.key, item]));
    assert.equal(known.get('trainSamples')?.value, '1,990');
    assert.equal(known.get('stepsPerEpoch')?.value, '125');
    assert.equal(known.get('totalSteps')?.value, '250');
    const rough = new Map(derivedItems(deriveNumbers(config, { train: 1990, val: 10, exact: false, sources: [] })).map((item) => [item.key, item]));
    assert.equal(rough.get('totalSteps')?.value, 'about 250');
    assert.ok(matchMessage(StateMessage, envelope(StateMessage, state({ derived: [...known.values()] }))));
  });

  it('describes every shipped preset against an empty config', () => {
    for (const preset of CONFIG_PRESETS) {
      const lines = describePresetChanges(schema, {}, preset.values);
      assert.ok(lines.length > 0, preset.id);
      assert.ok(preset.values.every(({ path }) => schemaAtOk(path)), `${preset.id} names only schema paths`);
    }
  });
});

function schemaAtOk(path: ConfigPath): boolean {
  const router = setup().router;
  router.receive(envelope(SetValueMessage, { path: [...path], value: 0 }));
  return router.stats.handled === 1;
}

describe('config editor: a data source for the dataset commands', () => {
  const text = ['data:', '  sources:', '    - name: a', '      records: a/records.jsonl', '      tasks: a/tasks.json', '    - records: b.jsonl', ''].join('\n');
  it('reads the records and tasks of the source the webview names, from the text', () => {
    assert.deepEqual(dataSource(text, 0), { name: 'a', records: 'a/records.jsonl', tasks: 'a/tasks.json' });
    assert.deepEqual(dataSource(text, 1), { records: 'b.jsonl' });
  });
  it('gives nothing for a source that is not there or text that does not parse', () => {
    assert.equal(dataSource(text, 2), undefined);
    assert.equal(dataSource('data: [unclosed', 0), undefined);
    assert.equal(dataSource('data:\n  sources: 3\n', 0), undefined);
  });
});
