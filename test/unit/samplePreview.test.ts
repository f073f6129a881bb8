// The sample preview's host side on the demo dataset the trainer writes (make-demo-data): the
// record list, each sample's grey image compared byte for byte with the trainer's own
// (medvlm_sft.data.nifti: get_fdata as float32, per-slice min-max to uint8), its overlays and
// measurements, and the exact prompts and targets from the trainer's `format` command.

import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { SampleSource, toGrey } from '../../src/core/preview/sampleSource';
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

  it('takes the exact prompt and target from the trainer, one per record, for each model family', async () => {
    const source = await SampleSource.open({ recordsFile: records, tasksFile: path.join(dir, 'tasks.json') });
    for (const family of ['qwen2_5_vl', 'medgemma'] as const) {
      const texts = await source.texts(family, { python, env });
      const lines = execFileSync(python, ['-m', 'medvlm_sft', 'format', '--records', records, '--tasks', path.join(dir, 'tasks.json'), '--model-family', family], { env, encoding: 'utf8' })
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l) as { messages: Array<{ content: Array<{ text?: string }> }>; model_image_size: number[] });
      assert.equal(Object.keys(texts).length, lines.length);
      lines.forEach((line, i) => {
        const text = texts[String(i)];
        assert.ok(text !== undefined && 'prompt' in text, `record ${i}`);
        assert.equal(text.prompt, line.messages[0]?.content[1]?.text);
        assert.equal(text.target, line.messages[1]?.content[0]?.text);
        assert.deepEqual(text.modelImageSize, line.model_image_size);
      });
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
