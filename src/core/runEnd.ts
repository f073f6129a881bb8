// How a run's process stands or ended, from the two small files beside its events (design
// contract 5): exit.json, which the supervisor writes when the trainer ends, and for a run on
// a remote target remote.json, which its mirror writes with what it last learned on the host.
// No `vscode`.

import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { EXIT_FILE, REMOTE_STATE_FILE, writeJsonAtomic } from './runDir';

/** The JSON object in `text`, or undefined when it is not one. */
function parseJsonObject(text: string): Record<string, unknown> | undefined {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    return undefined;
  }
  return typeof raw === 'object' && raw !== null && !Array.isArray(raw) ? (raw as Record<string, unknown>) : undefined;
}

async function readText(file: string): Promise<string | undefined> {
  try {
    return await readFile(file, 'utf8');
  } catch {
    return undefined;
  }
}

/**
 * How an attempt's process ended, as the launcher's supervisor recorded it in exit.json:
 * `code` for a normal exit, `signal` (e.g. `SIGKILL`) when a signal ended it.
 */
export interface ExitRecord {
  readonly attempt: number;
  /** The supervisor's pid (the one run.json or the launch record names). */
  readonly pid: number;
  readonly code: number | null;
  readonly signal: string | null;
  /** Unix seconds. */
  readonly t: number;
}

/** The exit record, or undefined while the attempt runs (or when there is none). */
export async function readExitRecord(runDir: string): Promise<ExitRecord | undefined> {
  const text = await readText(path.join(runDir, EXIT_FILE));
  return text === undefined ? undefined : parseExitRecord(text);
}

export function parseExitRecord(text: string): ExitRecord | undefined {
  // The supervisor rewrites one padded line in place: the first line is the record.
  const r = parseJsonObject(text.split('\n', 1)[0] ?? '');
  if (r === undefined) {
    return undefined;
  }
  const ok =
    Number.isInteger(r.attempt) &&
    Number.isInteger(r.pid) &&
    (r.code === null || Number.isInteger(r.code)) &&
    (r.signal === null || typeof r.signal === 'string') &&
    (r.code !== null || r.signal !== null) &&
    typeof r.t === 'number';
  return ok ? { attempt: r.attempt as number, pid: r.pid as number, code: r.code as number | null, signal: r.signal as string | null, t: r.t as number } : undefined;
}

/**
 * What the mirror of a remote run last learned about its process on the host (remote.json in
 * the local mirror folder). `alive` is null while the host cannot be reached; `false` is
 * written only once everything the run wrote there has been copied here, so a run never reads
 * as ended before its last events arrived.
 */
export interface RemoteState {
  readonly version: 1;
  /** Unix seconds. */
  readonly t: number;
  readonly alive: boolean | null;
  /** Why the host cannot be reached, while it cannot. */
  readonly unreachable?: string;
  /** Free bytes where the run folder is on the host, once the run ended. */
  readonly free_bytes?: number;
  /** A SLURM job waiting in the queue: why (Resources, Priority, ...). */
  readonly queued?: string;
}

export async function writeRemoteState(runDir: string, state: RemoteState): Promise<void> {
  await writeJsonAtomic(runDir, REMOTE_STATE_FILE, state);
}

export async function readRemoteState(runDir: string): Promise<RemoteState | undefined> {
  const text = await readText(path.join(runDir, REMOTE_STATE_FILE));
  const r = text === undefined ? undefined : parseJsonObject(text);
  if (r === undefined) {
    return undefined;
  }
  const ok =
    r.version === 1 &&
    typeof r.t === 'number' &&
    (r.alive === null || typeof r.alive === 'boolean') &&
    (r.unreachable === undefined || typeof r.unreachable === 'string') &&
    (r.free_bytes === undefined || typeof r.free_bytes === 'number') &&
    (r.queued === undefined || typeof r.queued === 'string');
  return ok ? (r as unknown as RemoteState) : undefined;
}
