// "Check dataset" on the demo dataset the trainer writes, with one fault planted per record:
// each is reported once, on its record's line, with what is wrong; the clean records and
// volumes report nothing.

import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { gunzipSync, gzipSync } from 'node:zlib';
import { checkDataset } from '../../src/core/preview/datasetCheck';
import { inspectNiftiFile } from '../../src/core/niftiFile';
import { trainerEnv } from '../../src/core/trainerCommand';
import { repoRoot } from './testUtil';

type Json = Record<string, unknown>;

describe('dataset check', () => {
  let dir = '';
  const records = () => path.join(dir, 'records.jsonl');
  const tasks = () => path.join(dir, 'tasks.json');

  before(() => {
    const python = process.env.MEDVLM_PYTHON;
    assert.ok(python, 'MEDVLM_PYTHON must name the trainer environment (npm test sets it)');
    dir = mkdtempSync(path.join(os.tmpdir(), 'medvlm-check-'));
    execFileSync(python, ['-m', 'medvlm_sft', 'make-demo-data', dir], { env: trainerEnv(repoRoot), stdio: 'ignore' });
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('finds nothing wrong with the demo dataset', async () => {
    const result = await checkDataset({ recordsFile: records(), tasksFile: tasks() });
    assert.deepEqual(result.problems, []);
    assert.ok(result.records >= 30 && result.volumes >= 1);
  });

  it('reports each planted fault on its record, and nothing for the clean ones', async () => {
    const lines = readFileSync(records(), 'utf8').trim().split('\n');
    const parsed = lines.map((l) => JSON.parse(l) as Json);
    const detection = parsed.findIndex((r) => r.bounding_boxes !== undefined);
    const tumour = parsed.findIndex((r) => r.taskType === 'Tumor-Lesion-Size');
    assert.ok(detection >= 0 && tumour >= 0);
    const volume = String(parsed[detection]?.image_file);
    const planted: string[] = [];
    const plant = (record: Json) => planted.push(JSON.stringify(record));
    plant({ ...parsed[detection], image_file: 'Images/missing.nii.gz' });
    plant({ ...parsed[detection], slice_idx: 99 });
    planted.push('{"dataset_name": "Demo",');
    plant({ ...parsed[detection], bounding_boxes: { min_coords: [[8, 8]], max_coords: [[70, 20]] } });
    plant({ ...parsed[detection], dataset_name: 'Nope' });
    // A volume cut short in the middle of its gzip stream.
    const whole = readFileSync(path.join(dir, volume));
    writeFileSync(path.join(dir, 'Images', 'cut.nii.gz'), whole.subarray(0, Math.floor(whole.length / 2)));
    plant({ ...parsed[detection], image_file: 'Images/cut.nii.gz' });
    // A tumour whose minor-axis end P3 lies one slice further on.
    const landmarkFile = String(parsed[tumour]?.landmark_file);
    const landmarks = JSON.parse(gunzipSync(readFileSync(path.join(dir, landmarkFile))).toString()) as Json;
    const sliceIdx = parsed[tumour]?.slice_idx as number;
    const entry = (landmarks.slice_landmarks_z as Array<{ slice_idx: number; landmarks: Array<Record<string, number[]>> }>).find((e) => e.slice_idx === sliceIdx);
    assert.ok(entry?.landmarks[0]?.P3);
    entry.landmarks[0].P3 = [entry.landmarks[0].P3[0] as number, entry.landmarks[0].P3[1] as number, sliceIdx + 1];
    writeFileSync(path.join(dir, 'Landmarks', 'off.json.gz'), gzipSync(JSON.stringify(landmarks)));
    plant({ ...parsed[tumour], landmark_file: 'Landmarks/off.json.gz' });
    const file = path.join(dir, 'faults.jsonl');
    writeFileSync(file, [lines[0], ...planted, lines[1]].join('\n') + '\n');

    const result = await checkDataset({ recordsFile: file, tasksFile: tasks() });
    const got = result.problems.map((p) => [p.line, p.severity, p.message]);
    const expect: Array<[number, string, RegExp]> = [
      [2, 'error', /^image file not found: .*missing\.nii\.gz$/],
      [3, 'error', /^slice_idx 99 is outside 0\.\.\d+ along dimension 2 of Images\/case_000\.nii\.gz/],
      [4, 'error', /^line 4 is not valid JSON/],
      [5, 'error', /^the box \[8, 8\]-\[70, 20\] \(row, column\) reaches outside the 64 x 64 slice$/],
      [6, 'error', /^no task metadata for "Nope\/detection\/01" or "Nope\/01"/],
      [7, 'error', /cut\.nii\.gz: the gzip data is cut short/],
      [8, 'warning', new RegExp(`^landmarks off the shown slice ${sliceIdx}: P3 \\(on slice ${sliceIdx + 1}\\)`)],
    ];
    assert.equal(got.length, expect.length, JSON.stringify(got, null, 1));
    expect.forEach(([line, severity, message], i) => {
      assert.equal(got[i]?.[0], line, JSON.stringify(got[i]));
      assert.equal(got[i]?.[1], severity, JSON.stringify(got[i]));
      assert.match(String(got[i]?.[2]), message);
    });
  });

  it('inspects a volume by streaming it: header and shape, never its voxels', async () => {
    const first = JSON.parse(readFileSync(records(), 'utf8').split('\n')[0] ?? '{}') as Json;
    const summary = await inspectNiftiFile(path.join(dir, String(first.image_file)));
    assert.deepEqual(summary.shape, first.image_size_3d);
    assert.equal(summary.header.dtype.length > 0, true);
  });
});
