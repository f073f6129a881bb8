// `npm run bench:nifti`: the preview's NIfTI decoding on a generated 512 x 512 x 300 int16
// .nii.gz, through the code path the product ships (the extension host's StreamingNifti and
// the panels' sliceImage, in Node), side by side in the same run with nifti-reader-js (its
// fflate inflate, then header and image). Printed: time to the first displayed slice, to the
// middle axial slice beside the time zlib alone takes to inflate the file up to it, to the
// full decode beside nifti-reader-js's, and the time to show another slice of an open volume.
//
// Options: --x 512 --y 512 --z 300 --repeats 3
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { createReadStream } from 'node:fs';
import { createGunzip, gzipSync } from 'node:zlib';
import * as nifti from 'nifti-reader-js';
import { StreamingNifti } from '../../src/core/niftiStream';
import { sliceImage } from '../../src/core/preview/sampleSource';

const GOALS = { firstSliceMs: 100, middleRatio: 1.2, speedup: 3, otherSampleMs: 16, sliceChangeMs: 8 };

function option(name: string, fallback: number): number {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? Number(process.argv[i + 1]) : fallback;
}
const [NX, NY, NZ] = [option('x', 512), option('y', 512), option('z', 300)];
const REPEATS = option('repeats', 3);

/** A CT-like phantom: air, a body ellipse of soft tissue with noise, and a bright spine. */
function phantom(): Buffer {
  const header = Buffer.alloc(352);
  header.writeInt32LE(348, 0);
  header.writeInt16LE(3, 40);
  header.writeInt16LE(NX, 42);
  header.writeInt16LE(NY, 44);
  header.writeInt16LE(NZ, 46);
  for (let i = 4; i < 8; i++) header.writeInt16LE(1, 40 + 2 * i);
  header.writeInt16LE(4, 70); // int16
  header.writeInt16LE(16, 72);
  [1, 0.7, 0.7, 2.5].forEach((v, i) => header.writeFloatLE(v, 76 + 4 * i));
  header.writeFloatLE(352, 108);
  header.writeFloatLE(1, 112);
  header.write('n+1\0', 344, 'latin1');
  const voxels = new Int16Array(NX * NY * NZ);
  let seed = 12345;
  for (let z = 0; z < NZ; z++) {
    for (let y = 0; y < NY; y++) {
      for (let x = 0; x < NX; x++) {
        seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
        const noise = (seed >>> 24) - 128;
        const dx = (x - NX / 2) / (NX * 0.4);
        const dy = (y - NY / 2) / (NY * 0.3);
        const inBody = dx * dx + dy * dy < 1;
        const spine = Math.hypot(x - NX / 2, y - NY * 0.65) < NX * 0.04;
        voxels[x + NX * (y + NY * z)] = spine ? 700 + noise : inBody ? 40 + (noise >> 2) : -1000 + (noise >> 4);
      }
    }
  }
  return Buffer.concat([header, Buffer.from(voxels.buffer)]);
}

/** zlib alone: the time to inflate the file up to `bytes` of output. */
function inflateUpTo(file: string, bytes: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const start = performance.now();
    let seen = 0;
    // The same chunk sizes as the product's stream.
    const stream = createReadStream(file, { highWaterMark: 1 << 22 }).pipe(createGunzip({ chunkSize: 1 << 22 }));
    stream.on('data', (chunk: Buffer) => {
      seen += chunk.length;
      if (seen >= bytes) {
        const ms = performance.now() - start;
        stream.destroy();
        resolve(ms);
      }
    });
    stream.on('error', reject);
  });
}

const median = (values: number[]): number => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)] as number;
const ms = (v: number): string => v.toFixed(v < 10 ? 2 : 1);

async function main(): Promise<void> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'medvlm-bench-nifti-'));
  try {
    const file = path.join(dir, 'phantom.nii.gz');
    writeFileSync(file, gzipSync(phantom(), { level: 6 }));
    const middle = Math.floor(NZ / 2);
    const rows = { first: [] as number[], middle: [] as number[], inflateMiddle: [] as number[], full: [] as number[], stock: [] as number[], other: [] as number[], change: [] as number[] };
    for (let r = 0; r < REPEATS; r++) {
      // Ours: a fresh stream each time, as opening a sample or the file does.
      let start = performance.now();
      const stream = await StreamingNifti.start(file);
      await sliceImage(stream, 2, 0);
      rows.first.push(performance.now() - start);
      start = performance.now();
      const again = await StreamingNifti.start(file);
      await sliceImage(again, 2, middle);
      rows.middle.push(performance.now() - start);
      rows.inflateMiddle.push(await inflateUpTo(file, 352 + (middle + 1) * NX * NY * 2));
      start = performance.now();
      const whole = await StreamingNifti.start(file);
      await whole.done;
      rows.full.push(performance.now() - start);
      // An open volume: another sample on it, then stepping one slice (grey levels included).
      start = performance.now();
      await sliceImage(whole, 2, middle + 10);
      rows.other.push(performance.now() - start);
      start = performance.now();
      await sliceImage(whole, 2, middle + 11);
      rows.change.push(performance.now() - start);
      for (const s of [stream, again]) s.close();

      // nifti-reader-js: inflate, header, image, then the same slice as a typed array.
      start = performance.now();
      const bytes = readFileSync(file);
      let data: ArrayBuffer = bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength);
      if (nifti.isCompressed(data)) data = nifti.decompress(data) as ArrayBuffer;
      const header = nifti.readHeader(data);
      const image = nifti.readImage(header as nifti.NIFTI1, data);
      const voxels = new Int16Array(image);
      if (voxels.length !== NX * NY * NZ) throw new Error('nifti-reader-js read another size');
      rows.stock.push(performance.now() - start);
    }
    const first = median(rows.first);
    const middleMs = median(rows.middle);
    const inflateMiddle = median(rows.inflateMiddle);
    const full = median(rows.full);
    const stock = median(rows.stock);
    console.log(`NIfTI decode benchmark: ${NX} x ${NY} x ${NZ} int16 .nii.gz, median of ${REPEATS} (ms)`);
    console.log(`first slice (file opened to slice ready):      ${ms(first).padStart(8)}   (goal < ${GOALS.firstSliceMs})`);
    console.log(`middle axial slice:                             ${ms(middleMs).padStart(8)}`);
    console.log(`  zlib alone inflating up to it:                ${ms(inflateMiddle).padStart(8)}   ratio ${(middleMs / inflateMiddle).toFixed(2)} (goal <= ${GOALS.middleRatio})`);
    console.log(`full decode, ours:                              ${ms(full).padStart(8)}`);
    console.log(`full decode, nifti-reader-js (fflate):          ${ms(stock).padStart(8)}`);
    console.log(`another sample of an open volume:               ${ms(median(rows.other)).padStart(8)}   (goal < ${GOALS.otherSampleMs})`);
    console.log(`slice change:                                   ${ms(median(rows.change)).padStart(8)}   (goal < ${GOALS.sliceChangeMs})`);
    console.log(`first slice: ${ms(first)} ms`);
    console.log(`full decode speedup: ${(stock / full).toFixed(1)}x (goal >= ${GOALS.speedup}x)`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
