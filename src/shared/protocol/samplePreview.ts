// Messages between the sample preview panel and the extension host. The host reads records,
// volumes and the trainer's prompts; the page lists records and draws one sample at a time.
// Every payload is checked on arrival (a records file is user data: text in it is shown,
// never interpreted).

import type { FormattedText, ResizeRule } from '../preview/formatting';
import type { Overlays } from '../preview/overlays';
import { defineMessage, isFiniteNumber, isObject, isString } from './message';

export type ModelFamily = 'qwen2_5_vl' | 'medgemma';
export const MODEL_FAMILIES: readonly ModelFamily[] = ['qwen2_5_vl', 'medgemma'];
export const FAMILY_LABELS: Readonly<Record<ModelFamily, string>> = { qwen2_5_vl: 'Qwen2.5-VL', medgemma: 'MedGemma' };

/** One row of the record list. */
export interface RecordItem {
  readonly index: number;
  /** 1-based line in a .jsonl file, 0 for a .json array. */
  readonly line: number;
  /** detection, tumor_lesion, angle_distance, generic; absent when the record is broken. */
  readonly kind?: string;
  readonly dataset?: string;
  /** Label name, task type or the like: what tells records of one dataset apart. */
  readonly detail?: string;
  /** train, val, unused or error, under the run config the preview was opened from. */
  readonly split?: string;
  readonly error?: string;
}

/** A measured line beside the value the record states. */
export interface Measurement {
  readonly label: string;
  /** Length on the slice in mm (in-plane spacing), or the angle in degrees. */
  readonly measured: number;
  readonly unit: string;
  /** The record's own value, when it states one. */
  readonly recorded?: number;
}

/** How a slice's values become the grey levels the model sees (the run config's `data.image`). */
export type ImageNormalization =
  | { readonly mode: 'minmax' }
  | { readonly mode: 'window'; readonly center: number; readonly width: number; readonly label: string }
  | { readonly mode: 'percentile'; readonly label: string };

export interface SampleImage {
  readonly width: number;
  readonly height: number;
  /** Row-major grey levels as the trainer makes them (per-slice min-max to 0-255, truncated, or `normalization`). */
  readonly pixels: Uint8Array;
  /** The run config's window the pixels were made with, when not the reference's min-max. */
  readonly normalization?: string;
  /** The same pixels' values after the header's scaling, as float32 (for window/level). */
  readonly values: Float32Array;
  /** Raw value range of the slice, after the header's scaling. */
  readonly min: number;
  readonly max: number;
  /** Spacing of rows and columns in mm, from the NIfTI header. */
  readonly spacing?: readonly [number, number];
}

/** The chat-templated conversation of the shown sample, from the model's own processor. */
export interface ChatPayload {
  readonly index: number;
  readonly family: ModelFamily;
  readonly text?: string;
  /** Where the trained answer starts in `text`. */
  readonly answerStart?: number;
  /** Why there is no templated turn (no run config, processor not available, trainer not ready). */
  readonly unavailable?: string;
}

/** A generic record's PNG or JPEG, as the file holds it (the page decodes it). */
export interface SamplePicture {
  readonly bytes: Uint8Array;
  readonly mime: 'image/png' | 'image/jpeg';
}

export const PICTURE_TYPES: Readonly<Record<string, SamplePicture['mime']>> = { '.png': 'image/png', '.jpg': 'image/jpeg', '.jpeg': 'image/jpeg' };

export interface SamplePayload {
  readonly index: number;
  /** What the header names: file, slice, task. */
  readonly caption: string;
  /** A NIfTI slice, or (for a generic record's picture) `picture`. */
  readonly image?: SampleImage;
  readonly picture?: SamplePicture;
  /** Where the shown slice lies in its volume; `record` is the record's own slice. */
  readonly slice?: { readonly dim: number; readonly index: number; readonly count: number; readonly record: number };
  /** Only on the record's own slice: overlays belong to it. */
  readonly overlays?: Overlays;
  readonly measurements: readonly Measurement[];
  /** Why the image or the overlays could not be shown (the rest still is). */
  readonly problems: readonly string[];
  /** The exact prompt and target the trainer builds for the panel's model family. */
  readonly text?: FormattedText;
  /** Why there is no text (missing metadata, a bad record). */
  readonly textProblem?: string;
  /** The model family's resize, for the model-input view and the image-token count. */
  readonly resize?: ResizeRule;
}

export interface InitPayload {
  readonly title: string;
  readonly records: readonly RecordItem[];
  readonly family: ModelFamily;
  /** Where the records came from, shown under the title. */
  readonly source: string;
  /** The record shown (kept by the host across reloads of the page), -1 for none. */
  readonly selected: number;
}

const isItem = (x: unknown): x is RecordItem =>
  isObject(x) && isFiniteNumber(x.index) && isFiniteNumber(x.line) && ['kind', 'dataset', 'detail', 'split', 'error'].every((k) => x[k] === undefined || isString(x[k]));

const isNumberList = (x: unknown, n: number): boolean => Array.isArray(x) && x.length === n && x.every(isFiniteNumber);

function isOverlays(x: unknown): x is Overlays {
  if (!isObject(x) || !Array.isArray(x.boxes) || !Array.isArray(x.points) || !Array.isArray(x.lines)) return false;
  const shaped = (items: unknown[], keys: string[]) => items.every((i) => isObject(i) && isString(i.label) && keys.every((k) => isFiniteNumber(i[k])));
  return shaped(x.boxes, ['x0', 'y0', 'x1', 'y1']) && shaped(x.points, ['x', 'y']) && shaped(x.lines, ['x0', 'y0', 'x1', 'y1']);
}

export function isSampleImage(x: unknown): x is SampleImage {
  return (
    isObject(x) &&
    Number.isInteger(x.width) &&
    Number.isInteger(x.height) &&
    (x.width as number) > 0 &&
    (x.height as number) > 0 &&
    x.pixels instanceof Uint8Array &&
    x.pixels.length === (x.width as number) * (x.height as number) &&
    x.values instanceof Float32Array &&
    x.values.length === x.pixels.length &&
    isFiniteNumber(x.min) &&
    isFiniteNumber(x.max) &&
    (x.spacing === undefined || isNumberList(x.spacing, 2)) &&
    (x.normalization === undefined || isString(x.normalization))
  );
}

const isMeasurement = (x: unknown): x is Measurement =>
  isObject(x) && isString(x.label) && isFiniteNumber(x.measured) && isString(x.unit) && (x.recorded === undefined || isFiniteNumber(x.recorded));

const isFamily = (x: unknown): x is ModelFamily => MODEL_FAMILIES.includes(x as ModelFamily);

function isResize(x: unknown): x is ResizeRule {
  if (!isObject(x) || !isFamily(x.family)) return false;
  const positive = (v: unknown) => v === undefined || (Number.isInteger(v) && (v as number) > 0);
  return positive(x.factor) && positive(x.minPixels) && positive(x.maxPixels) && (x.fixedHw === undefined || (isNumberList(x.fixedHw, 2) && (x.fixedHw as number[]).every((v) => positive(v))));
}

const isFormattedText = (x: unknown): x is FormattedText => isObject(x) && isString(x.prompt) && isString(x.target);

// Host -> page.
export const InitMessage = defineMessage<InitPayload>(
  'preview/init',
  (x): x is InitPayload =>
    isObject(x) &&
    isString(x.title) &&
    isString(x.source) &&
    isFamily(x.family) &&
    Number.isInteger(x.selected) &&
    (x.selected as number) >= -1 &&
    Array.isArray(x.records) &&
    x.records.every(isItem),
);
export const SampleMessage = defineMessage<SamplePayload>(
  'preview/sample',
  (x): x is SamplePayload =>
    isObject(x) &&
    isFiniteNumber(x.index) &&
    isString(x.caption) &&
    (x.image === undefined || isSampleImage(x.image)) &&
    (x.picture === undefined ||
      (isObject(x.picture) && x.picture.bytes instanceof Uint8Array && (x.picture.mime === 'image/png' || x.picture.mime === 'image/jpeg'))) &&
    (x.slice === undefined || (isObject(x.slice) && ['dim', 'index', 'count', 'record'].every((k) => Number.isInteger((x.slice as Record<string, unknown>)[k])))) &&
    (x.overlays === undefined || isOverlays(x.overlays)) &&
    Array.isArray(x.measurements) &&
    x.measurements.every(isMeasurement) &&
    Array.isArray(x.problems) &&
    x.problems.every(isString) &&
    (x.text === undefined || isFormattedText(x.text)) &&
    (x.textProblem === undefined || isString(x.textProblem)) &&
    (x.resize === undefined || isResize(x.resize)),
);
export const ChatMessage = defineMessage<ChatPayload>(
  'preview/chat',
  (x): x is ChatPayload =>
    isObject(x) &&
    Number.isInteger(x.index) &&
    isFamily(x.family) &&
    (x.text === undefined || isString(x.text)) &&
    (x.answerStart === undefined || (Number.isInteger(x.answerStart) && (x.answerStart as number) >= 0)) &&
    (x.unavailable === undefined || isString(x.unavailable)) &&
    (x.text !== undefined) !== (x.unavailable !== undefined),
);

// Page -> host.
export const ReadyMessage = defineMessage<Record<string, never>>('preview/ready', (x): x is Record<string, never> => isObject(x) && Object.keys(x).length === 0);
/** Show record `index`; with `slice`, another slice of its volume (overlays then stay off). */
export const SelectMessage = defineMessage<{ readonly index: number; readonly slice?: number }>(
  'preview/select',
  (x): x is { index: number; slice?: number } =>
    isObject(x) &&
    Number.isInteger(x.index) &&
    (x.index as number) >= 0 &&
    (x.slice === undefined || (Number.isInteger(x.slice) && (x.slice as number) >= 0)) &&
    Object.keys(x).every((k) => k === 'index' || k === 'slice'),
);
export const FamilyMessage = defineMessage<{ readonly family: ModelFamily }>(
  'preview/family',
  (x): x is { family: ModelFamily } => isObject(x) && isFamily(x.family) && Object.keys(x).length === 1,
);
