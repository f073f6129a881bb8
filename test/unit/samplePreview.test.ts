// The sample preview's host side on the demo dataset the trainer writes (make-demo-data): the
// record list, each sample's grey image compared byte for byte with the trainer's own
// (medvlm_sft.data.nifti: get_fdata as float32, per-slice min-max to uint8), its overlays and
// measurements, the prompts and targets compared with the trainer's `format` command, and the
// chat-templated turn from a tiny model's own processor.

import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { ChatMessages } from '../../src/core/preview/chatTemplate';
import { ChatTemplates } from '../../src/core/preview/chatTemplate';
import { SampleSource, toGrey } from '../../src/core/preview/sampleSource';
import { configSampleSettings, sampleSettingsFor } from '../../src/core/preview/sampleSettings';
import type { FormattedText } from '../../src/shared/preview/formatting';
import { modelImageSize } from '../../src/shared/preview/formatting';
import { trainerEnv } from '../../src/core/trainerCommand';
import { repoRoot } from './testUtil';

const REFERENCE = String.raw`
import hashlib, json, sys
from pathlib import Path
from medvlm_sft.data.nifti import Volume, read_header, to_uint8
recs = [json.loads(l) for l in Path(sys.argv[1]).read_text().splitlines() if l.strip()]
out = []
for r in recs:
    p = Path(sys.argv[1]).parent / r["image_file"]
    u8 = to_uint8(Volume(p).slice(r["slice_dim"], r["slice_idx"]))
    h = read_header(p)
    f32 = Volume(p).slice(r["slice_dim"], r["slice_idx"])
    out.append({"shape": list(u8.shape), "sha256": hashlib.sha256(u8.tobytes()).hexdigest(),
                "values": hashlib.sha256(f32.astype("<f4").tobytes()).hexdigest(),
                "spacing": [float(z) for z in h.slice_spacing(r["slice_dim"])]})
print(json.dumps(out))
`;

describe('sample preview source', () => {
  let dir = '';
  let python = '';
  let env: Record<string, string> = {};
  let records = '';

  before(() => {
    python = process.env.MEDVLM_PYTHON ?? '';
    assert.ok(python, 'MEDVLM_PYTHON must name the trainer environment (npm test sets it)');
    env = trainerEnv(repoRoot);
    dir = mkdtempSync(path.join(os.tmpdir(), 'medvlm-preview-'));
    execFileSync(python, ['-m', 'medvlm_sft', 'make-demo-data', dir], { env, stdio: 'ignore' });
    records = path.join(dir, 'records.jsonl');
  });

  after(() => rmSync(dir, { recursive: true, force: true }));

  it('lists every record with its kind, and shows each slice exactly as the trainer makes it', async () => {
    const source = await SampleSource.open({ recordsFile: records, tasksFile: path.join(dir, 'tasks.json') });
    const items = source.items();
    assert.ok(items.length >= 30);
    assert.deepEqual(new Set(items.map((i) => i.kind)), new Set(['detection', 'tumor_lesion', 'angle_distance']));
    assert.ok(items.every((i) => i.error === undefined && i.dataset === 'Demo'));
    const expected = JSON.parse(execFileSync(python, ['-c', REFERENCE, records], { env, encoding: 'utf8' })) as Array<{ shape: number[]; sha256: string; values: string; spacing: number[] }>;
    for (const item of items) {
      const sample = await source.sample(item.index);
      assert.deepEqual(sample.problems, [], `record ${item.index}`);
      const image = sample.image;
      assert.ok(image !== undefined);
      const want = expected[item.index];
      assert.deepEqual([image.height, image.width], want?.shape, `record ${item.index}`);
      assert.equal(createHash('sha256').update(image.pixels).digest('hex'), want?.sha256, `record ${item.index}: the grey levels the model is trained on`);
      assert.deepEqual(image.spacing, want?.spacing);
      const values = Buffer.from(image.values.buffer, image.values.byteOffset, image.values.byteLength);
      assert.equal(createHash('sha256').update(values).digest('hex'), want?.values, `record ${item.index}: the float32 values behind the grey levels`);
      assert.ok(sample.overlays !== undefined);
      const drawn = sample.overlays.boxes.length + sample.overlays.lines.length;
      assert.ok(drawn > 0, `record ${item.index} draws something`);
      assert.ok(sample.measurements.length > 0);
    }
  });

  it('steps to the volume’s other slices, overlays only on the record’s own', async () => {
    const source = await SampleSource.open({ recordsFile: records, tasksFile: path.join(dir, 'tasks.json') });
    const own = await source.sample(0);
    assert.ok(own.slice !== undefined && own.overlays !== undefined);
    assert.equal(own.slice.index, own.slice.record);
    const next = own.slice.index + 1 < own.slice.count ? own.slice.index + 1 : own.slice.index - 1;
    const other = await source.sample(0, next);
    assert.deepEqual(other.slice, { ...own.slice, index: next });
    assert.equal(other.overlays, undefined);
    assert.deepEqual(other.measurements, []);
    assert.notDeepEqual(other.image?.values, own.image?.values, 'another slice, other values');
    const outside = await source.sample(0, own.slice.count + 5);
    assert.equal(outside.image, undefined);
    assert.match(outside.problems.join('\n'), /outside 0\.\./);
  });

  it('measures the overlays against what the records state', async () => {
    const source = await SampleSource.open({ recordsFile: records, tasksFile: path.join(dir, 'tasks.json') });
    const items = source.items();
    // The demo's tumour axes and landmark distances lie in the slice, so the measured lengths
    // are the records' own values (float16-rounded there).
    for (const item of items.filter((i) => i.kind === 'tumor_lesion' || (i.kind === 'angle_distance' && i.detail?.startsWith('distance')))) {
      const sample = await source.sample(item.index);
      for (const m of sample.measurements) {
        assert.ok(m.recorded !== undefined, `${m.label} has the record's value`);
        assert.ok(Math.abs(m.measured - m.recorded) <= Math.max(0.05, m.recorded * 2e-3), `record ${item.index} ${m.label}: ${m.measured} vs ${m.recorded}`);
      }
    }
  });

  it('makes the prompt and target the trainer makes, byte for byte, for each model family and option', async () => {
    const source = await SampleSource.open({ recordsFile: records, tasksFile: path.join(dir, 'tasks.json') });
    const variants = [
      { family: 'qwen2_5_vl', options: {}, args: [] },
      { family: 'medgemma', options: {}, args: [] },
      { family: 'qwen2_5_vl', options: { detectionPrompt: 'benchmark', boxConvention: 'pixel_edge' }, args: ['--detection-prompt', 'benchmark', '--box-convention', 'pixel_edge'] },
    ] as const;
    for (const { family, options, args } of variants) {
      const lines = execFileSync(python, ['-m', 'medvlm_sft', 'format', '--records', records, '--tasks', path.join(dir, 'tasks.json'), '--model-family', family, ...args], { env, encoding: 'utf8' })
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l) as { messages: ChatMessages; model_image_size: [number, number] });
      assert.equal(lines.length, source.entries.length);
      for (const [i, line] of lines.entries()) {
        const sample = await source.sample(i, undefined, { family, rule: { family }, options });
        assert.equal(sample.textProblem, undefined, `record ${i}`);
        assert.ok(sample.text !== undefined && sample.image !== undefined && sample.resize !== undefined);
        // The messages the chat template gets are the trainer's, exactly.
        assert.deepEqual(source.chatMessages(i, sample.text), line.messages, `record ${i} (${family})`);
        assert.deepEqual(modelImageSize(sample.resize, sample.image.height, sample.image.width), line.model_image_size);
      }
    }
  });

  it('says which record cannot get a text, and why', async () => {
    const source = await SampleSource.open({ recordsFile: records });
    const sample = await source.sample(0, undefined, { family: 'qwen2_5_vl', rule: { family: 'qwen2_5_vl' }, options: {} });
    assert.equal(sample.text, undefined);
    assert.match(sample.textProblem ?? '', /needs task metadata, but no tasks\.json was given/);
    assert.ok(sample.image !== undefined, 'the image is still shown');
  });

  it('shows the chat-templated turn from the run config’s model, as the collator encodes it', async () => {
    const modelDir = path.join(dir, 'tiny-qwen2_5_vl');
    execFileSync(python, ['-m', 'medvlm_sft', 'make-tiny-model', modelDir, '--family', 'qwen2_5_vl'], { env, stdio: 'ignore' });
    const config = path.join(dir, 'run.sft.yaml');
    writeFileSync(config, 'model:\n  base: tiny-qwen2_5_vl\ndata:\n  detection_prompt: benchmark\n  sources:\n    - records: records.jsonl\n      tasks: tasks.json\n');
    const settings = await configSampleSettings(config);
    // model.family is unset: the folder's config.json model_type decides, as the trainer's `auto` does.
    assert.equal(settings.family, 'qwen2_5_vl');
    assert.deepEqual(settings.options, { detectionPrompt: 'benchmark' });
    assert.equal(settings.model?.folder, modelDir);
    // The tiny model's own limits (transformers 5 nests them in processor_config.json), not the
    // published defaults: its max_pixels is 12544, far below Qwen2.5-VL-Instruct's 12845056.
    const saved = JSON.parse(readFileSync(path.join(modelDir, 'processor_config.json'), 'utf8')) as { image_processor: { size: { shortest_edge: number; longest_edge: number } } };
    assert.deepEqual(settings.rule, { family: 'qwen2_5_vl', factor: 28, minPixels: saved.image_processor.size.shortest_edge, maxPixels: saved.image_processor.size.longest_edge });
    assert.equal(saved.image_processor.size.longest_edge, 12544);

    const source = await SampleSource.open({ recordsFile: records, tasksFile: path.join(dir, 'tasks.json') });
    const sample = await source.sample(0, undefined, sampleSettingsFor('qwen2_5_vl', settings));
    assert.ok(sample.text !== undefined);
    const chat = new ChatTemplates({ python, env }, settings.model?.base ?? '', dir);
    try {
      const messages = source.chatMessages(0, sample.text);
      const turn = await chat.turn(messages);
      const expected = JSON.parse(
        execFileSync(
          python,
          [
            '-c',
            'import json, sys\nfrom transformers import AutoProcessor\np = AutoProcessor.from_pretrained(sys.argv[1])\nm = json.loads(sys.argv[2])\nprint(json.dumps([p.apply_chat_template(m, tokenize=False), p.apply_chat_template(m[:-1], tokenize=False, add_generation_prompt=True)]))',
            modelDir,
            JSON.stringify(messages),
          ],
          { env, encoding: 'utf8' },
        ),
      ) as [string, string];
      assert.equal(turn.text, expected[0]);
      assert.equal(turn.answerStart, expected[1].length);
      assert.ok(turn.text.slice(turn.answerStart).startsWith(sample.text.target));
      // Several turns from the one process, answered in order.
      const again = await Promise.all([1, 2].map(async (i) => (await chat.turn(source.chatMessages(i, (await source.sample(i, undefined, sampleSettingsFor('qwen2_5_vl', settings))).text as FormattedText))).text));
      assert.ok(again.every((t) => t.includes('<|im_start|>assistant')));
      // A process that ends after loading (closed, killed) fails its turns with why, and says a
      // new one should be started.
      chat.close();
      await assert.rejects(chat.turn(messages), /the trainer's chat process ended \(SIGTERM\)/);
      assert.equal(chat.ended, true);
    } finally {
      chat.close();
    }
    // A model that is not there: the reason, once, and no process left behind.
    const missing = new ChatTemplates({ python, env }, './no-such-model', dir);
    await assert.rejects(missing.turn([]), /model folder not found/);
    assert.equal(missing.ended, false, 'a processor that did not load is not retried');
  });

  it('draws the grey levels with the run config’s data.image window, as the trainer does', async () => {
    const source = await SampleSource.open({ recordsFile: records, tasksFile: path.join(dir, 'tasks.json') });
    const script = [
      'import hashlib, json, sys',
      'from pathlib import Path',
      'from types import SimpleNamespace as NS',
      'from medvlm_sft.data.imaging import ImageSettings',
      'from medvlm_sft.data.nifti import Volume',
      'recs = [json.loads(l) for l in Path(sys.argv[1]).read_text().splitlines() if l.strip()]',
      'window = json.loads(sys.argv[2])',
      'window = NS(**window) if isinstance(window, dict) else window',
      'settings = ImageSettings.from_config(NS(normalization="window", window=window))',
      'print(json.dumps([hashlib.sha256(settings.to_uint8(Volume(Path(sys.argv[1]).parent / r["image_file"]).slice(r["slice_dim"], r["slice_idx"])).tobytes()).hexdigest() for r in recs]))',
    ].join('\n');
    const windows: Array<[unknown, string]> = [
      ['ct_soft_tissue', 'CT soft tissue'],
      ['ct_bone', 'CT bone'],
      ['mr', 'MR 1st-99th percentile'],
      [{ center: 100.5, width: 333.3 }, 'window L 100.5, W 333.3'],
    ];
    for (const [window, label] of windows) {
      const config = path.join(dir, 'window.sft.yaml');
      writeFileSync(config, `model:\n  base: Qwen/Qwen2.5-VL-3B-Instruct\ndata:\n  image:\n    normalization: window\n    window: ${JSON.stringify(window)}\n  sources:\n    - records: records.jsonl\n`);
      const settings = sampleSettingsFor('qwen2_5_vl', await configSampleSettings(config));
      assert.equal(settings.image?.mode === 'minmax' ? undefined : settings.image?.label, label);
      const expected = JSON.parse(execFileSync(python, ['-c', script, records, JSON.stringify(window)], { env, encoding: 'utf8' })) as string[];
      let differs = 0;
      for (const [i, want] of expected.entries()) {
        const image = (await source.sample(i, undefined, settings)).image;
        assert.ok(image !== undefined);
        assert.equal(createHash('sha256').update(image.pixels).digest('hex'), want, `record ${i} under ${JSON.stringify(window)}`);
        assert.equal(image.normalization, label);
        if (createHash('sha256').update((await source.sample(i)).image?.pixels ?? new Uint8Array()).digest('hex') !== want) differs++;
      }
      assert.ok(differs > 0, `the ${label} window changes the grey levels of some slice`);
    }
  });

  it('reads .parquet records through the trainer, the same records as the .jsonl', async () => {
    // One task kind per table (a parquet column has one type): the detection records.
    const parquet = path.join(dir, 'detection.parquet');
    const jsonl = path.join(dir, 'detection.jsonl');
    const script = [
      'import json, sys, pyarrow as pa, pyarrow.parquet as pq',
      'rows = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]',
      'rows = [r for r in rows if "bounding_boxes" in r]',
      'open(sys.argv[3], "w").write("".join(json.dumps(r) + "\\n" for r in rows))',
      'pq.write_table(pa.Table.from_struct_array(pa.array(rows)), sys.argv[2])',
    ].join('\n');
    execFileSync(python, ['-c', script, records, parquet, jsonl], { env });
    const fromJsonl = await SampleSource.open({ recordsFile: jsonl, tasksFile: path.join(dir, 'tasks.json') });
    const fromParquet = await SampleSource.open({ recordsFile: parquet, tasksFile: path.join(dir, 'tasks.json'), runner: { python, env } });
    assert.deepEqual(
      fromParquet.items().map(({ line: _line, ...item }) => item),
      fromJsonl.items().map(({ line: _line, ...item }) => item),
    );
    const [a, b] = [await fromParquet.sample(3), await fromJsonl.sample(3)];
    assert.deepEqual(a.overlays, b.overlays);
    assert.deepEqual(a.image?.pixels, b.image?.pixels);
    await assert.rejects(SampleSource.open({ recordsFile: parquet }), /\.parquet records are read through the trainer/);
  });

  it('sends a generic record’s PNG as the file holds it, with the record’s own overlays', async () => {
    const png = path.join(dir, 'pic.png');
    execFileSync(python, ['-c', 'import sys; from PIL import Image; Image.new("RGB", (20, 10), (200, 30, 30)).save(sys.argv[1])', png], { env });
    const overlays = { boxes: [{ x0: 2, y0: 1, x1: 9, y1: 6, label: 'lesion' }], points: [], lines: [] };
    const generic = path.join(dir, 'generic.jsonl');
    writeFileSync(
      generic,
      [
        JSON.stringify({ image: 'pic.png', messages: [{ role: 'user', content: [{ type: 'image' }] }], overlays }),
        JSON.stringify({ image: 'gone.png', messages: [] }),
      ].join('\n'),
    );
    const source = await SampleSource.open({ recordsFile: generic });
    const sample = await source.sample(0);
    assert.deepEqual(sample.problems, []);
    assert.equal(sample.picture?.mime, 'image/png');
    assert.ok(sample.picture?.bytes instanceof Uint8Array && sample.picture.bytes.constructor === Uint8Array, 'a plain Uint8Array, not a Buffer');
    assert.deepEqual(Buffer.from(sample.picture.bytes), readFileSync(png));
    assert.deepEqual(sample.overlays, { ...overlays, lines: [] });
    assert.match((await source.sample(1)).problems.join('\n'), /gone\.png: cannot read it \(ENOENT\)/);
  });

  it('labels each record with the split the run config puts it in, as the trainer splits', async () => {
    const config = path.join(dir, 'demo.sft.yaml');
    writeFileSync(
      config,
      ['model:', '  base: tiny-qwen2_5_vl', '  family: qwen2_5_vl', 'data:', '  sources:', '    - records: records.jsonl', '      tasks: tasks.json', '      val_limit: 4', ''].join('\n'),
    );
    const source = await SampleSource.open({ recordsFile: records, tasksFile: path.join(dir, 'tasks.json') });
    assert.equal(source.items()[0]?.split, undefined, 'no split before it is asked for');
    assert.equal(await source.loadSplits(config, 0, { python, env }), undefined);
    const counts = new Map<string, number>();
    for (const item of source.items()) counts.set(String(item.split), (counts.get(String(item.split)) ?? 0) + 1);
    const trainer = execFileSync(python, ['-m', 'medvlm_sft', 'split', config], { env, encoding: 'utf8' })
      .trim()
      .split('\n')
      .map((l) => (JSON.parse(l) as { split: string }).split);
    assert.deepEqual(
      source.items().map((i) => i.split),
      trainer,
    );
    assert.equal(counts.get('val'), 4);
    assert.ok((counts.get('train') ?? 0) > 20);
    const broken = path.join(dir, 'broken.sft.yaml');
    writeFileSync(broken, 'data:\n  sources: []\n');
    assert.match((await source.loadSplits(broken, 0, { python, env })) ?? '', /\S/, 'a config the trainer refuses says why');
  });

  it('scales grey levels like numpy in float32: truncated, a constant slice black', () => {
    const { pixels, min, max } = toGrey(Float64Array.of(0, 1, 2, 3, 254.9, 255));
    assert.deepEqual([...pixels], [0, 1, 2, 3, 254, 255]);
    assert.deepEqual([min, max], [0, 255]);
    assert.deepEqual([...toGrey(Float64Array.of(7, 7, 7)).pixels], [0, 0, 0]);
    // numpy's float32 steps give 105 here where float64 arithmetic gives 104 (found by search,
    // checked with medvlm_sft.data.nifti.to_uint8).
    assert.equal(toGrey(Float64Array.of(-849.0498657226562, 586.2337646484375, 2636.63916015625)).pixels[1], 105);
  });
});
