// The NIfTI reader against files written by nibabel (test/fixtures/nifti/make_cases.py, run in
// the trainer's environment): every voxel type read, both byte orders, NIfTI-1 and -2, gzip
// or not, header scaling, NaN voxels, an LPS orientation, 4D with one time point and a 2D
// image. Each slice must be the one nibabel's get_fdata()[...] gives, bit for bit (sha256
// of the float64 values), and broken files must fail with a message naming what is wrong.

import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { gzipSync } from 'node:zlib';
import { summarise } from '../../src/core/sliceSummary';
import { readNiftiBytes, readNiftiFile } from '../../src/core/niftiFile';
import { StreamingNifti } from '../../src/core/niftiStream';
import { repoRoot, tempDir } from './testUtil';

interface Case {
  readonly file: string;
  readonly note: string;
  readonly dtype: string;
  readonly shape: number[];
  readonly slices: Array<{ dim: number; index: number; shape: number[]; min: number | null; max: number | null; sha256: string }>;
}

describe('NIfTI reader', () => {
  let dir = '';
  let cases: Case[] = [];

  before(() => {
    const python = process.env.MEDVLM_PYTHON;
    assert.ok(python, 'MEDVLM_PYTHON must name the trainer environment (npm test sets it): nibabel writes the files');
    dir = mkdtempSync(path.join(os.tmpdir(), 'medvlm-nifti-'));
    execFileSync(python, [path.join(repoRoot, 'test/fixtures/nifti/make_cases.py'), dir], { stdio: 'inherit' });
    cases = JSON.parse(readFileSync(path.join(dir, 'cases.json'), 'utf8')) as Case[];
  });

  after(() => rmSync(dir, { recursive: true, force: true }));

  it('reads every slice of every file as nibabel does, bit for bit', async () => {
    assert.ok(cases.length >= 20, `${cases.length} cases`);
    const dtypes = new Set(cases.map((c) => c.dtype));
    for (const dtype of ['uint8', 'int8', 'int16', 'uint16', 'int32', 'uint32', 'float32', 'float64']) assert.ok(dtypes.has(dtype), dtype);
    for (const c of cases) {
      const volume = await readNiftiFile(path.join(dir, c.file));
      assert.deepEqual([...volume.shape], c.shape, c.file);
      assert.equal(volume.header.dtype, c.dtype, c.file);
      for (const want of c.slices) {
        const got = summarise(volume.slice(want.dim, want.index), c.dtype);
        assert.deepEqual(got, { shape: want.shape, dtype: c.dtype, min: want.min, max: want.max, sha256: want.sha256 }, `${c.file} (${c.note}) dim ${want.dim} index ${want.index}`);
      }
    }
  });

  it('streams every file to the same slices as reading it whole', async () => {
    for (const c of cases) {
      const whole = await readNiftiFile(path.join(dir, c.file));
      const stream = await StreamingNifti.start(path.join(dir, c.file));
      assert.deepEqual(await stream.shape(), whole.shape, c.file);
      for (const want of c.slices) {
        const got = await stream.slice(want.dim, want.index);
        assert.deepEqual(got, whole.slice(want.dim, want.index), `${c.file} dim ${want.dim} index ${want.index}`);
      }
    }
  });

  it('answers an axial slice as soon as its bytes are in, before the rest of the file', async (t) => {
    // 256 x 256 x 160 int16 (20 MiB), gzip: the first slice is 1/160 of the voxels, and the
    // stream inflates 4 MiB at a time.
    const [nx, ny, nz] = [256, 256, 160];
    const header = Buffer.from((await readNiftiBytes(path.join(dir, 'int16-le.nii.gz'))).subarray(0, 352));
    const big = Buffer.alloc(352 + nx * ny * nz * 2);
    header.copy(big);
    big.writeInt16LE(4, 40);
    big.writeInt16LE(3, 40);
    big.writeInt16LE(nx, 42);
    big.writeInt16LE(ny, 44);
    big.writeInt16LE(nz, 46);
    for (let i = 0; i < nx * ny * nz; i++) big.writeInt16LE((i * 7919) % 30000, 352 + 2 * i);
    const file = path.join(tempDir(t), 'big.nii.gz');
    writeFileSync(file, gzipSync(big, { level: 1 }));
    const stream = await StreamingNifti.start(file);
    let done = false;
    void stream.done.then(() => (done = true));
    const first = await stream.slice(2, 0);
    assert.equal(done, false, 'the first axial slice came before the end of the file');
    assert.deepEqual(first.shape, [nx, ny]);
    // Rows are x, columns y: row 1, column 0 is voxel 1; row 0, column 1 is voxel nx.
    assert.deepEqual([first.values[ny], first.values[1]], [7919, (nx * 7919) % 30000]);
    const whole = await stream.done;
    assert.deepEqual(await stream.slice(0, 100), whole.slice(0, 100));
  });

  it('a stream of a broken file fails its slices with the file and the reason', async (t) => {
    const scratch = tempDir(t);
    const gz = readFileSync(path.join(dir, 'int16-le.nii.gz'));
    const cut = path.join(scratch, 'cut.nii.gz');
    writeFileSync(cut, gz.subarray(0, Math.floor(gz.length / 2)));
    await assert.rejects((await StreamingNifti.start(cut)).slice(0, 0), new RegExp(`^NiftiError: ${cut.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: the gzip data is cut short`));
    const plain = readFileSync(path.join(dir, 'nifti2-le.nii'));
    const short = path.join(scratch, 'short.nii');
    writeFileSync(short, plain.subarray(0, plain.length - 100));
    await assert.rejects((await StreamingNifti.start(short)).slice(2, 3), /short\.nii: the file is cut short: the header says 7 x 5 x 4 int16 voxels/);
    await assert.rejects(StreamingNifti.start(path.join(scratch, 'nope.nii')), /nope\.nii: cannot read it \(ENOENT\)/);
  });

  it('reads the header: version, byte order, spacing and scaling', async () => {
    const be = await readNiftiFile(path.join(dir, 'nifti2-be.nii'));
    assert.deepEqual([be.header.version, be.header.littleEndian, be.header.dtype], [2, false, 'int16']);
    const lps = await readNiftiFile(path.join(dir, 'lps.nii.gz'));
    assert.deepEqual(lps.header.pixdim.slice(0, 3).map((v) => Math.round(v * 1000) / 1000), [0.7, 0.7, 2.5]);
    const scaled = await readNiftiFile(path.join(dir, 'scaled-int16.nii.gz'));
    assert.deepEqual([scaled.header.slope, scaled.header.inter], [Math.fround(0.37), -1024.5]);
    const plain = await readNiftiFile(path.join(dir, 'int16-le.nii.gz'));
    assert.deepEqual([plain.header.slope, plain.header.inter], [1, 0], 'an unset slope means no scaling');
  });

  it('prints the slice summary from the npm script, and fails clearly on bad arguments', () => {
    const c = cases.find((x) => x.file === 'scaled-int16.nii.gz');
    const want = c?.slices.find((s) => s.dim === 1);
    assert.ok(c && want);
    const cli = (...args: string[]) => spawnSync(process.execPath, [path.join(repoRoot, 'scripts/previewCli.mjs'), ...args], { encoding: 'utf8' });
    const ok = cli('slice', path.join(dir, c.file), '--dim', String(want.dim), '--index', String(want.index));
    assert.equal(ok.status, 0, ok.stderr);
    assert.deepEqual(JSON.parse(ok.stdout), { shape: want.shape, dtype: 'int16', min: want.min, max: want.max, sha256: want.sha256 });
    assert.equal(ok.stdout.trim().split('\n').length, 1, 'one JSON line, nothing else');
    const usage = cli('slice', path.join(dir, c.file), '--dim', '1');
    assert.equal(usage.status, 2);
    assert.match(usage.stderr, /--index is required/);
    const missing = cli('slice', path.join(dir, 'nope.nii.gz'), '--dim', '0', '--index', '0');
    assert.equal(missing.status, 1);
    assert.match(missing.stderr, /nope\.nii\.gz: cannot read it \(ENOENT\)/);
    const outside = cli('slice', path.join(dir, c.file), '--dim', '0', '--index', '7');
    assert.equal(outside.status, 1);
    assert.match(outside.stderr, /slice 7 is outside 0\.\.6 along dimension 0 \(volume shape 7 x 5 x 4\)/);
  });

  it('refuses broken files with a message naming the file and what is wrong', async (t) => {
    const scratch = tempDir(t);
    const original = readFileSync(path.join(dir, 'nifti2-le.nii'));
    const write = (name: string, bytes: Uint8Array) => {
      const file = path.join(scratch, name);
      writeFileSync(file, bytes);
      return file;
    };
    const fails = async (file: string, pattern: RegExp) => {
      await assert.rejects(readNiftiFile(file), (err: Error) => {
        assert.match(err.message, pattern);
        assert.ok(err.message.startsWith(file), `the message names the file: ${err.message}`);
        return true;
      });
    };
    const gz = readFileSync(path.join(dir, 'int16-le.nii.gz'));
    await fails(write('cut.nii.gz', gz.subarray(0, Math.floor(gz.length / 2))), /the gzip data is cut short/);
    await fails(write('short.nii', original.subarray(0, original.length - 100)), /the file is cut short: the header says 7 x 5 x 4 int16 voxels \(280 bytes\)/);
    const int64 = Buffer.from(original);
    int64.writeInt16LE(1024, 12);
    int64.writeInt16LE(64, 14);
    await fails(write('int64.nii', int64), /voxel type int64 is not supported/);
    const pair = Buffer.from(readFileSync(path.join(dir, '2d.nii')));
    pair.write('ni1\0', 344, 'latin1');
    await fails(write('pair.nii', pair), /\.hdr\/\.img pair/);
    await fails(write('image.nii', Buffer.from('\x89PNG\r\n\x1a\n not a volume at all')), /not a NIfTI file/);
    await fails(write('lying.nii.gz', gzipSync(Buffer.concat([original.subarray(0, 16), Buffer.alloc(8, 0xff), original.subarray(24)]))), /dimension 0 has size -1|dimension count/);
    await assert.rejects(readNiftiBytes(path.join(dir, 'int16-le.nii.gz'), 600), /decompresses to more than 600 bytes/);
  });
});
