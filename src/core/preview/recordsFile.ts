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

export interface TrainerLines<T> {
  /** The trainer's exit status. */
  readonly exitCode: number | undefined;
  readonly lines: T[];
  /** Its last line on stderr without the command's prefix (why it failed). */
  readonly reason: string;
}

/** Runs `medvlm_sft COMMAND ...` and parses its stdout's JSON lines. */
export async function trainerJsonLines<T>(runner: TrainerRunner, args: readonly string[], timeoutMs: number): Promise<TrainerLines<T>> {
  const result = await execa(runner.python, ['-m', 'medvlm_sft', ...args], {
    env: runner.env,
    extendEnv: false,
    reject: false,
    stdin: 'ignore',
    timeout: timeoutMs,
    maxBuffer: 1024 * 1024 * 1024,
  });
  const lines = result.stdout
    .split('\n')
    .filter((line) => line.trim() !== '')
    .map((line) => JSON.parse(line) as T);
  const last = result.stderr.trim().split('\n').pop() ?? '';
  const reason = last.replace(/^medvlm-sft [\w-]+: /, '') || `exit status ${String(result.exitCode)}`;
  return { exitCode: result.exitCode, lines, reason };
}

/** A .parquet file's records, through `medvlm_sft records` (lines are rows: no line numbers). */
async function readParquet(file: string, runner: TrainerRunner): Promise<RecordEntry[]> {
  const result = await trainerJsonLines<{ index: number; record?: Record<string, unknown>; error?: string }>(runner, ['records', file], 300_000);
  if (result.exitCode !== 0) throw new RecordsError(`${file}: the trainer could not read it: ${result.reason}`);
  return result.lines.map((parsed) =>
    parsed.record !== undefined ? { index: parsed.index, line: 0, record: parsed.record } : { index: parsed.index, line: 0, error: parsed.error ?? 'unreadable' },
  );
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
