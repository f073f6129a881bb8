// `npm run --silent preview-cli -- slice FILE --dim D --index I`: the sample preview's reading
// code, headless. Prints one JSON line: the slice's shape, the voxel type, the lowest and
// highest value (NaN left out; null when every value is NaN) and the sha256 of its values as
// little-endian float64 in row-major order, the numbers nibabel's get_fdata()[...] gives.
// Scripts and tests compare it with nibabel; errors go to stderr with a non-zero status.

import { readNiftiFile } from '../core/niftiFile';
import { NiftiError } from '../shared/nifti/header';
import { summarise } from '../core/sliceSummary';

const USAGE = 'usage: preview-cli slice FILE --dim D --index I';

class UsageError extends Error {}

function option(args: readonly string[], name: string): number {
  const i = args.indexOf(`--${name}`);
  const text = i >= 0 ? args[i + 1] : undefined;
  if (text === undefined) throw new UsageError(`--${name} is required\n${USAGE}`);
  const value = Number(text);
  if (!Number.isInteger(value)) throw new UsageError(`--${name} must be a whole number, not "${text}"`);
  return value;
}

async function main(args: readonly string[]): Promise<number> {
  const [command, file, ...rest] = args;
  if (command !== 'slice' || file === undefined || file.startsWith('--')) throw new UsageError(USAGE);
  const volume = await readNiftiFile(file);
  const slice = volume.slice(option(rest, 'dim'), option(rest, 'index'));
  process.stdout.write(`${JSON.stringify(summarise(slice, volume.header.dtype))}\n`);
  return 0;
}

main(process.argv.slice(2)).then(
  (code) => (process.exitCode = code),
  (err: unknown) => {
    if (err instanceof UsageError || err instanceof NiftiError) {
      process.stderr.write(`preview-cli: ${err.message}\n`);
      process.exitCode = err instanceof UsageError ? 2 : 1;
    } else {
      throw err;
    }
  },
);
