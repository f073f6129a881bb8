// A NIfTI volume read as a stream (Node side): the file is inflated chunk by chunk (zlib on
// the thread pool) into one buffer of the volume's size, and a slice is answered as soon as
// its bytes are in. An axial slice (along dimension 2) is one contiguous run of the file, so
// the first one shows after one chunk of inflating, and the middle one once half
// the file is in, not the whole of it; slices along dimensions 0 and 1 need every plane.
// Memory is the decoded volume (bounded) and a chunk.

import { createReadStream } from 'node:fs';
import type { Readable } from 'node:stream';
import { createGunzip } from 'node:zlib';
import type { NiftiHeader } from '../shared/nifti/header';
import { HEADER_BYTES, NiftiError, parseHeader } from '../shared/nifti/header';
import type { Slice } from '../shared/nifti/volume';
import { checkLength, NiftiVolume, volumeShape } from '../shared/nifti/volume';
import { MAX_VOLUME_BYTES, sniffGzip, streamProblem } from './niftiFile';

const CHUNK_BYTES = 1 << 22;
const HOST_LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

interface Waiter {
  readonly need: number;
  readonly resolve: () => void;
  readonly reject: (err: Error) => void;
}

export class StreamingNifti {
  /** The header, as soon as its bytes are inflated. */
  readonly header: Promise<NiftiHeader>;
  /** Settles when the whole file is in (rejects when it cannot be read). */
  readonly done: Promise<NiftiVolume>;
  private buffer: Uint8Array | undefined;
  private head: Buffer[] = [];
  private headLength = 0;
  private filled = 0;
  private failure: Error | undefined;
  private ended = false;
  private volumeView: NiftiVolume | undefined;
  private readonly waiters: Waiter[] = [];
  private readonly stream: Readable;

  private constructor(
    readonly file: string,
    gzip: boolean,
    private readonly maxBytes: number,
  ) {
    let resolveHeader!: (h: NiftiHeader) => void;
    let rejectHeader!: (e: Error) => void;
    this.header = new Promise((resolve, reject) => {
      resolveHeader = resolve;
      rejectHeader = reject;
    });
    this.header.catch(() => undefined);
    // Large chunks (4 MiB): with the 16 KiB default, per-chunk overhead costs as much as
    // inflating; the first slice still comes after one chunk (bench:nifti).
    const raw = createReadStream(file, { highWaterMark: CHUNK_BYTES });
    this.stream = gzip ? raw.pipe(createGunzip({ chunkSize: CHUNK_BYTES })) : raw;
    raw.on('error', (err) => this.fail(err));
    this.done = new Promise<NiftiVolume>((resolve, reject) => {
      this.stream.on('data', (chunk: Buffer) => {
        try {
          this.take(chunk, resolveHeader);
        } catch (err) {
          this.fail(err as Error);
        }
      });
      this.stream.on('end', () => {
        this.ended = true;
        try {
          if (this.buffer === undefined) this.parse(true, resolveHeader);
          const volume = this.complete();
          this.wake();
          resolve(volume);
        } catch (err) {
          this.fail(err as Error);
          reject(this.failure);
        }
      });
      this.stream.on('error', (err) => {
        this.fail(err);
        reject(this.failure);
      });
      this.onFailure = (err) => {
        rejectHeader(err);
        reject(err);
      };
    });
    this.done.catch(() => undefined);
  }

  private onFailure: (err: Error) => void = () => undefined;

  /** Starts reading `file` (gzip or not, by its first bytes). */
  static async start(file: string, maxBytes = MAX_VOLUME_BYTES): Promise<StreamingNifti> {
    return new StreamingNifti(file, await sniffGzip(file), maxBytes);
  }

  /** The slice along `dim` at `index`, once its bytes are in. */
  async slice(dim: number, index: number): Promise<Slice> {
    return (await this.ready(dim, index)).slice(dim, index);
  }

  /** The same in float32 (each value rounded once), as the panels show it. */
  async slice32(dim: number, index: number): Promise<{ readonly shape: readonly [number, number]; readonly values: Float32Array }> {
    return (await this.ready(dim, index)).slice(dim, index, Float32Array);
  }

  /** The volume, once the bytes of that slice are in. */
  private async ready(dim: number, index: number): Promise<NiftiVolume> {
    const header = await this.header;
    const volume = await this.viewFor(header, dim);
    const [nx, ny, nz] = volume.shape;
    if (dim === 2 && Number.isInteger(index) && index >= 0 && index < nz) {
      await this.available(header.voxOffset + (index + 1) * nx * ny * header.bytesPerVoxel);
    } else {
      await this.done;
    }
    return volume;
  }

  /** The shape as NiftiVolume gives it, from the header alone. */
  async shape(): Promise<readonly [number, number, number]> {
    const header = await this.header;
    return volumeShape(header);
  }

  /** Stops reading (the caller no longer needs the volume). */
  close(): void {
    this.stream.destroy();
    this.fail(new NiftiError(`${this.file}: closed`));
  }

  private take(chunk: Buffer, resolveHeader: (h: NiftiHeader) => void): void {
    if (this.buffer === undefined) {
      this.head.push(chunk);
      this.headLength += chunk.length;
      if (this.headLength >= HEADER_BYTES) this.parse(false, resolveHeader);
      return;
    }
    const room = this.buffer.length - this.filled;
    if (chunk.length > room) {
      // Trailing bytes after the voxels (a padded file) are not part of the volume.
      this.buffer.set(chunk.subarray(0, room), this.filled);
      this.filled += room;
    } else {
      this.buffer.set(chunk, this.filled);
      this.filled += chunk.length;
    }
    this.wake();
  }

  private parse(atEnd: boolean, resolveHeader: (h: NiftiHeader) => void): void {
    const head = Buffer.concat(this.head);
    this.head = [];
    let header: NiftiHeader;
    try {
      header = parseHeader(head);
    } catch (err) {
      if (err instanceof NiftiError) throw new NiftiError(`${this.file}: ${err.message}`);
      throw err;
    }
    const total = header.voxOffset + header.dataBytes;
    if (total > this.maxBytes) {
      throw new NiftiError(`${this.file}: the header promises ${total} bytes of volume, more than the ${this.maxBytes} a volume may have here`);
    }
    this.buffer = new Uint8Array(new ArrayBuffer(total));
    const first = head.subarray(0, Math.min(head.length, total));
    this.buffer.set(first);
    this.filled = first.length;
    resolveHeader(header);
    if (!atEnd) this.wake();
  }

  /** A volume over the buffer: at once where the voxels can be read in place, else when done. */
  private async viewFor(header: NiftiHeader, dim: number): Promise<NiftiVolume> {
    if (this.volumeView !== undefined) return this.volumeView;
    const inPlace = (header.littleEndian === HOST_LITTLE_ENDIAN || header.bytesPerVoxel === 1) && header.voxOffset % header.bytesPerVoxel === 0;
    if (!inPlace || dim !== 2) return this.done;
    try {
      this.volumeView = new NiftiVolume(header, this.buffer as Uint8Array);
    } catch (err) {
      if (err instanceof NiftiError) throw new NiftiError(`${this.file}: ${err.message}`);
      throw err;
    }
    return this.volumeView;
  }

  private complete(): NiftiVolume {
    const buffer = this.buffer as Uint8Array;
    try {
      const header = parseHeader(buffer);
      checkLength(header, this.filled);
      this.volumeView ??= new NiftiVolume(header, buffer);
    } catch (err) {
      if (err instanceof NiftiError) throw new NiftiError(`${this.file}: ${err.message}`);
      throw err;
    }
    return this.volumeView;
  }

  private available(need: number): Promise<void> {
    if (this.failure !== undefined) return Promise.reject(this.failure);
    if (this.filled >= need) return Promise.resolve();
    return new Promise((resolve, reject) => this.waiters.push({ need, resolve, reject }));
  }

  private wake(): void {
    for (let i = this.waiters.length - 1; i >= 0; i--) {
      const waiter = this.waiters[i] as Waiter;
      if (this.filled >= waiter.need) {
        this.waiters.splice(i, 1);
        waiter.resolve();
      }
    }
    if (this.ended) {
      // The file ended before these bytes: done's own error says how.
      for (const waiter of this.waiters.splice(0)) waiter.reject(this.failure ?? new NiftiError(`${this.file}: the file is cut short`));
    }
  }

  private fail(err: Error): void {
    if (this.failure !== undefined) return;
    this.failure = streamProblem(this.file, err);
    this.stream.destroy();
    for (const waiter of this.waiters.splice(0)) waiter.reject(this.failure);
    this.onFailure(this.failure);
  }
}
