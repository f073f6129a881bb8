// What the sample preview draws over a slice, computed from a record, its task metadata and
// its landmark file, as `notes/dataset-format.md` defines them. Pure (no DOM, no Node): the
// preview panel and the headless preview CLI use the same code.
//
// Coordinates are pixel centres of the stored slice: pixel row r, column c has its centre at
// x = c, y = r (origin top-left). A detection box is the record's inclusive min/max corners;
// landmark points drop their `slice_dim` component; a distance is one line, an angle two, a
// tumour/lesion its major (P1-P2) and minor (P3-P4) axes.

export type TaskKind = 'detection' | 'tumor_lesion' | 'angle_distance' | 'generic';

export interface OverlayBox {
  readonly x0: number;
  readonly y0: number;
  readonly x1: number;
  readonly y1: number;
  readonly label: string;
}
export interface OverlayPoint {
  readonly x: number;
  readonly y: number;
  readonly label: string;
}
export interface OverlayLine {
  readonly x0: number;
  readonly y0: number;
  readonly x1: number;
  readonly y1: number;
  readonly label: string;
}
export interface Overlays {
  readonly boxes: OverlayBox[];
  readonly points: OverlayPoint[];
  readonly lines: OverlayLine[];
}

/** A record that cannot be drawn, with what to change. */
export class OverlayError extends Error {
  override readonly name = 'OverlayError';
}

type Json = Record<string, unknown>;

const isObject = (value: unknown): value is Json => typeof value === 'object' && value !== null && !Array.isArray(value);
const isNumber = (value: unknown): value is number => typeof value === 'number' && Number.isFinite(value);

/** A HF `Sequence` of dicts as a dict of lists, whichever way the file stored it. */
export function columnar(value: unknown): unknown {
  if (Array.isArray(value) && value.length > 0 && value.every(isObject)) {
    const keys = Object.keys(value[0] as Json);
    return Object.fromEntries(keys.map((key) => [key, value.map((v) => (v as Json)[key])]));
  }
  return value;
}

/** The first element of a length-1 list (a `Sequence` field), or the value itself. */
export const first = (value: unknown): unknown => (Array.isArray(value) ? value[0] : value);

/** The task kind, decided in the normative order: boxes, T/L axes, A/D metric, messages. */
export function detectKind(record: Json): TaskKind {
  if (record.bounding_boxes !== undefined && record.bounding_boxes !== null) return 'detection';
  const profile = columnar(record.biometric_profile);
  if (isObject(profile)) {
    if (profile.metric_value_major_axis !== undefined && profile.metric_value_major_axis !== null) return 'tumor_lesion';
    if ((profile.metric_type === 'distance' || profile.metric_type === 'angle') && isNumber(profile.metric_value)) return 'angle_distance';
  }
  if (record.messages !== undefined && record.messages !== null) return 'generic';
  throw new OverlayError(
    'cannot tell the task kind of this record: a MedVision record needs `bounding_boxes`, `biometric_profile.metric_value_major_axis` or `biometric_profile.metric_type` distance|angle with a number `metric_value`; a generic record needs `messages`',
  );
}

/** The task metadata entry of a MedVision record: kind-qualified key first, then the plain key. */
export function lookupTask(tasks: Json, record: Json, kind: TaskKind): Json {
  const dataset = record.dataset_name;
  const taskId = record.taskID;
  if (typeof dataset !== 'string' || typeof taskId !== 'string') throw new OverlayError('`dataset_name` and `taskID` must be strings (MedVision task ids are strings such as "01")');
  const keys = [`${dataset}/${kind}/${taskId}`, `${dataset}/${taskId}`];
  for (const key of keys) {
    const entry = tasks[key];
    if (isObject(entry)) return entry;
  }
  throw new OverlayError(`no task metadata for "${keys[0]}" or "${keys[1]}": add one of these keys to the tasks file`);
}

/** The landmark file's entry for the record's slice: `slice_landmarks_{x,y,z}` by `slice_dim`. */
export function sliceLandmarks(landmarks: unknown, sliceDim: number, sliceIdx: number): unknown {
  const axis = ['x', 'y', 'z'][sliceDim];
  const entries = isObject(landmarks) ? landmarks[`slice_landmarks_${axis ?? '?'}`] : undefined;
  if (!Array.isArray(entries)) throw new OverlayError(`the landmark file has no "slice_landmarks_${axis ?? '?'}" list for slice dimension ${sliceDim}`);
  const entry = entries.find((e) => isObject(e) && e.slice_idx === sliceIdx);
  if (!isObject(entry)) throw new OverlayError(`the landmark file has no landmarks for slice ${sliceIdx} along dimension ${sliceDim}`);
  return entry.landmarks;
}

/** A 3D voxel index [i, j, k] as (x, y) on the slice: drop `sliceDim`, then (row, col) -> (col, row). */
export function pointOnSlice(point: unknown, sliceDim: number, name: string): { x: number; y: number } {
  if (!Array.isArray(point) || point.length !== 3 || !point.every(isNumber)) {
    throw new OverlayError(`landmark ${name} is not three voxel indices: ${JSON.stringify(point)}`);
  }
  const [row, col] = (point as number[]).filter((_, axis) => axis !== sliceDim) as [number, number];
  return { x: col, y: row };
}

function sliceDimOf(record: Json): number {
  const dim = record.slice_dim;
  if (dim !== 0 && dim !== 1 && dim !== 2) throw new OverlayError(`slice_dim must be 0, 1 or 2, not ${JSON.stringify(dim)}`);
  return dim;
}

/** `labels_map[str(label)]` of the task metadata, as detection and tumour/lesion records name their label. */
export function labelName(entry: Json, record: Json): string {
  const labels = entry.labels_map;
  if (!isObject(labels)) throw new OverlayError('the task metadata has no `labels_map`: add it to its tasks.json entry');
  const name = labels[String(record.label)];
  if (name === undefined || name === null) {
    throw new OverlayError(`label ${JSON.stringify(record.label)} is not in the task's labels_map (${Object.keys(labels).join(', ') || 'empty'}): fix the record's label or add it to tasks.json`);
  }
  return String(name);
}

function detection(record: Json, entry: Json): Overlays {
  const boxes = columnar(record.bounding_boxes);
  const min = isObject(boxes) ? first(boxes.min_coords) : undefined;
  const max = isObject(boxes) ? first(boxes.max_coords) : undefined;
  const pair = (v: unknown): v is [number, number] => Array.isArray(v) && v.length === 2 && v.every(isNumber);
  if (!pair(min) || !pair(max)) throw new OverlayError('a detection record needs `bounding_boxes` with `min_coords` [[r0, c0]] and `max_coords` [[r1, c1]]');
  const [r0, c0] = min;
  const [r1, c1] = max;
  return { boxes: [{ x0: c0, y0: r0, x1: c1, y1: r1, label: labelName(entry, record) }], points: [], lines: [] };
}

function angleDistance(record: Json, entry: Json, landmarks: unknown): Overlays {
  const profile = columnar(record.biometric_profile) as Json;
  const sliceDim = sliceDimOf(record);
  const points = sliceLandmarks(landmarks, sliceDim, record.slice_idx as number);
  if (!isObject(points)) throw new OverlayError('the landmark entry for this slice is not an object of named points');
  const metricType = profile.metric_type;
  const mapName = typeof profile.metric_map_name === 'string' ? profile.metric_map_name : metricType === 'distance' ? 'lines_map' : 'angles_map';
  const key = String(profile.metric_key);
  const map = entry[mapName];
  const item = isObject(map) ? map[key] : undefined;
  if (!isObject(item)) throw new OverlayError(`the task metadata has no ${mapName} entry "${key}"`);
  const names = (line: Json): [string, string] => {
    const namesMap = entry[typeof line.element_map_name === 'string' ? line.element_map_name : 'landmarks_map'];
    const keys = line.element_keys;
    if (!isObject(namesMap) || !Array.isArray(keys) || keys.length !== 2) throw new OverlayError(`the task metadata's line ${JSON.stringify(line)} needs two element_keys and a landmarks_map`);
    return [String(keys[0]), String(keys[1])].map((k) => {
      if (namesMap[k] === undefined) throw new OverlayError(`landmark ${k} is not in the task's landmarks_map`);
      return k;
    }) as [string, string];
  };
  let segments: Array<[string, string]>;
  if (metricType === 'distance') {
    segments = [names(item)];
  } else {
    const lines = entry[typeof item.element_map_name === 'string' ? item.element_map_name : 'lines_map'];
    const keys = item.element_keys;
    if (!isObject(lines) || !Array.isArray(keys) || keys.length !== 2) throw new OverlayError(`the task metadata's angle "${key}" needs two element_keys of lines_map`);
    segments = keys.map((k) => {
      const line = lines[String(k)];
      if (!isObject(line)) throw new OverlayError(`the task metadata has no lines_map entry "${String(k)}"`);
      return names(line);
    });
  }
  const landmarkNames = (entry.landmarks_map ?? {}) as Json;
  const nameOf = (k: string): string => String(landmarkNames[k] ?? k);
  const at = (k: string) => {
    if (points[k] === undefined) throw new OverlayError(`the landmark file has no point ${k} on slice ${String(record.slice_idx)}`);
    return pointOnSlice(points[k], sliceDim, k);
  };
  const seen = new Set<string>();
  const out: Overlays = { boxes: [], points: [], lines: [] };
  for (const [a, b] of segments) {
    for (const k of [a, b]) {
      if (!seen.has(k)) {
        seen.add(k);
        out.points.push({ ...at(k), label: nameOf(k) });
      }
    }
    const p = at(a);
    const q = at(b);
    out.lines.push({ x0: p.x, y0: p.y, x1: q.x, y1: q.y, label: `${nameOf(a)} - ${nameOf(b)}` });
  }
  return out;
}

function tumorLesion(record: Json, landmarks: unknown): Overlays {
  const sliceDim = sliceDimOf(record);
  const entries = sliceLandmarks(landmarks, sliceDim, record.slice_idx as number);
  const ellipse = Array.isArray(entries) ? entries[0] : undefined;
  if (!isObject(ellipse)) throw new OverlayError('the landmark entry for this slice holds no ellipse (a list whose first item has P1-P4)');
  const line = (a: string, b: string, label: string): OverlayLine => {
    const p = pointOnSlice(ellipse[a], sliceDim, a);
    const q = pointOnSlice(ellipse[b], sliceDim, b);
    return { x0: p.x, y0: p.y, x1: q.x, y1: q.y, label };
  };
  return { boxes: [], points: [], lines: [line('P1', 'P2', 'major'), line('P3', 'P4', 'minor')] };
}

function generic(record: Json): Overlays {
  const overlays = record.overlays;
  if (overlays === undefined || overlays === null) return { boxes: [], points: [], lines: [] };
  if (!isObject(overlays)) throw new OverlayError('`overlays` must be an object with boxes, points and lines');
  const list = (name: string, fields: readonly string[]): Array<Record<string, number | string>> => {
    const items = overlays[name] ?? [];
    if (!Array.isArray(items)) throw new OverlayError(`overlays.${name} must be a list`);
    return items.map((item, i) => {
      if (!isObject(item) || !fields.every((f) => isNumber(item[f]))) throw new OverlayError(`overlays.${name}[${i}] needs numbers ${fields.join(', ')}`);
      return { ...Object.fromEntries(fields.map((f) => [f, item[f] as number])), label: typeof item.label === 'string' ? item.label : '' };
    });
  };
  return {
    boxes: list('boxes', ['x0', 'y0', 'x1', 'y1']) as unknown as OverlayBox[],
    points: list('points', ['x', 'y']) as unknown as OverlayPoint[],
    lines: list('lines', ['x0', 'y0', 'x1', 'y1']) as unknown as OverlayLine[],
  };
}

/**
 * The overlays of one record. `tasks` is the parsed tasks file (MedVision kinds need it);
 * `landmarks` the parsed landmark file (angle/distance and tumour/lesion need it).
 */
export function recordOverlays(record: Json, tasks: Json | undefined, landmarks: unknown): Overlays {
  const kind = detectKind(record);
  if (kind === 'generic') return generic(record);
  if (kind === 'tumor_lesion') return tumorLesion(record, landmarks);
  if (tasks === undefined) throw new OverlayError(`this ${kind} record needs task metadata: pass the tasks file`);
  const entry = lookupTask(tasks, record, kind);
  return kind === 'detection' ? detection(record, entry) : angleDistance(record, entry, landmarks);
}
