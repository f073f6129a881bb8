// Records files for the sample preview (Node side): `.jsonl` (one record per line) and
// `.json` (an array), each record with the line it starts on, and a problem instead of a
// record for a line that does not parse, so one broken line never hides the rest. `.parquet`
// is read through the trainer's `records` command (pyarrow is the trainer's). Task metadata
// and landmark files (`.json`, `.json.gz`) are read here too.

import { execa } from 'execa';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { gunzipSync } from 'node:zlib';
import { isGzip } from '../niftiFile';

export type RecordEntry =
  | { readonly index: number; readonly line: number; readonly record: Record<string, unknown> }
  | { readonly index: number; readonly line: number; readonly error: string };

export class RecordsError extends Error {
  override readonly name = 'RecordsError';
}

async function readText(file: string, what: string): Promise<string> {
  let bytes: Buffer;
  try {
    bytes = await readFile(file);
  } catch (err) {
    throw new RecordsError(`${file}: cannot read the ${what} (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
  }
  try {
    return (isGzip(bytes) ? gunzipSync(bytes) : bytes).toString('utf8');
  } catch (err) {
    throw new RecordsError(`${file}: the gzip data of the ${what} is broken (${(err as Error).message})`);
  }
}

/** Parses JSON, naming the file (and line and column where the parser says). */
export async function readJsonFile(file: string, what: string): Promise<unknown> {
  const text = await readText(file, what);
  try {
    return JSON.parse(text) as unknown;
  } catch (err) {
    throw new RecordsError(`${file}: the ${what} is not valid JSON (${(err as Error).message})`);
  }
}

/** How to run the trainer's CLI: its interpreter and environment (PYTHONPATH set). */
export interface TrainerRunner {
  readonly python: string;
  readonly env: Record<string, string>;
}

/** A .parquet file's records, through `medvlm_sft records` (lines are rows: no line numbers). */
async function readParquet(file: string, runner: TrainerRunner): Promise<RecordEntry[]> {
  const result = await execa(runner.python, ['-m', 'medvlm_sft', 'records', file], {
    env: runner.env,
    extendEnv: false,
    reject: false,
    stdin: 'ignore',
    timeout: 300_000,
    maxBuffer: 1024 * 1024 * 1024,
  });
  if (result.exitCode !== 0) {
    const reason = result.stderr.trim().split('\n').pop() ?? `exit status ${String(result.exitCode)}`;
    throw new RecordsError(`${file}: the trainer could not read it: ${reason.replace(/^medvlm-sft records: /, '')}`);
  }
  return result.stdout
    .split('\n')
    .filter((line) => line.trim() !== '')
    .map((line) => {
      const parsed = JSON.parse(line) as { index: number; record?: Record<string, unknown>; error?: string };
      return parsed.record !== undefined ? { index: parsed.index, line: 0, record: parsed.record } : { index: parsed.index, line: 0, error: parsed.error ?? 'unreadable' };
    });
}

export async function readRecords(file: string, runner?: TrainerRunner): Promise<RecordEntry[]> {
  const lower = file.toLowerCase();
  if (lower.endsWith('.parquet')) {
    if (runner === undefined) {
      throw new RecordsError(
        `${file}: .parquet records are read through the trainer, whose Python environment is not ready here (start a run once, or set medvlm.pythonPath in a trusted workspace); or export them as .jsonl`,
      );
    }
    return readParquet(file, runner);
  }
  if (lower.endsWith('.json')) {
    const data = await readJsonFile(file, 'records file');
    if (!Array.isArray(data)) throw new RecordsError(`${file}: a .json records file must hold an array of records`);
    return data.map((record: unknown, index) =>
      typeof record === 'object' && record !== null && !Array.isArray(record)
        ? { index, line: 0, record: record as Record<string, unknown> }
        : { index, line: 0, error: `record ${index} is not an object` },
    );
  }
  const text = await readText(file, 'records file');
  const entries: RecordEntry[] = [];
  text.split('\n').forEach((raw, i) => {
    if (raw.trim() === '') return;
    const index = entries.length;
    try {
      const record = JSON.parse(raw) as unknown;
      entries.push(
        typeof record === 'object' && record !== null && !Array.isArray(record)
          ? { index, line: i + 1, record: record as Record<string, unknown> }
          : { index, line: i + 1, error: `line ${i + 1} is not a JSON object` },
      );
    } catch (err) {
      entries.push({ index, line: i + 1, error: `line ${i + 1} is not valid JSON (${(err as Error).message})` });
    }
  });
  return entries;
}

/** A path from a record: absolute as is, else relative to the records file's folder. */
export function resolveFromRecords(recordsFile: string, value: string): string {
  return path.isAbsolute(value) ? value : path.join(path.dirname(recordsFile), value);
}
