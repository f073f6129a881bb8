// The sample preview's data, host side (Node, no `vscode`): a records file's records, one
// sample at a time as the trainer sees it (the NIfTI slice scaled per slice to 0-255 the way
// the reference does it, in float32, truncated), its overlays and their measurements, and the
// exact prompts and targets from the trainer's own `format` command. Volumes are decoded once
// and kept while recent (a few at most), since neighbouring records share them.

import { readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { NiftiError } from '../../shared/nifti/header';
import { measureOverlays } from '../../shared/preview/measure';
import type { Overlays, TaskKind } from '../../shared/preview/overlays';
import { columnar, detectKind, lookupTask, OverlayError, recordOverlays } from '../../shared/preview/overlays';
import type { FormattedText } from '../../shared/preview/formatting';
import { FormatError, formatRecord } from '../../shared/preview/formatting';
import type { ImageNormalization, RecordItem, SampleImage, SamplePayload, SamplePicture } from '../../shared/protocol/samplePreview';
import { normalisedGrey } from './greyLevels';
import type { ChatMessages } from './chatTemplate';
import type { SampleSettings } from './sampleSettings';
import { PICTURE_TYPES } from '../../shared/protocol/samplePreview';
import { StreamingNifti } from '../niftiStream';
import type { RecordEntry, TrainerRunner } from './recordsFile';
import { readJsonFile, readRecords, RecordsError, resolveFromRecords, trainerJsonLines } from './recordsFile';

/** Decoded volumes kept: neighbouring records mostly share one. */
const VOLUME_CACHE = 3;

export interface SampleSourceOptions {
  readonly recordsFile: string;
  /** The task metadata file; MedVision records need it for labels and landmark names. */
  readonly tasksFile?: string;
  /** The trainer, when ready: .parquet records are read through it. */
  readonly runner?: TrainerRunner;
}

export type { TrainerRunner };

type Json = Record<string, unknown>;

/**
 * The per-slice min-max to uint8 of the reference (`((x - min) / (max - min) * 255)
 * .astype(uint8)` on float32 values): each step rounded to float32 as numpy does, then
 * truncated. A constant slice is black; NaN voxels become 0.
 */
export function toGrey(values: Float64Array | Float32Array): { pixels: Uint8Array; min: number; max: number } {
  const f = Math.fround;
  // The slice in float32, as the trainer holds it; lo and hi are then float32 values too.
  const x = values instanceof Float32Array ? values : Float32Array.from(values);
  let lo = Number.POSITIVE_INFINITY;
  let hi = Number.NEGATIVE_INFINITY;
  for (let i = 0; i < x.length; i++) {
    const v = x[i] as number;
    if (v < lo) lo = v;
    if (v > hi) hi = v;
  }
  const pixels = new Uint8Array(x.length);
  if (hi > lo) {
    const range = f(hi - lo);
    for (let i = 0; i < x.length; i++) {
      const level = Math.trunc(f(f(f((x[i] as number) - lo) / range) * 255));
      pixels[i] = level >= 0 && level <= 255 ? level : 0;
    }
  }
  return { pixels, min: lo <= hi ? lo : 0, max: lo <= hi ? hi : 0 };
}

/** Pictures larger than this are not sent to the page. */
const MAX_PICTURE_BYTES = 64 * 1024 * 1024;

async function readPicture(file: string, mime: SamplePicture['mime']): Promise<SamplePicture> {
  let bytes: Buffer;
  try {
    const info = await stat(file);
    if (info.size > MAX_PICTURE_BYTES) throw new RecordsError(`${file}: ${info.size} bytes, more than the ${MAX_PICTURE_BYTES} a preview shows`);
    bytes = await readFile(file);
  } catch (err) {
    if (err instanceof RecordsError) throw err;
    throw new RecordsError(`${file}: cannot read it (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
  }
  // A plain Uint8Array: the webview's message serializer passes typed arrays by their exact
  // constructor, and a Node Buffer is not one it knows.
  return { bytes: new Uint8Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength)), mime };
}

/** A volume's slice as the panels show it: the trainer's grey levels, the raw values, spacing. */
export async function sliceImage(volume: StreamingNifti, dim: number, index: number, image?: ImageNormalization): Promise<SampleImage> {
  const header = await volume.header;
  const slice = await volume.slice32(dim, index);
  const values = slice.values;
  const grey = toGrey(values);
  const { min, max } = grey;
  // The run config's window, where it sets one (the trainer falls back to min-max where the
  // percentiles of a slice carry no contrast).
  const windowed = image !== undefined ? normalisedGrey(values, image) : undefined;
  const pixels = windowed ?? grey.pixels;
  const inPlane = [0, 1, 2].filter((axis) => axis !== dim);
  const spacing = inPlane.map((axis) => Math.fround(header.pixdim[axis] ?? 1)) as [number, number];
  const normalization = windowed !== undefined && image !== undefined && image.mode !== 'minmax' ? { normalization: image.label } : {};
  return { width: slice.shape[1], height: slice.shape[0], pixels, values, min, max, spacing, ...normalization };
}

export class SampleSource {
  private readonly volumes = new Map<string, Promise<StreamingNifti>>();
  /** Each record's split in a run config, once loadSplits() has asked the trainer. */
  private splits: ReadonlyMap<number, string> | undefined;
  private readonly landmarks = new Map<string, Promise<unknown>>();

  private constructor(
    readonly options: SampleSourceOptions,
    readonly entries: readonly RecordEntry[],
    private readonly tasks: Json | undefined,
  ) {}

  static async open(options: SampleSourceOptions): Promise<SampleSource> {
    const entries = await readRecords(options.recordsFile, options.runner);
    let tasks: Json | undefined;
    if (options.tasksFile !== undefined) {
      const parsed = await readJsonFile(options.tasksFile, 'task metadata');
      if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
        throw new RecordsError(`${options.tasksFile}: the task metadata must be an object keyed by "{dataset_name}/{kind}/{taskID}" or "{dataset_name}/{taskID}"`);
      }
      tasks = parsed as Json;
    }
    return new SampleSource(options, entries, tasks);
  }

  /** The list the panel shows: kind, dataset and a detail per record, or its error. */
  items(): RecordItem[] {
    return this.entries.map((entry) => {
      if ('error' in entry) return { index: entry.index, line: entry.line, error: entry.error };
      const record = entry.record;
      try {
        const kind = detectKind(record);
        const split = this.splits?.get(entry.index);
        return { index: entry.index, line: entry.line, kind, ...describe(record, kind, this.tasks), ...(split !== undefined ? { split } : {}) };
      } catch (err) {
        return { index: entry.index, line: entry.line, error: (err as Error).message };
      }
    });
  }

  /**
   * One sample: its slice, overlays and measurements; what fails is said, the rest shown.
   * With `sliceOverride`, another slice of the record's volume, without the overlays.
   */
  async sample(index: number, sliceOverride?: number, settings?: SampleSettings): Promise<SamplePayload> {
    const entry = this.entries[index];
    if (entry === undefined) throw new RecordsError(`there is no record ${index} (the file holds ${this.entries.length})`);
    const where = entry.line > 0 ? `line ${entry.line}` : `record ${index}`;
    if ('error' in entry) return { index, caption: where, measurements: [], problems: [entry.error] };
    const record = entry.record;
    const problems: string[] = [];
    let kind: TaskKind | undefined;
    try {
      kind = detectKind(record);
    } catch (err) {
      problems.push((err as Error).message);
    }
    const imageField = kind === 'generic' ? (record.image ?? record.image_file) : (record.image_file ?? record.image);
    const sliceDim = record.slice_dim;
    const sliceIdx = sliceOverride ?? record.slice_idx;
    const own = sliceIdx === record.slice_idx;
    const caption = [where, typeof imageField === 'string' ? imageField : undefined, typeof sliceDim === 'number' ? `slice ${String(sliceIdx)} along dimension ${sliceDim}` : undefined]
      .filter((part) => part !== undefined)
      .join(' · ');
    let image: SampleImage | undefined;
    let picture: SamplePicture | undefined;
    let slice: SamplePayload['slice'];
    const pictureType = typeof imageField === 'string' ? PICTURE_TYPES[path.extname(imageField).toLowerCase()] : undefined;
    if (typeof imageField !== 'string' || imageField === '') {
      problems.push('the record names no image (`image_file`, or `image` for a generic record)');
    } else if (pictureType !== undefined) {
      try {
        picture = await readPicture(resolveFromRecords(this.options.recordsFile, imageField), pictureType);
      } catch (err) {
        if (!(err instanceof RecordsError)) throw err;
        problems.push(err.message);
      }
    } else if (!/\.nii(\.gz)?$/i.test(imageField)) {
      problems.push(`${imageField}: only NIfTI volumes (.nii, .nii.gz) and PNG or JPEG pictures are previewed`);
    } else {
      try {
        ({ image, slice } = await this.slice(resolveFromRecords(this.options.recordsFile, imageField), sliceDim, sliceIdx, record.slice_idx, settings?.image));
      } catch (err) {
        if (!(err instanceof NiftiError)) throw err;
        problems.push(err.message);
      }
    }
    let overlays: Overlays | undefined;
    if (kind !== undefined && (own || picture !== undefined)) {
      try {
        overlays = recordOverlays(record, this.tasks, await this.landmarkFile(record));
      } catch (err) {
        if (!(err instanceof OverlayError || err instanceof RecordsError)) throw err;
        problems.push(err.message);
      }
    }
    const measurements = kind !== undefined && overlays !== undefined && image?.spacing !== undefined ? measureOverlays(record, kind, overlays, image.spacing) : [];
    let texts: Pick<SamplePayload, 'text' | 'textProblem' | 'resize'> = {};
    if (settings !== undefined && kind !== undefined) {
      texts = { resize: settings.rule };
      try {
        // The pixel-size line needs the header's spacing and the slice's shape; a picture has neither.
        const geometry = image?.spacing !== undefined ? { spacingHw: image.spacing, shapeHw: [image.height, image.width] as const } : undefined;
        if (geometry === undefined && kind !== 'generic' && kind !== 'detection') throw new FormatError('the pixel-size line needs the NIfTI slice, which cannot be read');
        texts = { ...texts, text: formatRecord(kind, record, this.tasks, geometry ?? { spacingHw: [1, 1], shapeHw: [1, 1] }, settings.rule, settings.options) };
      } catch (err) {
        if (!(err instanceof FormatError || err instanceof OverlayError)) throw err;
        texts = { ...texts, textProblem: err.message };
      }
    }
    return {
      index,
      caption,
      ...texts,
      ...(image !== undefined ? { image } : {}),
      ...(picture !== undefined ? { picture } : {}),
      ...(slice !== undefined ? { slice } : {}),
      ...(overlays !== undefined ? { overlays } : {}),
      measurements,
      problems,
    };
  }

  /**
   * Which split each record lands in under a run config whose `data.sources[source]` is this
   * file, by the trainer's own split (`medvlm_sft split`). Returns why not, when it cannot.
   */
  async loadSplits(config: string, source: number, runner: TrainerRunner): Promise<string | undefined> {
    const result = await trainerJsonLines<{ source: number; index: number; split: string }>(runner, ['split', config], 300_000);
    if (result.exitCode !== 0) return result.reason;
    const splits = new Map<number, string>();
    for (const line of result.lines) if (line.source === source) splits.set(line.index, line.split);
    this.splits = splits;
    return undefined;
  }

  /**
   * The chat messages the trainer builds for a record from its text: the user turn (image,
   * prompt) and the answer; a generic record's own messages.
   */
  chatMessages(index: number, text: FormattedText): ChatMessages {
    const entry = this.entries[index];
    if (entry !== undefined && 'record' in entry && Array.isArray(entry.record.messages) && detectKindOrUndefined(entry.record) === 'generic') {
      return entry.record.messages as ChatMessages;
    }
    return [
      { role: 'user', content: [{ type: 'image' }, { type: 'text', text: text.prompt }] },
      { role: 'assistant', content: [{ type: 'text', text: text.target }] },
    ];
  }

  private async slice(file: string, sliceDim: unknown, sliceIdx: unknown, recordSlice: unknown, normalization?: ImageNormalization): Promise<{ image: SampleImage; slice: SamplePayload['slice'] }> {
    if (typeof sliceDim !== 'number' || typeof sliceIdx !== 'number') throw new NiftiError('the record needs `slice_dim` and `slice_idx` numbers');
    const volume = await this.volume(file);
    const shape = await volume.shape();
    return {
      image: await sliceImage(volume, sliceDim, sliceIdx, normalization),
      slice: { dim: sliceDim, index: sliceIdx, count: shape[sliceDim] ?? 1, record: typeof recordSlice === 'number' ? recordSlice : sliceIdx },
    };
  }

  private volume(file: string): Promise<StreamingNifti> {
    let volume = this.volumes.get(file);
    if (volume === undefined) {
      const started = StreamingNifti.start(file);
      volume = started;
      // A file that cannot be read is tried again next time (it may have been copied meanwhile).
      started.then((v) => v.done).catch(() => {
        if (this.volumes.get(file) === started) this.volumes.delete(file);
      });
      this.volumes.set(file, volume);
      while (this.volumes.size > VOLUME_CACHE) {
        const oldest = this.volumes.keys().next().value as string;
        const evicted = this.volumes.get(oldest);
        this.volumes.delete(oldest);
        void evicted?.then((v) => v.close(), () => undefined);
      }
    } else {
      // Most recently used last.
      this.volumes.delete(file);
      this.volumes.set(file, volume);
    }
    return volume;
  }

  private async landmarkFile(record: Json): Promise<unknown> {
    const name = record.landmark_file;
    if (typeof name !== 'string') return undefined;
    const file = resolveFromRecords(this.options.recordsFile, name);
    let landmarks = this.landmarks.get(file);
    if (landmarks === undefined) {
      const reading = readJsonFile(file, 'landmark file');
      landmarks = reading;
      this.landmarks.set(file, reading);
      // A file that cannot be read now is read again next time (it may have been fixed).
      reading.catch(() => {
        if (this.landmarks.get(file) === reading) this.landmarks.delete(file);
      });
    }
    return landmarks;
  }
}

/** The dataset and a short detail (label name, metric) for the record list. */
function detectKindOrUndefined(record: Json): TaskKind | undefined {
  try {
    return detectKind(record);
  } catch {
    return undefined;
  }
}

function describe(record: Json, kind: TaskKind, tasks: Json | undefined): { dataset?: string; detail?: string } {
  const dataset = typeof record.dataset_name === 'string' ? record.dataset_name : undefined;
  const profile = (columnar(record.biometric_profile) ?? {}) as Json;
  let detail: string | undefined;
  if (kind === 'detection' || kind === 'tumor_lesion') {
    let name: unknown;
    try {
      const labels = tasks === undefined ? undefined : lookupTask(tasks, record, kind).labels_map;
      name = typeof labels === 'object' && labels !== null ? (labels as Json)[String(record.label)] : undefined;
    } catch {
      // No metadata: the list names the label by its number (the sample says what is missing).
    }
    detail = name !== undefined ? String(name) : `label ${String(record.label)}`;
  } else if (kind === 'angle_distance') {
    detail = `${String(profile.metric_type)} ${String(profile.metric_key)}`;
  } else {
    detail = typeof record.image === 'string' ? path.basename(record.image) : undefined;
  }
  return { ...(dataset !== undefined ? { dataset } : {}), ...(detail !== undefined ? { detail } : {}) };
}
