// The preview's formatter against the shared golden vectors (design contract 3). The expected
// strings in test/fixtures/formatting/golden.json were derived by hand from the reference
// formulas; python/tests/test_data_formatting.py checks the trainer against the same file.

import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import type { FormatOptions, ResizeRule } from '../../src/shared/preview/formatting';
import { adjustedPixelSize, FormatError, formatRecord, genericText, imageTokens, modelImageSize, pixelSizeText, pyFixed, pyRepr, pyRound, smartResize, tumorLesionUnit } from '../../src/shared/preview/formatting';
import { detectKind } from '../../src/shared/preview/overlays';
import { repoRoot } from './testUtil';

type Json = Record<string, unknown>;
interface GoldenCase {
  name: string;
  kind: string;
  model_family: 'qwen2_5_vl' | 'medgemma';
  record: Json;
  options?: { detection_prompt: 'reference' | 'benchmark'; box_convention: 'reference' | 'pixel_edge' };
  header: { pixdim_hw: [number, number]; slice_shape_hw: [number, number] };
  expected: { prompt: string; target: string; image_size: [number, number]; model_image_size: [number, number] };
}
interface Golden {
  processor: { qwen2_5_vl: { min_pixels: number; max_pixels: number; patch_size: number; merge_size: number; factor: number }; medgemma: { size_hw: [number, number] } };
  tasks: Json;
  cases: GoldenCase[];
  smart_resize: Array<{ hw: [number, number]; expected: [number, number] }>;
  float_repr: Array<{ value: number; text: string }>;
  tumor_lesion_units: Array<{ unit: unknown; text: string }>;
}

const golden = JSON.parse(readFileSync(path.join(repoRoot, 'test', 'fixtures', 'formatting', 'golden.json'), 'utf8')) as Golden;

function ruleFor(family: GoldenCase['model_family']): ResizeRule {
  if (family === 'qwen2_5_vl') {
    const p = golden.processor.qwen2_5_vl;
    return { family, factor: p.patch_size * p.merge_size, minPixels: p.min_pixels, maxPixels: p.max_pixels };
  }
  return { family, fixedHw: golden.processor.medgemma.size_hw };
}

function formatCase(c: GoldenCase, record: Json = c.record) {
  const options: FormatOptions = c.options !== undefined ? { detectionPrompt: c.options.detection_prompt, boxConvention: c.options.box_convention } : {};
  // The header's pixdim is float32 on disk, as nibabel (and the preview's reader) returns it.
  const spacingHw = c.header.pixdim_hw.map(Math.fround) as [number, number];
  return formatRecord(detectKind(record), record, golden.tasks, { spacingHw, shapeHw: c.header.slice_shape_hw }, ruleFor(c.model_family), options);
}

test('the golden file covers every formatter, family and option', () => {
  assert.deepEqual(new Set(golden.cases.map((c) => c.kind)), new Set(['detection', 'angle_distance', 'tumor_lesion']));
  assert.deepEqual(new Set(golden.cases.map((c) => c.model_family)), new Set(['qwen2_5_vl', 'medgemma']));
  assert.ok(golden.cases.length >= 13 && golden.smart_resize.length >= 9 && golden.float_repr.length >= 7);
});

for (const c of golden.cases) {
  test(`golden prompt and target: ${c.name}`, () => {
    assert.equal(detectKind(c.record), c.kind);
    const text = formatCase(c);
    assert.equal(text.prompt, c.expected.prompt);
    assert.equal(text.target, c.expected.target);
    const [h, w] = c.header.slice_shape_hw;
    assert.deepEqual(modelImageSize(ruleFor(c.model_family), h, w), c.expected.model_image_size);
  });
}

for (const row of golden.smart_resize) {
  test(`golden smart_resize ${row.hw.join('x')}`, () => {
    assert.deepEqual(smartResize(row.hw[0], row.hw[1]), row.expected);
    assert.deepEqual(modelImageSize(ruleFor('qwen2_5_vl'), row.hw[0], row.hw[1]), row.expected);
  });
}

for (const row of golden.float_repr) {
  test(`golden angle/distance target is Python's repr: ${row.text}`, () => {
    assert.equal(pyRepr(row.value), row.text);
    const c = golden.cases.find((k) => k.name === 'distance-unnamed-float32-qwen-42') as GoldenCase;
    const record = structuredClone(c.record);
    (record.biometric_profile as Json).metric_value = row.value;
    assert.equal(formatCase(c, record).target, row.text);
  });
}

for (const row of golden.tumor_lesion_units) {
  test(`golden tumour/lesion unit ${JSON.stringify(row.unit)}`, () => {
    assert.equal(tumorLesionUnit(row.unit), row.text);
  });
}

test("pyFixed rounds the exact binary value half-to-even, as Python's format does", () => {
  // Exact ties (dyadic values) go to the even digit; toFixed would round them all up.
  assert.equal(pyFixed(0.0625, 3), '0.062');
  assert.equal(pyFixed(0.1875, 3), '0.188');
  assert.equal(pyFixed(2.5, 0), '2');
  assert.equal(pyFixed(3.5, 0), '4');
  // 0.0005 is not exactly representable: its binary value lies above the tie.
  assert.equal(pyFixed(0.0005, 3), '0.001');
  // 1.0005 lies below the tie.
  assert.equal(pyFixed(1.0005, 3), '1.000');
  assert.equal(pyFixed(-0.0625, 3), '-0.062');
  assert.equal(pyFixed(-0.0001, 3), '-0.000');
  assert.equal(pyFixed(-0, 3), '-0.000');
  assert.equal(pyFixed(1e21, 2), '1000000000000000000000.00');
  assert.equal(pyFixed(5e-324, 3), '0.000');
  assert.equal(pyFixed(Number.NaN, 3), 'nan');
  assert.equal(pyFixed(Number.NEGATIVE_INFINITY, 3), '-inf');
  assert.equal(pyFixed(123.456, 1), '123.5');
});

test("pyRepr follows Python's layout around the exponent switches", () => {
  const cases: Array<[number, string]> = [
    [0, '0.0'],
    [-0, '-0.0'],
    [0.1, '0.1'],
    [1e-4, '0.0001'],
    [1e-5, '1e-05'],
    [-2.5e-7, '-2.5e-07'],
    [123456789012345.6, '123456789012345.6'],
    [1e15, '1000000000000000.0'],
    [1.5e16, '1.5e+16'],
    [1e300, '1e+300'],
    [Number.POSITIVE_INFINITY, 'inf'],
  ];
  for (const [value, text] of cases) assert.equal(pyRepr(value), text, String(value));
});

test("pyRound is Python's round: half-to-even", () => {
  assert.deepEqual([0.5, 1.5, 2.5, 2.6, -0.5, -1.5].map(pyRound), [0, 2, 2, 3, 0, -2]);
});

test('the pixel-size line is float32 arithmetic, width first', () => {
  const adj = adjustedPixelSize([0.5, 1.0], [100, 100], [100, 100]);
  assert.equal(pixelSizeText(adj, 'mm'), 'The pixel size for this image is 1.000 mm (width) x 0.500 mm (height).');
  // float32(0.39) / float32(56/42) is 0.29249998927116394 in float32: it prints 0.292, where the
  // double quotient 0.2925 exactly would be a tie.
  assert.equal(adjustedPixelSize([Math.fround(0.39), Math.fround(0.39)], [42, 42], [56, 56])[0], Math.fround(Math.fround(0.39) / Math.fround(56 / 42)));
});

test('image tokens: one per 28 x 28 pixels for Qwen2.5-VL, 256 for MedGemma', () => {
  assert.equal(imageTokens(ruleFor('qwen2_5_vl'), 504, 504), 324);
  assert.equal(imageTokens(ruleFor('medgemma'), 896, 896), 256);
});

test('bad records and metadata get a message saying what to fix', () => {
  const c = golden.cases.find((k) => k.kind === 'detection') as GoldenCase;
  const geometry = { spacingHw: [1, 1] as [number, number], shapeHw: [512, 512] as [number, number] };
  assert.throws(() => formatRecord('detection', c.record, undefined, geometry, ruleFor('qwen2_5_vl')), (err: Error) => err instanceof FormatError && /tasks\.json/.test(err.message));
  assert.throws(() => formatRecord('detection', { ...c.record, label: 9 }, golden.tasks, geometry, ruleFor('qwen2_5_vl')), /label 9 is not in the task's labels_map \(1, 2\)/);
  assert.throws(() => formatRecord('detection', { ...c.record, taskID: '77' }, golden.tasks, geometry, ruleFor('qwen2_5_vl')), /no task metadata for "KiTS23\/detection\/77"/);
  assert.throws(() => formatRecord('detection', { ...c.record, image_size_2d: undefined }, golden.tasks, geometry, ruleFor('qwen2_5_vl')), /image_size_2d/);
  assert.throws(() => smartResize(10, 2100), /aspect ratio must be smaller than 200/);
});

test("a generic record's text is its own messages'", () => {
  const record = {
    image: 'x.png',
    messages: [
      { role: 'user', content: [{ type: 'image' }, { type: 'text', text: 'How long is the femur?' }] },
      { role: 'assistant', content: [{ type: 'text', text: '41.2' }] },
    ],
  };
  assert.deepEqual(genericText(record), { prompt: 'How long is the femur?', target: '41.2' });
  assert.throws(() => genericText({ messages: [record.messages[1]] }), /user turn and an assistant answer/);
  assert.throws(() => genericText({ messages: [...record.messages].reverse() }), /assistant's answer/);
});
