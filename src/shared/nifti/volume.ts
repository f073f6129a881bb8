// A NIfTI volume's voxels and its 2D slices with the values nibabel's get_fdata() gives:
// the stored numbers in float64, times the header's slope, plus its intercept (each step
// skipped when it is 1 or 0, as nibabel does, so the float64 results are the same bit for
// bit). Slices are taken as the trainer takes them: along `dim` at `index`, rows the first
// remaining axis and columns the second, no flip or transpose. Pure (no DOM, no Node).

import type { DtypeName, NiftiHeader } from './header';
import { NiftiError, parseHeader } from './header';

type VoxelArray = Uint8Array | Int8Array | Int16Array | Uint16Array | Int32Array | Uint32Array | Float32Array | Float64Array;

const ARRAYS: Record<DtypeName, { new (buffer: ArrayBuffer, offset: number, length: number): VoxelArray; new (length: number): VoxelArray }> = {
  uint8: Uint8Array,
  int8: Int8Array,
  int16: Int16Array,
  uint16: Uint16Array,
  int32: Int32Array,
  uint32: Uint32Array,
  float32: Float32Array,
  float64: Float64Array,
};

const HOST_LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

export interface Slice {
  /** [rows, columns]. */
  readonly shape: readonly [number, number];
  /** Row-major values after scaling. */
  readonly values: Float64Array;
}

/** [x, y, z] of a volume: a 2D image is one slice deep, trailing dimensions of size 1 dropped. */
export function volumeShape(header: NiftiHeader): readonly [number, number, number] {
  const dims = [...header.dims];
  while (dims.length > 3 && dims[dims.length - 1] === 1) dims.pop();
  if (dims.length > 3) {
    throw new NiftiError(`a ${dims.length}D volume (shape ${dims.join(' x ')}); only 3D volumes (or 4D with one time point) are read`);
  }
  while (dims.length < 3) dims.push(1);
  return [dims[0] as number, dims[1] as number, dims[2] as number];
}

/** Fails unless a file of `length` bytes holds every voxel its header promises. */
export function checkLength(header: NiftiHeader, length: number): void {
  if (length < header.voxOffset + header.dataBytes) {
    throw new NiftiError(
      `the file is cut short: the header says ${volumeShape(header).join(' x ')} ${header.dtype} voxels (${header.dataBytes} bytes) from byte ${header.voxOffset}, but the file has ${length} bytes`,
    );
  }
}

export class NiftiVolume {
  /** [x, y, z], as volumeShape gives it. */
  readonly shape: readonly [number, number, number];
  private readonly voxels: VoxelArray;

  /** `bytes` is the whole file (a volume still streaming in may be filled later). */
  constructor(
    readonly header: NiftiHeader,
    bytes: Uint8Array,
  ) {
    this.shape = volumeShape(header);
    checkLength(header, bytes.length);
    this.voxels = readVoxels(header, bytes);
  }

  /**
   * The slice along `dim` (0, 1 or 2) at `index`, scaled in float64. With `Float32Array`,
   * each scaled value is rounded to float32 once, as get_fdata().astype(float32) does.
   */
  slice(dim: number, index: number): Slice;
  slice(dim: number, index: number, type: Float32ArrayConstructor): { readonly shape: readonly [number, number]; readonly values: Float32Array };
  slice(dim: number, index: number, type: Float64ArrayConstructor | Float32ArrayConstructor = Float64Array): { readonly shape: readonly [number, number]; readonly values: Float64Array | Float32Array } {
    if (dim !== 0 && dim !== 1 && dim !== 2) throw new NiftiError(`the slice dimension must be 0, 1 or 2, not ${dim}`);
    const size = this.shape[dim];
    if (!Number.isInteger(index) || index < 0 || index >= size) {
      throw new NiftiError(`slice ${index} is outside 0..${size - 1} along dimension ${dim} (volume shape ${this.shape.join(' x ')})`);
    }
    const [nx, ny] = this.shape;
    const strides = [1, nx, nx * ny] as const;
    const [a, b] = dim === 0 ? [1, 2] : dim === 1 ? [0, 2] : [0, 1];
    const rows = this.shape[a] as number;
    const columns = this.shape[b] as number;
    const rowStride = strides[a] as number;
    const columnStride = strides[b] as number;
    const base = index * (strides[dim] as number);
    const values = new type(rows * columns);
    const { slope, inter } = this.header;
    const voxels = this.voxels;
    let k = 0;
    if (slope === 1 && inter === 0) {
      for (let r = 0; r < rows; r++) {
        let at = base + r * rowStride;
        for (let c = 0; c < columns; c++, at += columnStride) values[k++] = voxels[at] as number;
      }
    } else {
      // As nibabel scales: multiply, then add, each step skipped at 1 or 0, in float64.
      const m = slope;
      const a = inter;
      for (let r = 0; r < rows; r++) {
        let at = base + r * rowStride;
        for (let c = 0; c < columns; c++, at += columnStride) {
          let v = voxels[at] as number;
          if (m !== 1) v *= m;
          if (a !== 0) v += a;
          values[k++] = v;
        }
      }
    }
    return { shape: [rows, columns], values };
  }
}

/** A typed array over the voxels: a view where byte order and alignment allow, else a copy. */
function readVoxels(header: NiftiHeader, bytes: Uint8Array): VoxelArray {
  const Voxels = ARRAYS[header.dtype];
  const size = header.bytesPerVoxel;
  const count = header.dataBytes / size;
  const offset = bytes.byteOffset + header.voxOffset;
  if (header.littleEndian === HOST_LITTLE_ENDIAN || size === 1) {
    if (offset % size === 0) return new Voxels(bytes.buffer as ArrayBuffer, offset, count);
    const copy = new Uint8Array(header.dataBytes);
    copy.set(bytes.subarray(header.voxOffset, header.voxOffset + header.dataBytes));
    return new Voxels(copy.buffer, 0, count);
  }
  // The other byte order: each voxel's bytes reversed into a fresh array.
  const swapped = new Uint8Array(header.dataBytes);
  const source = bytes.subarray(header.voxOffset, header.voxOffset + header.dataBytes);
  for (let i = 0; i < header.dataBytes; i += size) {
    for (let j = 0; j < size; j++) swapped[i + j] = source[i + size - 1 - j] as number;
  }
  return new Voxels(swapped.buffer, 0, count);
}

/** A whole (already decompressed) `.nii` file. */
export function readNifti(bytes: Uint8Array): NiftiVolume {
  return new NiftiVolume(parseHeader(bytes), bytes);
}
