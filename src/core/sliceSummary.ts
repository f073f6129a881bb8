// What the preview CLI prints for a slice: shape, voxel type, lowest and highest value (NaN
// left out; null when every value is NaN) and the sha256 of the values as little-endian
// float64 in row-major order, to compare with nibabel's get_fdata()[...].

import { createHash } from 'node:crypto';
import type { Slice } from '../shared/nifti/volume';

/** sha256 of the values as little-endian float64, whatever the host's byte order. */
export function sliceDigest(values: Float64Array): string {
  const bytes = new Uint8Array(values.length * 8);
  const view = new DataView(bytes.buffer);
  for (let i = 0; i < values.length; i++) view.setFloat64(i * 8, values[i] as number, true);
  return createHash('sha256').update(bytes).digest('hex');
}

export interface SliceSummary {
  readonly shape: readonly [number, number];
  readonly dtype: string;
  readonly min: number | null;
  readonly max: number | null;
  readonly sha256: string;
}

export function summarise(slice: Slice, dtype: string): SliceSummary {
  let min = Number.POSITIVE_INFINITY;
  let max = Number.NEGATIVE_INFINITY;
  for (const v of slice.values) {
    if (v < min) min = v;
    if (v > max) max = v;
  }
  const seen = min <= max;
  return { shape: slice.shape, dtype, min: seen ? min : null, max: seen ? max : null, sha256: sliceDigest(slice.values) };
}
