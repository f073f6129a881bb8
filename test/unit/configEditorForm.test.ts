// The config form's model: schema + parsed YAML + problems -> sections, fields and cards, with
// values, defaults, enum choices, union kinds and problems placed by path. Pure, so tested here
// in Node; the render test checks the same model in the DOM.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import schemaJson from '../../media/run-config.schema.json';
import type { ConfigPath, JsonValue, ObjectSchema } from '../../src/shared/configSchema';
import { loadSchema } from '../../src/shared/configSchema';
import type { StateProblem } from '../../src/shared/protocol/configEditor';
import { descriptionSegments, parseInput, setIntent } from '../../webview/configEditor/formInput';
import { buildForm, formatValue, skeleton } from '../../webview/configEditor/formModel';
import type { CardListNode, FieldNode, FormModel, FormNode, SectionNode } from '../../webview/configEditor/formTypes';
import { fieldId, walkNodes } from '../../webview/configEditor/formTypes';
import { DEFAULT_KIND, NULL_KIND } from '../../webview/configEditor/formUnion';

const schema = loadSchema(schemaJson);

const CONFIG: JsonValue = {
  model: { base: 'google/medgemma-4b-it', family: 'medgemma' },
  data: {
    sources: [
      { name: 'detection', records: 'det/records.jsonl', tasks: 'det/tasks.json', val_limit: 10 },
      { records: 'size/records.jsonl' },
    ],
    image: { normalization: 'window', window: 'ct_bone' },
  },
  train: { learning_rate: 0.0001, per_device_batch_size: 2, use_cpu: true },
  lora: { target_modules: ['q_proj', 'v_proj'] },
  checkpoints: { save_total_limit: null },
  logging: { report_to: ['wandb'] },
  launch: { gpus: [0, 1], slurm: { extra_sbatch: ['--mail-type=END,FAIL'] } },
};

function problem(path: ConfigPath, message: string, severity: 'error' | 'warning' = 'error', code = 'invalid-value'): StateProblem {
  return { path, message, severity, code };
}

function find(model: FormModel, dotted: string): FieldNode {
  let found: FieldNode | undefined;
  walkNodes(model.nodes, (node) => {
    if (node.type === 'field' && node.path.join('.') === dotted) found = node;
  });
  assert.ok(found, `field ${dotted}`);
  return found;
}

function section(model: FormModel, key: string): SectionNode {
  const node = model.nodes.find((n): n is SectionNode => n.type === 'section' && n.key === key);
  assert.ok(node, `section ${key}`);
  return node;
}

describe('config form model', () => {
  it('has one section per top-level key, in schema order, with nested sub-sections', () => {
    const model = buildForm(schema, CONFIG, []);
    assert.deepEqual(
      model.nodes.map((n) => `${n.type}:${n.key}`),
      ['model', 'data', 'train', 'lora', 'eval', 'checkpoints', 'logging', 'hub', 'launch'].map((k) => `section:${k}`),
    );
    const data = section(model, 'data');
    const image = data.children.find((n) => n.key === 'image');
    assert.equal(image?.type, 'section');
    assert.equal(section(model, 'logging').children.find((n) => n.key === 'wandb')?.type, 'section');
    assert.equal(section(model, 'launch').children.find((n) => n.key === 'slurm')?.type, 'section');
    assert.equal(section(model, 'model').present, true);
    assert.equal(section(model, 'eval').present, false);
  });

  it('follows the schema: every property of every section is a field, so new pydantic fields appear by themselves', () => {
    const model = buildForm(schema, CONFIG, []);
    const paths = new Set<string>();
    walkNodes(model.nodes, (n) => paths.add(n.path.join('.')));
    const expect = (object: ObjectSchema, prefix: string[]): void => {
      for (const [key, child] of object.properties) {
        const path = [...prefix, key].join('.');
        assert.ok(paths.has(path), `the form has ${path}`);
        if (child.kind === 'object') expect(child, [...prefix, key]);
      }
    };
    expect(schema, []);
    // A schema with an extra field: the form shows it without any change to the form code.
    const extended = structuredClone(schemaJson) as { $defs: { TrainSection: { properties: Record<string, unknown> } } };
    extended.$defs.TrainSection.properties.label_smoothing = {
      default: 0.0, minimum: 0, maximum: 1, type: 'number', title: 'Label Smoothing', description: 'Label smoothing `epsilon`.',
    };
    const field = find(buildForm(loadSchema(extended), CONFIG, []), 'train.label_smoothing');
    assert.equal(field.control.kind, 'number');
    assert.equal(field.defaultText, '0');
  });

  it('shows written values, and defaults where keys are absent', () => {
    const model = buildForm(schema, CONFIG, []);
    const lr = find(model, 'train.learning_rate');
    assert.equal(lr.present, true);
    assert.deepEqual(lr.control, { kind: 'number', integer: false, text: '0.0001', max: 1, min: 0 });
    assert.equal(lr.defaultText, '0.0002');
    assert.match(lr.typeText, /number above 0/);
    assert.match(lr.description, /Peak learning rate/);

    const epochs = find(model, 'train.epochs');
    assert.equal(epochs.present, false);
    assert.equal(epochs.defaultText, '1');
    assert.equal(epochs.control.kind === 'number' && epochs.control.text, '');

    const batch = find(model, 'train.per_device_batch_size');
    assert.deepEqual(batch.control, { kind: 'number', integer: true, text: '2', min: 1, max: 4096 });

    const base = find(model, 'model.base');
    assert.equal(base.required, true);
    assert.equal(base.control.kind === 'text' && base.control.text, 'google/medgemma-4b-it');
  });

  it('offers enum choices, with absent meaning the default', () => {
    const model = buildForm(schema, CONFIG, []);
    const family = find(model, 'model.family');
    assert.deepEqual(family.control, { kind: 'enum', choices: ['auto', 'qwen2_5_vl', 'medgemma', 'generic'], selected: 'medgemma' });
    const dtype = find(model, 'model.dtype');
    assert.equal(dtype.control.kind === 'enum' && dtype.control.selected, undefined);
    assert.equal(dtype.defaultText, 'auto');
  });

  it('shows booleans as their value, or the default when absent', () => {
    const model = buildForm(schema, CONFIG, []);
    assert.deepEqual(find(model, 'train.use_cpu').control, { kind: 'boolean', checked: true });
    const pin = find(model, 'train.dataloader_pin_memory');
    assert.equal(pin.present, false);
    assert.deepEqual(pin.control, { kind: 'boolean', checked: true });
    assert.deepEqual(find(model, 'hub.push_adapter').control, { kind: 'boolean', checked: false });
  });

  it('gives unions a kind picker and the matching control', () => {
    const model = buildForm(schema, CONFIG, []);
    const window = find(model, 'data.image.window');
    assert.deepEqual(window.union?.kinds.map((k) => k.id), [DEFAULT_KIND, 'object', 'enum']);
    assert.equal(window.union?.kinds[1]?.label, '{center, width}');
    assert.equal(window.union?.selected, 'enum');
    assert.deepEqual(window.control, { kind: 'enum', choices: ['ct_soft_tissue', 'ct_bone', 'mr'], selected: 'ct_bone' });

    const modules = find(model, 'lora.target_modules');
    assert.deepEqual(modules.union?.kinds.map((k) => k.id), [DEFAULT_KIND, 'string', 'array']);
    assert.equal(modules.union?.kinds[0]?.label, 'default (all-linear)');
    assert.equal(modules.union?.selected, 'array');
    assert.deepEqual(modules.control, { kind: 'list', itemKind: 'string', text: 'q_proj\nv_proj' });

    // Nullable with a non-null default: null is a kind of its own.
    const keep = find(model, 'checkpoints.save_total_limit');
    assert.deepEqual(keep.union?.kinds.map((k) => k.id), [DEFAULT_KIND, 'integer', NULL_KIND]);
    assert.equal(keep.union?.selected, NULL_KIND);
    assert.equal(keep.control.kind, 'none');

    // Nullable with a null default needs no picker: clearing the field means null.
    const gpus = find(model, 'launch.gpus');
    assert.equal(gpus.union, undefined);
    assert.equal(gpus.nullable, true);
    assert.deepEqual(gpus.control, { kind: 'list', itemKind: 'integer', text: '0, 1' });
    assert.equal(find(model, 'checkpoints.resume_from').union, undefined);
  });

  it('shows a picked kind before the YAML has it, and writes a mapping through its parent', () => {
    const absent = buildForm(schema, { data: { sources: [] } }, []);
    const window = find(absent, 'data.image.window');
    assert.equal(window.union?.selected, DEFAULT_KIND);
    assert.equal(window.control.kind, 'none');

    const picked = buildForm(schema, { data: { sources: [] } }, [], { pendingKinds: new Map([['data.image.window', 'object']]) });
    const mapping = find(picked, 'data.image.window');
    assert.equal(mapping.union?.selected, 'object');
    assert.equal(mapping.control.kind, 'object');
    const center = find(picked, 'data.image.window.center');
    assert.deepEqual(center.wrap, ['data', 'image', 'window']);
    assert.deepEqual(setIntent(center, 40), { path: ['data', 'image', 'window'], value: { center: 40 } });

    const written = buildForm(schema, { data: { sources: [], image: { window: { center: 40, width: 400 } } } }, []);
    const width = find(written, 'data.image.window.width');
    assert.equal(width.wrap, undefined);
    assert.equal(width.control.kind === 'number' && width.control.text, '400');
    assert.deepEqual(setIntent(width, 350), { path: ['data', 'image', 'window', 'width'], value: 350 });
  });

  it('lists enum arrays as choices', () => {
    const model = buildForm(schema, CONFIG, []);
    assert.deepEqual(find(model, 'logging.report_to').control, { kind: 'enumList', choices: ['wandb', 'tensorboard'], selected: ['wandb'] });
    // Strings one per line, since they may hold commas.
    assert.deepEqual(find(model, 'launch.slurm.extra_sbatch').control, { kind: 'list', itemKind: 'string', text: '--mail-type=END,FAIL' });
  });

  it('shows each data source as a card with its fields', () => {
    const model = buildForm(schema, CONFIG, []);
    const sources = section(model, 'data').children.find((n): n is CardListNode => n.type === 'cards');
    assert.ok(sources);
    assert.equal(sources.itemLabel, 'source');
    assert.deepEqual(sources.items.map((c) => c.title), ['source 1: detection', 'source 2: size/records.jsonl']);
    assert.equal(sources.canRemove, true);
    assert.equal(sources.canAdd, true);
    assert.deepEqual(sources.newItem, { records: '' });
    const records = find(model, 'data.sources.1.records');
    assert.equal(records.control.kind === 'text' && records.control.text, 'size/records.jsonl');
    assert.equal(records.id, 'cfg-data-sources-1-records');
    assert.equal(find(model, 'data.sources.0.val_limit').control.kind === 'number' && find(model, 'data.sources.0.val_limit').present, true);

    const one = buildForm(schema, { data: { sources: [{ records: 'a.jsonl' }] } }, []);
    const single = section(one, 'data').children.find((n): n is CardListNode => n.type === 'cards');
    assert.equal(single?.canRemove, false, 'the last source cannot be removed (minItems 1)');
  });

  it('attaches problems to fields by path, and lists the rest at the top', () => {
    const problems = [
      problem(['train', 'learning_rate'], 'must be at most 1'),
      problem(['data', 'sources', 1, 'records'], 'file not found', 'warning', 'data-missing'),
      problem(['launch', 'gpus', 1], 'must be an integer'),
      problem(['train', 'lerning_rate'], 'unknown key; did you mean learning_rate?', 'error', 'unknown-key'),
      problem([], 'cross-field rule'),
      problem(['hub'], 'push_merged needs merge_after_training'),
      problem(['data', 'sources', 0], 'source problem'),
    ];
    const model = buildForm(schema, CONFIG, problems);
    assert.deepEqual(find(model, 'train.learning_rate').problems.map((p) => p.message), ['must be at most 1']);
    assert.deepEqual(find(model, 'data.sources.1.records').problems.map((p) => p.severity), ['warning']);
    assert.deepEqual(find(model, 'launch.gpus').problems.map((p) => p.message), ['must be an integer']);
    assert.deepEqual(model.unplaced.map((p) => p.message), ['unknown key; did you mean learning_rate?', 'cross-field rule']);
    assert.deepEqual(section(model, 'hub').problems.map((p) => p.message), ['push_merged needs merge_after_training']);
    assert.equal(section(model, 'train').problemCount, 1);
    assert.equal(section(model, 'data').problemCount, 2);
    const sources = section(model, 'data').children.find((n): n is CardListNode => n.type === 'cards');
    assert.deepEqual(sources?.items[0]?.problems.map((p) => p.message), ['source problem']);
  });

  it('places a problem inside a union mapping on the mapping field it names', () => {
    const value: JsonValue = { data: { sources: [], image: { window: { center: 40 } } } };
    const model = buildForm(schema, value, [problem(['data', 'image', 'window', 'width'], 'missing', 'error', 'missing-key')]);
    assert.deepEqual(find(model, 'data.image.window.width').problems.map((p) => p.code), ['missing-key']);
  });

  it('keeps a section that is not a mapping, with its fields on defaults', () => {
    const model = buildForm(schema, { model: { base: 'x' }, train: 5 } as JsonValue, []);
    const train = section(model, 'train');
    assert.equal(train.notMapping, true);
    assert.equal(find(model, 'train.epochs').present, false);
  });

  it('builds from an empty or unreadable value', () => {
    for (const value of [undefined, {}, null, 'text', [1, 2]] as (JsonValue | undefined)[]) {
      const model = buildForm(schema, value, []);
      const nodes: FormNode[] = [];
      walkNodes(model.nodes, (n) => n.type !== 'card' && nodes.push(n));
      assert.ok(nodes.length > 60);
    }
  });
});

describe('config form input parsing', () => {
  const field = (required = false): Pick<FieldNode, 'required'> => ({ required });
  it('parses numbers by kind and refuses text', () => {
    const float = { kind: 'number', integer: false, text: '' } as const;
    const integer = { kind: 'number', integer: true, text: '' } as const;
    assert.deepEqual(parseInput(field(), float, '2e-4'), { ok: true, value: 0.0002 });
    assert.deepEqual(parseInput(field(), float, ' 0.5 '), { ok: true, value: 0.5 });
    assert.deepEqual(parseInput(field(), integer, '12'), { ok: true, value: 12 });
    assert.equal(parseInput(field(), integer, '1.5').ok, false);
    assert.equal(parseInput(field(), float, 'abc').ok, false);
    assert.equal(parseInput(field(), float, 'Infinity').ok, false);
    // Out of range is written: the diagnostics explain it, as they would in the YAML.
    assert.deepEqual(parseInput(field(), integer, '0'), { ok: true, value: 0 });
  });

  it('clears to the default, except a required text', () => {
    const text = { kind: 'text', text: '' } as const;
    assert.deepEqual(parseInput(field(), text, ''), { ok: true, value: undefined });
    assert.deepEqual(parseInput(field(true), text, ''), { ok: true, value: '' });
    assert.deepEqual(parseInput(field(), { kind: 'number', integer: true, text: '' }, '  '), { ok: true, value: undefined });
    assert.deepEqual(parseInput(field(), text, ' keeps spaces '), { ok: true, value: ' keeps spaces ' });
  });

  it('splits lists: strings by line, numbers by comma or space', () => {
    assert.deepEqual(parseInput(field(), { kind: 'list', itemKind: 'string', text: '' }, 'q_proj\n v_proj \n\n#SBATCH a,b'), {
      ok: true,
      value: ['q_proj', 'v_proj', '#SBATCH a,b'],
    });
    assert.deepEqual(parseInput(field(), { kind: 'list', itemKind: 'integer', text: '' }, '0, 1 2'), { ok: true, value: [0, 1, 2] });
    assert.equal(parseInput(field(), { kind: 'list', itemKind: 'integer', text: '' }, '0, x').ok, false);
    assert.deepEqual(parseInput(field(), { kind: 'list', itemKind: 'integer', text: '' }, ' , '), { ok: true, value: undefined });
  });

  it('formats values and descriptions', () => {
    assert.equal(formatValue(0.0002), '0.0002');
    assert.equal(formatValue(null), 'null');
    assert.equal(formatValue([1, 2]), '[1, 2]');
    assert.equal(formatValue('a,b'), 'a,b');
    assert.deepEqual(descriptionSegments('`latest` resumes, or `<b>`!'), [
      { code: true, text: 'latest' },
      { code: false, text: ' resumes, or ' },
      { code: true, text: '<b>' },
      { code: false, text: '!' },
    ]);
    assert.deepEqual(descriptionSegments('no code'), [{ code: false, text: 'no code' }]);
    assert.equal(fieldId(['data', 'sources', 0, 'records']), 'cfg-data-sources-0-records');
    const item = loadSchema(schemaJson).properties.get('data');
    assert.ok(item?.kind === 'object');
    const sources = item.properties.get('sources');
    assert.ok(sources?.kind === 'array' && sources.items.kind === 'object');
    assert.deepEqual(skeleton(sources.items), { records: '' });
  });
});
