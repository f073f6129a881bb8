// What the sample preview draws over a slice, against coordinates worked out by hand from the
// normative dataset format: pixel centres (x = column, y = row), detection boxes at their
// inclusive corners, landmarks with their slice_dim component dropped, a distance as one
// line, an angle as two, a tumour as its major and minor axes. The same core code runs in the
// preview CLI, which is checked end to end on a records file with broken and unusable lines.

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { writeFileSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { gzipSync } from 'node:zlib';
import { detectKind, recordOverlays } from '../../src/shared/preview/overlays';
import { repoRoot, tempDir } from './testUtil';

const tasks = {
  'Ceph/angle_distance/01': {
    image_description: 'an X-ray',
    landmarks_map: { P1: 'sella', P2: 'nasion', P3: 'orbitale', P4: 'porion' },
    lines_map: {
      'L-1-2': { name: '', element_map_name: 'landmarks_map', element_keys: ['P1', 'P2'] },
      'L-3-4': { name: 'FH', element_map_name: 'landmarks_map', element_keys: ['P3', 'P4'] },
    },
    angles_map: { 'A-L_1_2-L_3_4': { name: '', element_map_name: 'lines_map', element_keys: ['L-1-2', 'L-3-4'] } },
  },
  'KiTS/detection/01': { image_description: '', labels_map: { '2': 'kidney tumor' } },
};

// Ceph stores [0, r, c] in slice_landmarks_x (slice_dim 0).
const cephLandmarks = { slice_landmarks_x: [{ slice_idx: 0, landmarks: { P1: [0, 100, 40], P2: [0, 90, 300], P3: [0, 210, 280], P4: [0, 200, 20] } }] };
// A coronal (slice_dim 1) tumour at y = 12: points are [i, 12, k] -> (row i, column k).
const tumourLandmarks = { slice_landmarks_y: [{ slice_idx: 12, landmarks: [{ P1: [10, 12, 30], P2: [50, 12, 34], P3: [28, 12, 20], P4: [32, 12, 44], ROI_pixels_count: 900 }] }] };

const distance = {
  dataset_name: 'Ceph', taskID: '01', slice_dim: 0, slice_idx: 0, landmark_file: 'Landmarks/ceph.json.gz',
  biometric_profile: { metric_type: 'distance', metric_map_name: 'lines_map', metric_key: 'L-1-2', metric_value: 76.4375, metric_unit: 'mm', slice_dim: 0 },
};
const angle = { ...distance, biometric_profile: { ...distance.biometric_profile, metric_type: 'angle', metric_map_name: 'angles_map', metric_key: 'A-L_1_2-L_3_4', metric_value: 8.5 } };
const box = {
  dataset_name: 'KiTS', taskID: '01', slice_dim: 2, slice_idx: 57, image_size_2d: [512, 512], label: 2,
  // A list of dicts (as pandas writes a Sequence) is the same box as a dict of lists.
  bounding_boxes: [{ min_coords: [210, 301], max_coords: [251, 344], dimensions: [42, 44] }],
};
const tumour = {
  dataset_name: 'KiTS', taskID: '01', slice_dim: 1, slice_idx: 12, label: 2, landmark_file: 'Landmarks/tumour.json',
  biometric_profile: { metric_type: ['distance'], metric_map_name: ['lines_map'], metric_key_major_axis: ['L-1-2'], metric_value_major_axis: [40.2], metric_key_minor_axis: ['L-3-4'], metric_value_minor_axis: [24.3], metric_unit: ['mm'] },
};
const generic = { image: 'x.png', messages: [], overlays: { boxes: [{ x0: 10, y0: 20, x1: 60, y1: 80, label: 'lesion' }], points: [{ x: 5, y: 7, label: 'P1' }], lines: [{ x0: 0, y0: 0, x1: 9, y1: 9 }] } };

test('each kind draws where the format puts it, by hand', () => {
  assert.deepEqual(recordOverlays(box, tasks, undefined), { boxes: [{ x0: 301, y0: 210, x1: 344, y1: 251, label: 'kidney tumor' }], points: [], lines: [] });
  assert.deepEqual(recordOverlays(distance, tasks, cephLandmarks), {
    boxes: [],
    points: [{ x: 40, y: 100, label: 'sella' }, { x: 300, y: 90, label: 'nasion' }],
    lines: [{ x0: 40, y0: 100, x1: 300, y1: 90, label: 'sella - nasion' }],
  });
  const a = recordOverlays(angle, tasks, cephLandmarks);
  assert.deepEqual(a.lines, [
    { x0: 40, y0: 100, x1: 300, y1: 90, label: 'sella - nasion' },
    { x0: 280, y0: 210, x1: 20, y1: 200, label: 'orbitale - porion' },
  ]);
  assert.deepEqual(a.points.map((p) => p.label), ['sella', 'nasion', 'orbitale', 'porion']);
  assert.deepEqual(recordOverlays(tumour, tasks, tumourLandmarks), {
    boxes: [],
    points: [],
    lines: [{ x0: 30, y0: 10, x1: 34, y1: 50, label: 'major' }, { x0: 20, y0: 28, x1: 44, y1: 32, label: 'minor' }],
  });
  assert.deepEqual(recordOverlays(generic, undefined, undefined), {
    boxes: [{ x0: 10, y0: 20, x1: 60, y1: 80, label: 'lesion' }],
    points: [{ x: 5, y: 7, label: 'P1' }],
    lines: [{ x0: 0, y0: 0, x1: 9, y1: 9, label: '' }],
  });
  assert.deepEqual([box, tumour, distance, angle, generic].map((r) => detectKind(r)), ['detection', 'tumor_lesion', 'angle_distance', 'angle_distance', 'generic']);
});

test('records that cannot be drawn say why', () => {
  assert.throws(() => recordOverlays({ dataset_name: 'X' }, tasks, undefined), /cannot tell the task kind/);
  assert.throws(() => recordOverlays({ ...box, dataset_name: 'Other' }, tasks, undefined), /no task metadata for "Other\/detection\/01" or "Other\/01"/);
  assert.throws(() => recordOverlays({ ...box, label: 7 }, tasks, undefined), /label 7 is not in the task's labels_map \(2\)/);
  assert.throws(() => recordOverlays({ ...distance, slice_idx: 3 }, tasks, cephLandmarks), /no landmarks for slice 3 along dimension 0/);
  assert.throws(() => recordOverlays(distance, tasks, { slice_landmarks_z: [] }), /no "slice_landmarks_x" list/);
  assert.throws(() => recordOverlays(box, undefined, undefined), /needs task metadata/);
  assert.throws(() => recordOverlays({ ...generic, overlays: { boxes: [{ x0: 'a' }] } }, undefined, undefined), /overlays\.boxes\[0\] needs numbers x0, y0, x1, y1/);
});

test('the preview CLI prints one line per record, errors in place, and resolves landmark files beside the records', (t) => {
  const dir = tempDir(t);
  mkdirSync(path.join(dir, 'Landmarks'));
  writeFileSync(path.join(dir, 'Landmarks', 'ceph.json.gz'), gzipSync(JSON.stringify(cephLandmarks)));
  writeFileSync(path.join(dir, 'Landmarks', 'tumour.json'), JSON.stringify(tumourLandmarks));
  writeFileSync(path.join(dir, 'tasks.json'), JSON.stringify(tasks));
  const lines = [JSON.stringify(box), '{"broken": ', '', JSON.stringify(tumour), JSON.stringify({ ...distance, slice_idx: 9 }), JSON.stringify(angle)];
  writeFileSync(path.join(dir, 'records.jsonl'), lines.join('\n'));
  const cli = (...args: string[]) => spawnSync(process.execPath, [path.join(repoRoot, 'scripts/previewCli.mjs'), 'overlays', ...args], { encoding: 'utf8' });
  const all = cli('--records', path.join(dir, 'records.jsonl'), '--tasks', path.join(dir, 'tasks.json'));
  assert.equal(all.status, 1, 'a record that cannot be drawn makes the status 1');
  const out = all.stdout.trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
  assert.equal(out.length, 5, 'one line per record; blank lines are no records');
  assert.deepEqual(out[0], recordOverlays(box, tasks, undefined));
  assert.equal(out[1]?.line, 2);
  assert.match(String(out[1]?.error), /line 2 is not valid JSON/);
  assert.deepEqual(out[2], recordOverlays(tumour, tasks, tumourLandmarks));
  assert.deepEqual([out[3]?.index, out[3]?.line], [3, 5]);
  assert.match(String(out[3]?.error), /no landmarks for slice 9/);
  assert.deepEqual(out[4], recordOverlays(angle, tasks, cephLandmarks));
  const one = cli('--records', path.join(dir, 'records.jsonl'), '--tasks', path.join(dir, 'tasks.json'), '--index', '2');
  assert.equal(one.status, 0, one.stderr);
  assert.deepEqual(JSON.parse(one.stdout), recordOverlays(tumour, tasks, tumourLandmarks));
  const none = cli('--records', path.join(dir, 'records.jsonl'), '--index', '9');
  assert.equal(none.status, 1);
  assert.match(none.stderr, /records\.jsonl: there is no record 9 \(it holds 5\)/);
  const parquet = cli('--records', path.join(dir, 'records.parquet'));
  assert.match(parquet.stderr, /\.parquet records are read through the trainer/);
});
