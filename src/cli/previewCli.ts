// The sample preview's reading code, headless (`npm run --silent preview-cli -- ...`):
//
// slice FILE --dim D --index I
//   One JSON line: the slice's shape, the voxel type, the lowest and highest value (NaN left
//   out; null when every value is NaN) and the sha256 of its values as little-endian float64
//   in row-major order, the numbers nibabel's get_fdata()[...] gives.
// overlays --records R [--tasks T] [--index I]
//   One JSON line per record (or the one at index I): {"boxes", "points", "lines"} in pixel
//   centres of the stored slice; a record that cannot be drawn prints {"index", "line",
//   "error"} instead, and the status is then 1.
//
// Scripts and tests compare it with nibabel and hand-computed geometry; usage errors exit 2.

import { readNiftiFile } from '../core/niftiFile';
import { NiftiError } from '../shared/nifti/header';
import type { RecordEntry } from '../core/preview/recordsFile';
import { readJsonFile, readRecords, RecordsError, resolveFromRecords } from '../core/preview/recordsFile';
import { summarise } from '../core/sliceSummary';
import { OverlayError, recordOverlays } from '../shared/preview/overlays';

const USAGE = 'usage: preview-cli slice FILE --dim D --index I\n       preview-cli overlays --records R [--tasks T] [--index I]';

class UsageError extends Error {}

function text(args: readonly string[], name: string): string | undefined {
  const i = args.indexOf(`--${name}`);
  if (i < 0) return undefined;
  const value = args[i + 1];
  if (value === undefined || value.startsWith('--')) throw new UsageError(`--${name} needs a value\n${USAGE}`);
  return value;
}

function option(args: readonly string[], name: string): number {
  const text = args.indexOf(`--${name}`) >= 0 ? args[args.indexOf(`--${name}`) + 1] : undefined;
  if (text === undefined) throw new UsageError(`--${name} is required\n${USAGE}`);
  const value = Number(text);
  if (!Number.isInteger(value)) throw new UsageError(`--${name} must be a whole number, not "${text}"`);
  return value;
}

async function sliceCommand(args: readonly string[]): Promise<number> {
  const [file, ...rest] = args;
  if (file === undefined || file.startsWith('--')) throw new UsageError(USAGE);
  const volume = await readNiftiFile(file);
  const slice = volume.slice(option(rest, 'dim'), option(rest, 'index'));
  process.stdout.write(`${JSON.stringify(summarise(slice, volume.header.dtype))}\n`);
  return 0;
}

async function overlaysCommand(args: readonly string[]): Promise<number> {
  const recordsFile = text(args, 'records');
  if (recordsFile === undefined) throw new UsageError(`--records is required\n${USAGE}`);
  const tasksFile = text(args, 'tasks');
  const only = args.includes('--index') ? option(args, 'index') : undefined;
  const tasks = tasksFile === undefined ? undefined : await readJsonFile(tasksFile, 'task metadata');
  if (tasks !== undefined && (typeof tasks !== 'object' || tasks === null || Array.isArray(tasks))) {
    throw new RecordsError(`${tasksFile ?? ''}: the task metadata must be an object keyed by "{dataset_name}/{kind}/{taskID}" or "{dataset_name}/{taskID}"`);
  }
  const entries = await readRecords(recordsFile);
  if (only !== undefined && (only < 0 || only >= entries.length)) {
    throw new RecordsError(`${recordsFile}: there is no record ${only} (it holds ${entries.length})`);
  }
  const landmarkCache = new Map<string, Promise<unknown>>();
  let failed = false;
  for (const entry of only === undefined ? entries : [entries[only] as RecordEntry]) {
    let line: unknown;
    try {
      if ('error' in entry) throw new OverlayError(entry.error);
      const landmarkFile = entry.record.landmark_file;
      let landmarks: unknown;
      if (typeof landmarkFile === 'string') {
        const file = resolveFromRecords(recordsFile, landmarkFile);
        if (!landmarkCache.has(file)) landmarkCache.set(file, readJsonFile(file, 'landmark file'));
        landmarks = await (landmarkCache.get(file) as Promise<unknown>);
      }
      line = recordOverlays(entry.record, tasks as Record<string, unknown> | undefined, landmarks);
    } catch (err) {
      if (!(err instanceof OverlayError || err instanceof RecordsError)) throw err;
      failed = true;
      line = { index: entry.index, line: entry.line, error: err.message };
    }
    process.stdout.write(`${JSON.stringify(line)}\n`);
  }
  return failed ? 1 : 0;
}

async function main(args: readonly string[]): Promise<number> {
  const [command, ...rest] = args;
  if (command === 'slice') return sliceCommand(rest);
  if (command === 'overlays') return overlaysCommand(rest);
  throw new UsageError(USAGE);
}

// A reader that stops early (`| head`) is not an error.
process.stdout.on('error', (err: NodeJS.ErrnoException) => {
  if (err.code === 'EPIPE') process.exit(process.exitCode ?? 0);
  throw err;
});

main(process.argv.slice(2)).then(
  (code) => (process.exitCode = code),
  (err: unknown) => {
    if (err instanceof UsageError || err instanceof NiftiError || err instanceof RecordsError) {
      process.stderr.write(`preview-cli: ${err.message}\n`);
      process.exitCode = err instanceof UsageError ? 2 : 1;
    } else {
      throw err;
    }
  },
);
