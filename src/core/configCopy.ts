// "Restart with edited config" writes the config a run used into a new file beside the
// original, for the user to edit and start. A copy never replaces a file: the user's configs
// are theirs, and two restarts at once must not write over each other.

import { writeFile } from 'node:fs/promises';
import path from 'node:path';

const CONFIG_SUFFIX = '.sft.yaml';
const MAX_COPIES = 1000;

/** `lung.sft.yaml` -> `lung`; other YAML names lose `.yaml`/`.yml`. */
export function configFileStem(configPath: string): string {
  const name = path.basename(configPath);
  const stem = name.replace(/\.sft\.ya?ml$/i, '').replace(/\.ya?ml$/i, '');
  return stem.length > 0 ? stem : 'config';
}

/** `<stem>-<n>.sft.yaml`: the original counts as the first, so copies start at 2. */
export function configCopyName(configPath: string, n: number): string {
  return `${configFileStem(configPath)}-${n}${CONFIG_SUFFIX}`;
}

/**
 * Writes `text` to the first free `<stem>-<n>.sft.yaml` in `dir` and returns its path. The
 * exclusive create (`wx`) is the check, so an existing file is never overwritten, even one
 * that appears between two attempts.
 */
export async function writeConfigCopy(dir: string, originalConfigPath: string, text: string): Promise<string> {
  for (let n = 2; n < MAX_COPIES; n += 1) {
    const candidate = path.join(dir, configCopyName(originalConfigPath, n));
    try {
      await writeFile(candidate, text, { flag: 'wx' });
      return candidate;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') {
        throw err;
      }
    }
  }
  throw new Error(`every name from ${configCopyName(originalConfigPath, 2)} to ${configCopyName(originalConfigPath, MAX_COPIES - 1)} is taken in ${dir}`);
}
