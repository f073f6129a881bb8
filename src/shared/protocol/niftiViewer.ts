// Messages between the NIfTI viewer (a read-only custom editor for .nii and .nii.gz files) and
// the extension host, which decodes the volume and sends one slice at a time.

import { defineMessage, isFiniteNumber, isObject, isString } from './message';
import type { SampleImage } from './samplePreview';
import { isSampleImage } from './samplePreview';

export interface VolumeInfo {
  readonly file: string;
  /** [x, y, z]. */
  readonly shape: readonly [number, number, number];
  readonly dtype: string;
  readonly version: number;
  readonly littleEndian: boolean;
  /** Voxel sizes of x, y, z (pixdim[1..3]). */
  readonly spacing: readonly [number, number, number];
  readonly slope: number;
  readonly inter: number;
}

export interface SlicePayload {
  readonly dim: number;
  readonly index: number;
  readonly image: SampleImage;
}

const isTriple = (x: unknown): boolean => Array.isArray(x) && x.length === 3 && x.every(isFiniteNumber);

// Host -> page.
export const VolumeMessage = defineMessage<VolumeInfo>(
  'nifti/volume',
  (x): x is VolumeInfo =>
    isObject(x) &&
    isString(x.file) &&
    isTriple(x.shape) &&
    isString(x.dtype) &&
    isFiniteNumber(x.version) &&
    typeof x.littleEndian === 'boolean' &&
    isTriple(x.spacing) &&
    isFiniteNumber(x.slope) &&
    isFiniteNumber(x.inter),
);
export const SliceMessage = defineMessage<SlicePayload>(
  'nifti/slice',
  (x): x is SlicePayload => isObject(x) && Number.isInteger(x.dim) && Number.isInteger(x.index) && isSampleImage(x.image),
);
/** The volume could not be read: the page shows why instead of an image. */
export const VolumeErrorMessage = defineMessage<{ readonly message: string }>('nifti/error', (x): x is { message: string } => isObject(x) && isString(x.message));

// Page -> host.
export const ViewerReadyMessage = defineMessage<Record<string, never>>('nifti/ready', (x): x is Record<string, never> => isObject(x) && Object.keys(x).length === 0);
export const ShowSliceMessage = defineMessage<{ readonly dim: number; readonly index: number }>(
  'nifti/showSlice',
  (x): x is { dim: number; index: number } =>
    isObject(x) && (x.dim === 0 || x.dim === 1 || x.dim === 2) && Number.isInteger(x.index) && (x.index as number) >= 0 && Object.keys(x).length === 2,
);
