// Reads a `.nii` or `.nii.gz` file from disk for the host and the preview CLI (Node only). Gzip
// is recognised by its magic bytes, not the name, and inflated on libuv's thread pool, so a
// large volume never blocks the extension host. The decompressed size is bounded, so a huge
// or lying file is refused with a message instead of exhausting memory.

import { createReadStream } from 'node:fs';
import { open, readFile } from 'node:fs/promises';
import { promisify } from 'node:util';
import { createGunzip, gunzip } from 'node:zlib';
import type { NiftiHeader } from '../shared/nifti/header';
import { HEADER_BYTES, NiftiError, parseHeader } from '../shared/nifti/header';
import type { NiftiVolume } from '../shared/nifti/volume';
import { checkLength, readNifti, volumeShape } from '../shared/nifti/volume';

const inflate = promisify(gunzip);

/** The largest decoded volume read: 2 GiB. */
export const MAX_VOLUME_BYTES = 2 ** 31;

export function isGzip(bytes: Uint8Array): boolean {
  return bytes.length >= 2 && bytes[0] === 0x1f && bytes[1] === 0x8b;
}

/** The file's NIfTI bytes (gunzipped if needed); errors name the file and what to do. */
export async function readNiftiBytes(file: string, maxBytes = MAX_VOLUME_BYTES): Promise<Uint8Array> {
  let raw: Buffer;
  try {
    raw = await readFile(file);
  } catch (err) {
    throw new NiftiError(`${file}: cannot read it (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
  }
  if (!isGzip(raw)) {
    if (raw.length > maxBytes) throw new NiftiError(`${file}: ${raw.length} bytes, more than the ${maxBytes} bytes a volume may have here`);
    return raw;
  }
  try {
    return await inflate(raw, { maxOutputLength: maxBytes });
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ERR_BUFFER_TOO_LARGE' || /Cannot create a Buffer larger|too large/i.test((err as Error).message)) {
      throw new NiftiError(`${file}: decompresses to more than ${maxBytes} bytes, more than a volume may have here`);
    }
    throw streamProblem(file, err as Error);
  }
}

export async function readNiftiFile(file: string, maxBytes = MAX_VOLUME_BYTES): Promise<NiftiVolume> {
  const bytes = await readNiftiBytes(file, maxBytes);
  try {
    return readNifti(bytes);
  } catch (err) {
    if (err instanceof NiftiError) throw new NiftiError(`${file}: ${err.message}`);
    throw err;
  }
}

export interface NiftiSummary {
  readonly header: NiftiHeader;
  /** [x, y, z] as volumeShape gives it. */
  readonly shape: readonly [number, number, number];
}

/** Whether `file` is gzip, from its first two bytes; a file that cannot be opened says so. */
export async function sniffGzip(file: string): Promise<boolean> {
  const head = Buffer.alloc(2);
  try {
    const handle = await open(file, 'r');
    try {
      await handle.read(head, 0, 2, 0);
    } finally {
      await handle.close();
    }
  } catch (err) {
    throw new NiftiError(`${file}: cannot read it (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
  }
  return isGzip(head);
}

/** What a failed read or inflate of `file` means, in the words the readers use. */
export function streamProblem(file: string, err: Error): NiftiError {
  if (err instanceof NiftiError) return err;
  const code = (err as NodeJS.ErrnoException).code;
  if (code === 'ENOENT' || code === 'EACCES') return new NiftiError(`${file}: cannot read it (${code})`);
  if (code === 'Z_BUF_ERROR' || /unexpected end of file/i.test(err.message)) {
    return new NiftiError(`${file}: the gzip data is cut short (the file may be incomplete: copy it again)`);
  }
  return new NiftiError(`${file}: not valid gzip data (${err.message})`);
}

/**
 * Checks a volume without keeping it: streams the file (through gunzip when compressed),
 * keeps only the header, counts the rest, and fails as readNiftiFile would on a broken or
 * cut-short file. Memory stays at a few chunks whatever the volume's size.
 */
export async function inspectNiftiFile(file: string): Promise<NiftiSummary> {
  const gzip = await sniffGzip(file);
  const chunks: Buffer[] = [];
  let kept = 0;
  let total = 0;
  try {
    const stream = gzip ? createReadStream(file).pipe(createGunzip()) : createReadStream(file);
    for await (const chunk of stream as AsyncIterable<Buffer>) {
      total += chunk.length;
      if (kept < HEADER_BYTES) {
        chunks.push(chunk);
        kept += chunk.length;
      }
    }
  } catch (err) {
    throw streamProblem(file, err as Error);
  }
  try {
    const header = parseHeader(Buffer.concat(chunks).subarray(0, Math.min(kept, HEADER_BYTES)));
    const shape = volumeShape(header);
    checkLength(header, total);
    return { header, shape };
  } catch (err) {
    if (err instanceof NiftiError) throw new NiftiError(`${file}: ${err.message}`);
    throw err;
  }
}
