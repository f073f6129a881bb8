// The run config's `data.image` normalisations besides the reference's min-max, as the trainer
// computes them (python/src/medvlm_sft/data/imaging.py), so the preview's "as trained" grey
// levels are the model's: a CT window in Hounsfield units, or MR's per-slice 1st..99th
// percentile window. Every step follows numpy's dtypes (float32 arrays, float64 percentiles).

import type { ImageNormalization } from '../../shared/protocol/samplePreview';

/** CT windows by preset name: centre and width in Hounsfield units (imaging.CT_WINDOWS). */
export const CT_WINDOWS: Readonly<Record<string, readonly [number, number]>> = { ct_soft_tissue: [40, 400], ct_bone: [400, 1800] };

/** numpy's default (linear) percentile of float32 values, as a float64 like numpy returns. */
export function percentile(sorted: Float32Array, q: number): number {
  const n = sorted.length;
  const index = (n - 1) * (q / 100);
  const below = Math.floor(index);
  const a = sorted[below] as number;
  const b = sorted[Math.min(below + 1, n - 1)] as number;
  const t = index - below;
  // numpy's _lerp: the difference in the array's float32, the rest in float64.
  const diff = Math.fround(b - a);
  return t >= 0.5 ? b - diff * (1 - t) : a + diff * t;
}

/** imaging.window_to_uint8: clip to [lo, hi], stretch to 0..255 in float32, truncate. */
export function windowGrey(x: Float32Array, lo: number, hi: number): Uint8Array {
  const f = Math.fround;
  const low = f(lo);
  const range = f(hi - lo);
  const pixels = new Uint8Array(x.length);
  for (let i = 0; i < x.length; i++) {
    const scaled = f(f((x[i] as number) - low) / range);
    const clipped = scaled > 1 ? 1 : scaled >= 0 ? scaled : 0; // NaN to 0, like the cast does here
    pixels[i] = Math.trunc(f(clipped * 255));
  }
  return pixels;
}

/**
 * The grey levels under a normalisation other than min-max; undefined when the trainer falls
 * back to min-max (a slice whose percentiles carry no contrast).
 */
export function normalisedGrey(x: Float32Array, image: ImageNormalization): Uint8Array | undefined {
  if (image.mode === 'window') return windowGrey(x, image.center - image.width / 2, image.center + image.width / 2);
  if (image.mode !== 'percentile') return undefined;
  const sorted = Float32Array.from(x).sort();
  const lo = percentile(sorted, 1);
  const hi = percentile(sorted, 99);
  return hi > lo ? windowGrey(x, lo, hi) : undefined;
}

/** `data.image` of a parsed run config as a normalisation, or why it is not one. */
export function imageNormalization(image: unknown): ImageNormalization {
  if (typeof image !== 'object' || image === null) return { mode: 'minmax' };
  const section = image as Record<string, unknown>;
  if (section.normalization !== 'window') return { mode: 'minmax' };
  const window = section.window;
  if (window === 'mr') return { mode: 'percentile', label: 'MR 1st-99th percentile' };
  if (typeof window === 'string' && CT_WINDOWS[window] !== undefined) {
    const [center, width] = CT_WINDOWS[window] as readonly [number, number];
    return { mode: 'window', center, width, label: window === 'ct_bone' ? 'CT bone' : 'CT soft tissue' };
  }
  if (typeof window === 'object' && window !== null) {
    const { center, width } = window as Record<string, unknown>;
    if (typeof center === 'number' && typeof width === 'number' && width > 0) return { mode: 'window', center, width, label: `window L ${center}, W ${width}` };
  }
  return { mode: 'minmax' };
}
