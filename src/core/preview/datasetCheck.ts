// "Check dataset" (Node, no `vscode`): every record of a records file against its images, task
// metadata and landmark files, before an hour of training finds out. Each volume is streamed
// once (its gzip checked to the end, only its header kept), so memory stays flat on large
// datasets. Problems name the record's line and say what to change.

import { existsSync } from 'node:fs';
import type { NiftiSummary } from '../niftiFile';
import { inspectNiftiFile } from '../niftiFile';
import { NiftiError } from '../../shared/nifti/header';
import type { TaskKind } from '../../shared/preview/overlays';
import { detectKind, lookupTask, OverlayError, recordOverlays, sliceLandmarks } from '../../shared/preview/overlays';
import type { TrainerRunner } from './recordsFile';
import { readJsonFile, readRecords, RecordsError, resolveFromRecords } from './recordsFile';

export interface DatasetProblem {
  readonly index: number;
  /** 1-based line in a .jsonl file; 0 when unknown (a .json array). */
  readonly line: number;
  readonly severity: 'error' | 'warning';
  readonly message: string;
}

export interface DatasetCheck {
  readonly records: number;
  readonly volumes: number;
  readonly problems: readonly DatasetProblem[];
}

type Json = Record<string, unknown>;

export interface CheckOptions {
  readonly recordsFile: string;
  readonly tasksFile?: string;
  /** The trainer, when ready: .parquet records are read through it. */
  readonly runner?: TrainerRunner;
  /** Called after each record with (done, total); return false to stop early. */
  readonly progress?: (done: number, total: number) => boolean | void;
}

export async function checkDataset(options: CheckOptions): Promise<DatasetCheck> {
  const entries = await readRecords(options.recordsFile, options.runner);
  let tasks: Json | undefined;
  if (options.tasksFile !== undefined) {
    const parsed = await readJsonFile(options.tasksFile, 'task metadata');
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw new RecordsError(`${options.tasksFile}: the task metadata must be an object`);
    tasks = parsed as Json;
  }
  const volumes = new Map<string, Promise<NiftiSummary | NiftiError>>();
  const landmarkFiles = new Map<string, Promise<unknown>>();
  const problems: DatasetProblem[] = [];
  let done = 0;
  for (const entry of entries) {
    const say = (severity: DatasetProblem['severity'], message: string) => problems.push({ index: entry.index, line: entry.line, severity, message });
    if ('error' in entry) {
      say('error', entry.error);
    } else {
      await checkRecord(entry.record, options, tasks, volumes, landmarkFiles, say);
    }
    done += 1;
    if (options.progress?.(done, entries.length) === false) break;
  }
  return { records: entries.length, volumes: volumes.size, problems };
}

async function checkRecord(
  record: Json,
  options: CheckOptions,
  tasks: Json | undefined,
  volumes: Map<string, Promise<NiftiSummary | NiftiError>>,
  landmarkFiles: Map<string, Promise<unknown>>,
  say: (severity: DatasetProblem['severity'], message: string) => void,
): Promise<void> {
  let kind: TaskKind;
  try {
    kind = detectKind(record);
  } catch (err) {
    say('error', (err as Error).message);
    return;
  }
  if (kind !== 'generic' && kind !== 'tumor_lesion') {
    if (tasks === undefined) {
      say('error', `a ${kind} record needs task metadata: put a tasks.json beside the records or name one`);
    } else {
      try {
        lookupTask(tasks, record, kind);
      } catch (err) {
        say('error', (err as Error).message);
      }
    }
  }
  const image = kind === 'generic' ? (record.image ?? record.image_file) : (record.image_file ?? record.image);
  if (typeof image !== 'string' || image === '') {
    say('error', 'the record names no image (`image_file`, or `image` for a generic record)');
    return;
  }
  const file = resolveFromRecords(options.recordsFile, image);
  if (!existsSync(file)) {
    say('error', `image file not found: ${file}`);
    return;
  }
  if (!/\.nii(\.gz)?$/i.test(image)) return;
  let volume = volumes.get(file);
  if (volume === undefined) {
    volume = inspectNiftiFile(file).catch((err: unknown) => {
      if (err instanceof NiftiError) return err;
      throw err;
    });
    volumes.set(file, volume);
  }
  const summary = await volume;
  if (summary instanceof NiftiError) {
    say('error', summary.message);
    return;
  }
  const sliceDim = record.slice_dim;
  const sliceIdx = record.slice_idx;
  if (sliceDim !== 0 && sliceDim !== 1 && sliceDim !== 2) {
    say('error', `slice_dim must be 0, 1 or 2, not ${JSON.stringify(sliceDim)}`);
    return;
  }
  const size = summary.shape[sliceDim];
  if (typeof sliceIdx !== 'number' || !Number.isInteger(sliceIdx) || sliceIdx < 0 || sliceIdx >= size) {
    say('error', `slice_idx ${JSON.stringify(sliceIdx)} is outside 0..${size - 1} along dimension ${sliceDim} of ${image} (shape ${summary.shape.join(' x ')})`);
    return;
  }
  const [height, width] = summary.shape.filter((_, axis) => axis !== sliceDim) as [number, number];
  const stated = record.image_size_2d;
  if (Array.isArray(stated) && (stated[0] !== height || stated[1] !== width)) {
    say('warning', `image_size_2d is [${stated.join(', ')}] but the slice is [${height}, ${width}]: detection targets are normalised by image_size_2d`);
  }
  let landmarks: unknown;
  if (typeof record.landmark_file === 'string') {
    const landmarkFile = resolveFromRecords(options.recordsFile, record.landmark_file);
    let parsed = landmarkFiles.get(landmarkFile);
    if (parsed === undefined) {
      parsed = readJsonFile(landmarkFile, 'landmark file').catch((err: unknown) => err);
      landmarkFiles.set(landmarkFile, parsed);
    }
    landmarks = await parsed;
    if (landmarks instanceof Error) {
      say('error', landmarks.message);
      return;
    }
  }
  let overlays;
  try {
    overlays = recordOverlays(record, tasks ?? {}, landmarks);
  } catch (err) {
    if (!(err instanceof OverlayError)) throw err;
    // Missing metadata is reported above already; anything else is the overlay's own problem.
    if (!/task metadata/.test(err.message)) say('error', err.message);
    return;
  }
  const inside = (x: number, y: number) => x >= 0 && y >= 0 && x <= width - 1 && y <= height - 1;
  for (const box of overlays.boxes) {
    if (!inside(box.x0, box.y0) || !inside(box.x1, box.y1)) {
      say('error', `the box [${box.y0}, ${box.x0}]-[${box.y1}, ${box.x1}] (row, column) reaches outside the ${height} x ${width} slice`);
    } else if (box.x1 < box.x0 || box.y1 < box.y0) {
      say('error', `the box's max_coords [${box.y1}, ${box.x1}] come before its min_coords [${box.y0}, ${box.x0}]`);
    }
  }
  for (const point of [...overlays.points, ...overlays.lines.flatMap((l) => [{ x: l.x0, y: l.y0, label: l.label }, { x: l.x1, y: l.y1, label: l.label }])]) {
    if (!inside(point.x, point.y)) say('error', `landmark ${point.label} at (row ${point.y}, column ${point.x}) is outside the ${height} x ${width} slice`);
  }
  if (landmarks !== undefined) offSlice(kind, landmarks, sliceDim, sliceIdx, say);
}

/** Landmarks whose own coordinate along slice_dim is not the shown slice (a 3D measurement). */
function offSlice(kind: TaskKind, landmarks: unknown, sliceDim: number, sliceIdx: number, say: (severity: 'warning', message: string) => void): void {
  let points: unknown;
  try {
    points = sliceLandmarks(landmarks, sliceDim, sliceIdx);
  } catch {
    return;
  }
  const named = (kind === 'tumor_lesion' && Array.isArray(points) ? points[0] : points) as Json | undefined;
  if (typeof named !== 'object' || named === null) return;
  const off = Object.entries(named)
    .filter(([key, p]) => /^P\d+$/.test(key) && Array.isArray(p) && typeof p[sliceDim] === 'number' && p[sliceDim] !== sliceIdx)
    .map(([key, p]) => `${key} (on slice ${String((p as number[])[sliceDim])})`);
  if (off.length > 0) {
    say('warning', `landmarks off the shown slice ${sliceIdx}: ${off.join(', ')}; the drawn positions are their projections and the 2D lengths differ from the 3D values`);
  }
}
