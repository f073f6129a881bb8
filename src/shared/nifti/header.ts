// NIfTI-1 and NIfTI-2 single-file headers (`.nii`, the bytes after gunzip for `.nii.gz`),
// either byte order. Pure (no DOM, no Node): the sample preview's worker, the headless
// preview CLI and the tests read volumes with the same code. Only what the preview needs is
// read: dimensions, voxel type, spacing, scaling and where the voxels start.

export class NiftiError extends Error {
  override readonly name = 'NiftiError';
}

/** The voxel types read, by NIfTI datatype code. */
export const DATATYPES = {
  2: { name: 'uint8', bytes: 1 },
  4: { name: 'int16', bytes: 2 },
  8: { name: 'int32', bytes: 4 },
  16: { name: 'float32', bytes: 4 },
  64: { name: 'float64', bytes: 8 },
  256: { name: 'int8', bytes: 1 },
  512: { name: 'uint16', bytes: 2 },
  768: { name: 'uint32', bytes: 4 },
} as const;
export type DatatypeCode = keyof typeof DATATYPES;
export type DtypeName = (typeof DATATYPES)[DatatypeCode]['name'];

/** Names of datatypes that exist in NIfTI but are not read here, for a clear refusal. */
const UNSUPPORTED: Readonly<Record<number, string>> = {
  1: 'binary (1 bit)',
  32: 'complex64',
  128: 'RGB24',
  1024: 'int64',
  1280: 'uint64',
  1536: 'float128',
  1792: 'complex128',
  2048: 'complex256',
  2304: 'RGBA32',
};

export interface NiftiHeader {
  readonly version: 1 | 2;
  readonly littleEndian: boolean;
  /** Size of each dimension, as many as the header's dim[0] says (at least 1). */
  readonly dims: readonly number[];
  readonly datatype: DatatypeCode;
  readonly dtype: DtypeName;
  readonly bytesPerVoxel: number;
  /** Voxel sizes of the dimensions (pixdim[1..]), as stored. */
  readonly pixdim: readonly number[];
  /** Byte offset of the first voxel. */
  readonly voxOffset: number;
  /** The header's scaling as nibabel applies it: slope 1 and intercept 0 when it is unset. */
  readonly slope: number;
  readonly inter: number;
  /** Bytes the voxels take: the product of the dims times the voxel size. */
  readonly dataBytes: number;
}

const NIFTI1_SIZE = 348;
const NIFTI2_SIZE = 540;

/** Bytes needed to read a header: enough for either version. */
export const HEADER_BYTES = NIFTI2_SIZE;

/**
 * Reads the header at the start of `bytes` (at least HEADER_BYTES long, or the whole file).
 * Throws a NiftiError naming what is wrong and what the file would need to be.
 */
export function parseHeader(bytes: Uint8Array): NiftiHeader {
  if (bytes.length < 4) throw new NiftiError(`not a NIfTI file: only ${bytes.length} bytes`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let littleEndian: boolean;
  let version: 1 | 2;
  const le = view.getInt32(0, true);
  const be = view.getInt32(0, false);
  if (le === NIFTI1_SIZE || be === NIFTI1_SIZE) {
    version = 1;
    littleEndian = le === NIFTI1_SIZE;
  } else if (le === NIFTI2_SIZE || be === NIFTI2_SIZE) {
    version = 2;
    littleEndian = le === NIFTI2_SIZE;
  } else {
    throw new NiftiError(`not a NIfTI file: the header size field is ${le}, not 348 (NIfTI-1) or 540 (NIfTI-2)`);
  }
  const size = version === 1 ? NIFTI1_SIZE : NIFTI2_SIZE;
  if (bytes.length < size) throw new NiftiError(`the NIfTI-${version} header is cut short: ${bytes.length} of ${size} bytes`);
  const magic = String.fromCharCode(...bytes.subarray(version === 1 ? 344 : 4, version === 1 ? 347 : 7));
  if (magic === 'ni1' || magic === 'ni2') {
    throw new NiftiError('this is the header of a .hdr/.img pair; open the single-file .nii or .nii.gz form');
  }
  if (magic !== (version === 1 ? 'n+1' : 'n+2')) throw new NiftiError(`not a NIfTI-${version} file: its magic is "${magic}"`);

  const i16 = (at: number) => view.getInt16(at, littleEndian);
  const i64 = (at: number) => Number(view.getBigInt64(at, littleEndian));
  const f32 = (at: number) => view.getFloat32(at, littleEndian);
  const f64 = (at: number) => view.getFloat64(at, littleEndian);
  const dimAt = (i: number) => (version === 1 ? i16(40 + 2 * i) : i64(16 + 8 * i));
  const pixdimAt = (i: number) => (version === 1 ? f32(76 + 4 * i) : f64(104 + 8 * i));
  const datatype = i16(version === 1 ? 70 : 12);
  const bitpix = i16(version === 1 ? 72 : 14);
  const voxOffset = version === 1 ? f32(108) : i64(168);
  const rawSlope = version === 1 ? f32(112) : f64(176);
  const rawInter = version === 1 ? f32(116) : f64(184);

  const ndim = dimAt(0);
  if (!Number.isInteger(ndim) || ndim < 1 || ndim > 7) throw new NiftiError(`the header's dimension count dim[0] is ${ndim}, not 1 to 7`);
  const dims: number[] = [];
  for (let i = 1; i <= ndim; i++) {
    const n = dimAt(i);
    if (!Number.isSafeInteger(n) || n < 1) throw new NiftiError(`dimension ${i - 1} has size ${n}`);
    dims.push(n);
  }
  const type = DATATYPES[datatype as DatatypeCode] as (typeof DATATYPES)[DatatypeCode] | undefined;
  if (type === undefined) {
    const known = UNSUPPORTED[datatype];
    throw new NiftiError(
      `voxel type ${known ?? `code ${datatype}`} is not supported (${Object.values(DATATYPES)
        .map((t) => t.name)
        .join(', ')} are)`,
    );
  }
  if (bitpix !== type.bytes * 8) throw new NiftiError(`bitpix is ${bitpix} but ${type.name} voxels have ${type.bytes * 8} bits`);
  if (!Number.isFinite(voxOffset) || voxOffset < size || !Number.isInteger(voxOffset)) {
    throw new NiftiError(`the voxels are said to start at byte ${voxOffset}, inside the header or at no whole byte`);
  }
  // nibabel: an unset (zero or not finite) slope means no scaling at all.
  const scaled = rawSlope !== 0 && Number.isFinite(rawSlope);
  if (scaled && !Number.isFinite(rawInter)) throw new NiftiError(`the scale slope is ${rawSlope} but the intercept is ${rawInter}`);
  const voxels = dims.reduce((a, b) => a * b, 1);
  return {
    version,
    littleEndian,
    dims,
    datatype: datatype as DatatypeCode,
    dtype: type.name,
    bytesPerVoxel: type.bytes,
    pixdim: dims.map((_, i) => pixdimAt(i + 1)),
    voxOffset,
    slope: scaled ? rawSlope : 1,
    inter: scaled ? rawInter : 0,
    dataBytes: voxels * type.bytes,
  };
}
