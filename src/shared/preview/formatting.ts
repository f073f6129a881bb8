// The prompt and target text of a MedVision record, re-implemented from the trainer's
// `medvlm_sft/data/formatting.py` (design contract 3: the Python formatter is the source of
// truth; both check `test/fixtures/formatting/golden.json`, whose strings were derived by hand).
// Pure: the preview shows the text without starting Python.
//
// The reference is Python, so the numbers follow Python's rules, not JavaScript's:
// f"{x:.3f}" rounds the exact binary value half-to-even (`toFixed` rounds ties up), str(float)
// is Python's repr (`12.0`, `1e-05`), round() in smart_resize is half-to-even, and the
// pixel-size arithmetic is float32.

import type { TaskKind } from './overlays';
import { columnar, first, labelName, lookupTask, OverlayError } from './overlays';
import { isObject } from '../protocol/message';

type Json = Record<string, unknown>;


/** A record the formatter cannot turn into text, with what to change. */
export class FormatError extends Error {
  override readonly name = 'FormatError';
}

// --- Python's number formatting ---------------------------------------------------------

/** A finite double as `mantissa * 2 ** exponent`, both exact. */
function exactParts(x: number): { mantissa: bigint; exponent: number } {
  const view = new DataView(new ArrayBuffer(8));
  view.setFloat64(0, Math.abs(x));
  const bits = view.getBigUint64(0);
  const biased = Number((bits >> 52n) & 0x7ffn);
  const fraction = bits & ((1n << 52n) - 1n);
  return biased === 0 ? { mantissa: fraction, exponent: -1074 } : { mantissa: fraction | (1n << 52n), exponent: biased - 1075 };
}

/** Python's `f"{x:.{digits}f}"`: the exact binary value rounded half-to-even. */
export function pyFixed(x: number, digits: number): string {
  if (Number.isNaN(x)) return 'nan';
  if (!Number.isFinite(x)) return x > 0 ? 'inf' : '-inf';
  const negative = x < 0 || Object.is(x, -0);
  const { mantissa, exponent } = exactParts(x);
  const scale = 10n ** BigInt(digits);
  let units: bigint;
  if (exponent >= 0) {
    units = (mantissa << BigInt(exponent)) * scale;
  } else {
    const numerator = mantissa * scale;
    const denominator = 1n << BigInt(-exponent);
    units = numerator / denominator;
    const twice = 2n * (numerator % denominator);
    if (twice > denominator || (twice === denominator && units % 2n === 1n)) units += 1n;
  }
  const text = units.toString().padStart(digits + 1, '0');
  const whole = text.slice(0, text.length - digits);
  const body = digits > 0 ? `${whole}.${text.slice(text.length - digits)}` : whole;
  return negative ? `-${body}` : body;
}

/** Python's `repr(float)` (and `str`): the shortest round-trip digits, Python's layout. */
export function pyRepr(x: number): string {
  if (Number.isNaN(x)) return 'nan';
  if (!Number.isFinite(x)) return x > 0 ? 'inf' : '-inf';
  const sign = x < 0 || Object.is(x, -0) ? '-' : '';
  // toExponential() with no argument gives the shortest digits that read back as x.
  const match = /^(\d)(?:\.(\d+))?e([+-]\d+)$/.exec(Math.abs(x).toExponential());
  if (match === null) throw new Error(`unexpected exponential form of ${x}`);
  const digits = `${match[1] as string}${match[2] ?? ''}`;
  const exp = Number(match[3]);
  // CPython's float_repr: scientific when the decimal point lies outside -4 < point <= 16.
  const point = exp + 1;
  if (point <= -4 || point > 16) {
    const mantissa = digits.length > 1 ? `${digits[0] as string}.${digits.slice(1)}` : digits;
    const e = Math.abs(exp);
    return `${sign}${mantissa}e${exp < 0 ? '-' : '+'}${e < 10 ? `0${e}` : String(e)}`;
  }
  if (point <= 0) return `${sign}0.${'0'.repeat(-point)}${digits}`;
  if (point >= digits.length) return `${sign}${digits}${'0'.repeat(point - digits.length)}.0`;
  return `${sign}${digits.slice(0, point)}.${digits.slice(point)}`;
}

/** Python's round() of a float to an integer: half-to-even on the exact value. */
export function pyRound(x: number): number {
  const floor = Math.floor(x);
  const rest = x - floor; // exact for the magnitudes of image sizes
  if (rest > 0.5) return floor + 1;
  if (rest < 0.5) return floor;
  return floor % 2 === 0 ? floor : floor + 1;
}

// --- The model's resize -----------------------------------------------------------------

/** Published Qwen2.5-VL-Instruct processor settings and MedGemma's fixed size. */
export const QWEN_MIN_PIXELS = 3136;
export const QWEN_MAX_PIXELS = 12845056;
export const MEDGEMMA_SIZE: readonly [number, number] = [896, 896];

export interface ResizeRule {
  readonly family: 'qwen2_5_vl' | 'medgemma';
  readonly factor?: number;
  readonly minPixels?: number;
  readonly maxPixels?: number;
  /** A fixed [H, W] (MedGemma: 896 x 896). */
  readonly fixedHw?: readonly [number, number];
}

/** Qwen2-VL's smart_resize: multiples of `factor`, pixels within [min, max], aspect kept. */
export function smartResize(height: number, width: number, factor = 28, minPixels = QWEN_MIN_PIXELS, maxPixels = QWEN_MAX_PIXELS): [number, number] {
  const aspect = Math.max(height, width) / Math.min(height, width);
  if (aspect > 200) throw new FormatError(`absolute aspect ratio must be smaller than 200, got ${pyRepr(aspect)}`);
  let hBar = pyRound(height / factor) * factor;
  let wBar = pyRound(width / factor) * factor;
  if (hBar * wBar > maxPixels) {
    const beta = Math.sqrt((height * width) / maxPixels);
    hBar = Math.max(factor, Math.floor(height / beta / factor) * factor);
    wBar = Math.max(factor, Math.floor(width / beta / factor) * factor);
  } else if (hBar * wBar < minPixels) {
    const beta = Math.sqrt(minPixels / (height * width));
    hBar = Math.ceil((height * beta) / factor) * factor;
    wBar = Math.ceil((width * beta) / factor) * factor;
  }
  return [hBar, wBar];
}

/** The [H, W] the model's processor gives an [H, W] slice. */
export function modelImageSize(rule: ResizeRule, height: number, width: number): [number, number] {
  if (rule.family === 'qwen2_5_vl') return smartResize(height, width, rule.factor, rule.minPixels, rule.maxPixels);
  const [h, w] = rule.fixedHw ?? MEDGEMMA_SIZE;
  return [h, w];
}

/** Image tokens one image costs: Qwen2.5-VL one per factor x factor pixels, MedGemma 256. */
export function imageTokens(rule: ResizeRule, height: number, width: number): number {
  if (rule.family === 'medgemma') return 256;
  const factor = rule.factor ?? 28;
  return (height / factor) * (width / factor);
}

// --- The text ---------------------------------------------------------------------------

export const FORMAT_ONE_NUMBER = 'The answer should be a single decimal number without any units or additional text.';
export const FORMAT_TWO_AXES =
  'The answer should be two decimal numbers separated by a comma without any units or additional text. ' +
  'The first is the major axis length, and the second is the minor axis length.';
export const FORMAT_BOX =
  'Return the coordinates as [x1, y1, x2, y2] where (x1, y1) is the lower-left corner and (x2, y2) is the ' +
  'upper-right corner, with coordinates normalized to [0, 1].';
export const FORMAT_BOX_BENCHMARK =
  'The answer should be four decimal numbers separated by commas without any units or additional text. ' +
  'The first two numbers are the coordinates of the lower-left corner and the last two numbers are the ' +
  'coordinates of the upper-right corner of the bounding box. ' +
  'Use relative coordinates in the image space, where the origin is at the lower-left corner of the image. ' +
  'Relative coordinates should be values between 0 and 1, representing the relative positions in the image.';

/** The run config's opt-in departures from the reference text (`data.detection_prompt`, `data.box_convention`). */
export interface FormatOptions {
  readonly detectionPrompt?: 'reference' | 'benchmark';
  readonly boxConvention?: 'reference' | 'pixel_edge';
}

export interface SliceGeometry {
  /** The header's in-plane pixdim [row, col] as float32 values. */
  readonly spacingHw: readonly [number, number];
  /** The slice's [H, W]. */
  readonly shapeHw: readonly [number, number];
}

export interface FormattedText {
  readonly prompt: string;
  readonly target: string;
}

/** Spacing of one pixel of the resized image, in float32 as the reference computes it. */
export function adjustedPixelSize(spacingHw: readonly [number, number], shapeHw: readonly [number, number], resizedHw: readonly [number, number]): [number, number] {
  const f = Math.fround;
  const ratioH = resizedHw[0] / shapeHw[0];
  const ratioW = resizedHw[1] / shapeHw[1];
  // A float32 quotient: the double quotient of two float32 values rounds to it exactly.
  return [f(f(spacingHw[0]) / f(ratioH)), f(f(spacingHw[1]) / f(ratioW))];
}

export function pixelSizeText([adjH, adjW]: readonly [number, number], unit: string): string {
  return `The pixel size for this image is ${pyFixed(adjW, 3)} ${unit} (width) x ${pyFixed(adjH, 3)} ${unit} (height).`;
}

function description(entry: Json): string {
  const text = entry.image_description;
  if (text === undefined || text === null) throw new FormatError('the task metadata has no `image_description` (use "" when there is none)');
  return pyStr(text);
}

/** Python's str() of a JSON value as the reference interpolates it. */
function pyStr(value: unknown): string {
  return typeof value === 'number' && !Number.isInteger(value) ? pyRepr(value) : String(value);
}

function detectionTarget(record: Json, pixelEdge: boolean): string {
  const boxes = columnar(record.bounding_boxes);
  const size = record.image_size_2d;
  const min = isObject(boxes) ? first(boxes.min_coords) : undefined;
  const max = isObject(boxes) ? first(boxes.max_coords) : undefined;
  const pair = (v: unknown): v is [number, number] => Array.isArray(v) && v.length === 2 && v.every((n) => typeof n === 'number');
  if (!pair(size) || !pair(min) || !pair(max)) {
    throw new FormatError('a detection record needs `image_size_2d` [H, W] and `bounding_boxes` with `min_coords` and `max_coords`, e.g. {"min_coords": [[r0, c0]], "max_coords": [[r1, c1]]}');
  }
  const [height, width] = size;
  const [r0, c0] = min;
  const [r1, c1] = max;
  // Lower-left origin, normalised; max_coords are inclusive and used as-is by the reference.
  const edge = pixelEdge ? 1 : 0;
  const values = [c0 / width, (height - r1 - edge) / height, (c1 + edge) / width, (height - r0) / height];
  return values.map((v) => pyFixed(v, 3)).join(', ');
}

function formatDetection(record: Json, entry: Json, options: FormatOptions): FormattedText {
  const requirement = options.detectionPrompt === 'benchmark' ? FORMAT_BOX_BENCHMARK : FORMAT_BOX;
  const prompt =
    `Task:\nGiven the input medical image: ${description(entry)}, ` +
    `return the coordinates of the lower-left and upper-right corner of the bounding box for the ${labelName(entry, record)}.\n` +
    `Format requirement:\n${requirement}`;
  return { prompt, target: detectionTarget(record, options.boxConvention === 'pixel_edge') };
}

function pointNames(entry: Json, line: unknown): [string, string] {
  if (!isObject(line)) throw new FormatError('a line of the task metadata is not an object');
  const names = entry[typeof line.element_map_name === 'string' ? line.element_map_name : 'landmarks_map'];
  const keys = line.element_keys;
  if (!isObject(names) || !Array.isArray(keys) || keys.length < 2) throw new FormatError('a line of the task metadata needs element_keys naming two landmarks of its landmarks_map');
  const a = names[String(keys[0])];
  const b = names[String(keys[1])];
  if (a === undefined || b === undefined) throw new FormatError(`landmarks ${String(keys[0])} and ${String(keys[1])} are not both in the task's landmarks_map`);
  return [pyStr(a), pyStr(b)];
}

function formatAngleDistance(record: Json, entry: Json, adj: readonly [number, number]): FormattedText {
  const profile = record.biometric_profile as Json;
  const metricType = profile.metric_type;
  const mapName = typeof profile.metric_map_name === 'string' && profile.metric_map_name !== '' ? profile.metric_map_name : metricType === 'distance' ? 'lines_map' : 'angles_map';
  const key = profile.metric_key;
  const rawUnit = profile.metric_unit ?? (metricType === 'distance' ? 'mm' : 'degree');
  const map = entry[mapName];
  const item = isObject(map) ? map[String(key)] : undefined;
  if (!isObject(item)) {
    throw new FormatError(`the task metadata cannot describe metric ${JSON.stringify(key)} of "${mapName}": tasks.json needs landmarks_map, lines_map and angles_map entries with element_keys as in MedVision`);
  }
  const name = typeof item.name === 'string' && item.name !== '' ? item.name : undefined;
  let task: string;
  if (metricType === 'distance') {
    const [p1, p2] = pointNames(entry, item);
    const unit = String(rawUnit).trim().replaceAll('mm', 'millimeters');
    task =
      name !== undefined
        ? `estimate the distance of ${name} in ${unit}, which is the distance between 2 landmark points: (landmark 1) ${p1}, (landmark 2) ${p2}.\n`
        : `estimate the distance between 2 landmark points in ${unit}: (landmark 1) ${p1}, (landmark 2) ${p2}.\n`;
  } else {
    const lines = entry[typeof item.element_map_name === 'string' ? item.element_map_name : 'lines_map'];
    const keys = item.element_keys;
    if (!isObject(lines) || !Array.isArray(keys) || keys.length < 2) throw new FormatError(`angle ${JSON.stringify(key)} needs element_keys naming two lines of the task's lines_map`);
    const [a, b] = pointNames(entry, lines[String(keys[0])]);
    const [c, d] = pointNames(entry, lines[String(keys[1])]);
    const unit = String(rawUnit);
    const between = `(line 1) the line connecting ${a} and ${b}, (line 2) the line connecting ${c} and ${d}.\n`;
    task = name !== undefined ? `estimate the angle of ${name} in ${unit}, which is the angle between 2 lines: ${between}` : `estimate the angle between 2 lines in ${unit}: ${between}`;
  }
  const prompt =
    `Task:\nGiven the input medical image: ${description(entry)}, ${task}` +
    `Additional information:\n${pixelSizeText(adj, 'mm')}\n` +
    `Format requirement:\n${FORMAT_ONE_NUMBER}`;
  // The reference writes the value's repr (float16 values such as 76.4375), never rounded.
  return { prompt, target: pyRepr(profile.metric_value as number) };
}

/** A list unit (the HF Sequence form) is used unchanged; only a plain string is spelled out. */
export function tumorLesionUnit(unit: unknown): string {
  if (Array.isArray(unit)) return pyStr(unit[0]);
  if (unit === 'mm') return 'millimeters';
  if (unit === 'cm') return 'centimeters';
  return pyStr(unit);
}

function formatTumorLesion(record: Json, entry: Json, adj: readonly [number, number]): FormattedText {
  const profile = columnar(record.biometric_profile) as Json;
  const unit = tumorLesionUnit(profile.metric_unit ?? ['mm']);
  const prompt =
    `Task:\nGiven the input medical image: ${description(entry)}, ` +
    `estimate the major and minor axis lengths of the ellipse enclosing the ${labelName(entry, record)}, in ${unit}.\n` +
    `Additional information:\n${pixelSizeText(adj, unit)}\n` +
    `Format requirement:\n${FORMAT_TWO_AXES}`;
  const major = first(profile.metric_value_major_axis);
  const minor = first(profile.metric_value_minor_axis);
  if (typeof major !== 'number' || typeof minor !== 'number') {
    throw new FormatError('a tumor/lesion record needs numbers in biometric_profile.metric_value_major_axis and metric_value_minor_axis');
  }
  return { prompt, target: `${pyFixed(major, 3)}, ${pyFixed(minor, 3)}` };
}

/**
 * The prompt and target of a MedVision record for a model's resize, given its task metadata
 * and its slice's header spacing and shape. A generic record's are its own messages' texts.
 */
export function formatRecord(kind: TaskKind, record: Json, tasks: Json | undefined, geometry: SliceGeometry, rule: ResizeRule, options: FormatOptions = {}): FormattedText {
  if (kind === 'generic') return genericText(record);
  if (tasks === undefined) throw new FormatError(`this ${kind} record needs task metadata, but no tasks.json was given: set \`tasks:\` for this data source in the run config`);
  try {
    const entry = lookupTask(tasks, record, kind);
    if (kind === 'detection') return formatDetection(record, entry, options);
    const adj = adjustedPixelSize(geometry.spacingHw, geometry.shapeHw, modelImageSize(rule, geometry.shapeHw[0], geometry.shapeHw[1]));
    return kind === 'angle_distance' ? formatAngleDistance(record, entry, adj) : formatTumorLesion(record, entry, adj);
  } catch (err) {
    // The metadata lookups are the overlays' own; their errors are this record's text problems too.
    throw err instanceof OverlayError ? new FormatError(err.message) : err;
  }
}

/** A generic record's user text and the assistant's answer, as its `messages` hold them. */
export function genericText(record: Json): FormattedText {
  const messages = record.messages;
  if (!Array.isArray(messages) || messages.length < 2 || !messages.every(isObject)) throw new FormatError('`messages` must be a list with a user turn and an assistant answer');
  const last = messages[messages.length - 1] as Json;
  if (last.role !== 'assistant') throw new FormatError("the last message must be the assistant's answer (it is what the model learns)");
  const text = (message: Json) => {
    const content = message.content;
    if (typeof content === 'string') return content;
    if (!Array.isArray(content)) return '';
    return content
      .filter((part): part is Json => isObject(part) && part.type === 'text' && typeof part.text === 'string')
      .map((part) => part.text as string)
      .join('\n');
  };
  const prompt = messages
    .slice(0, -1)
    .map((m) => text(m as Json))
    .filter((t) => t !== '')
    .join('\n\n');
  return { prompt, target: text(last) };
}
