// The run directory (design contract 5): `<runs root>/<run id>/` holding run.json (written
// once by the launcher), events.jsonl (written only by the trainer), stdout.log, the config
// snapshot the trainer reads, checkpoints/ and merged/.
//
// A run can be started again in its folder (resumed). run.json stays as written for the first
// attempt; each later attempt n gets its own `launch-<n>.json`, claimed empty before the
// trainer starts (the claim is what stops two windows resuming the same run at once) and
// filled in once it runs. `exit.json` says how the latest attempt's process ended, and a
// remote run's `remote.json` what its mirror last learned (both read in runEnd.ts).

import { randomBytes } from 'node:crypto';
import { mkdir, open, readdir, readFile, rename, rm, stat } from 'node:fs/promises';
import type { Stats } from 'node:fs';
import path from 'node:path';

export const RUN_JSON = 'run.json';
export const EVENTS_FILE = 'events.jsonl';
export const STDOUT_LOG = 'stdout.log';
export const CONFIG_SNAPSHOT = 'config.sft.yaml';
export const CHECKPOINTS_DIR = 'checkpoints';
export const MERGED_DIR = 'merged';
export const EXIT_FILE = 'exit.json';
/** `launch-<attempt>.json`, for attempts 2 and later (attempt 1 is run.json). */
export const LAUNCH_FILE = /^launch-(\d+)\.json$/;

export function launchFileName(attempt: number): string {
  return `launch-${attempt}.json`;
}

export const REMOTE_STATE_FILE = 'remote.json';

/** A run on this machine: its folder is where the trainer writes. */
export interface LocalRunTarget {
  readonly kind: 'local';
}

/**
 * A run on a host reached over ssh. The trainer writes in `run_dir` on the host; the folder on
 * this machine is its mirror: run.json and the config snapshot from the launch, events.jsonl
 * and stdout.log copied byte for byte as they grow, exit.json once the host has one, and
 * remote.json with what was last learned about the process there.
 */
export interface SshRunTarget {
  readonly kind: 'ssh';
  /** The target's name (a run config's `launch.target`). */
  readonly name: string;
  /** The ssh destination. */
  readonly host: string;
  /** An ssh config file other than ~/.ssh/config (`ssh -F`), when the target names one. */
  readonly ssh_config?: string;
  /** The run folder on the host, absolute. */
  readonly run_dir: string;
  /** The target's work folder on the host (`~` kept): the trainer and its environment are there. */
  readonly work_folder: string;
  /** On a SLURM cluster: the job's id (the run has no pid of its own then). */
  readonly job_id?: string;
  /** On a SLURM cluster: the options the job was submitted with, for a resume's job (slurm.ts reads them). */
  readonly slurm?: Readonly<Record<string, unknown>>;
}

export type RunTarget = LocalRunTarget | SshRunTarget;

function isRunTarget(raw: unknown): raw is RunTarget {
  if (typeof raw !== 'object' || raw === null) {
    return false;
  }
  const t = raw as Record<string, unknown>;
  if (t.kind === 'local') {
    return true;
  }
  return (
    t.kind === 'ssh' &&
    typeof t.name === 'string' &&
    typeof t.host === 'string' &&
    t.host.length > 0 &&
    (t.ssh_config === undefined || typeof t.ssh_config === 'string') &&
    typeof t.run_dir === 'string' &&
    t.run_dir.startsWith('/') &&
    typeof t.work_folder === 'string' &&
    (t.job_id === undefined || (typeof t.job_id === 'string' && /^\d+$/.test(t.job_id))) &&
    (t.slurm === undefined || (typeof t.slurm === 'object' && t.slurm !== null && !Array.isArray(t.slurm)))
  );
}

export interface RunInfo {
  readonly version: 1;
  readonly run_id: string;
  /** ISO 8601. */
  readonly created: string;
  /** The original config file, absolute. */
  readonly config_path: string;
  /** The snapshot inside the run dir that the trainer reads. */
  readonly config_file: string;
  readonly target: RunTarget;
  readonly pid: number | null;
  /** /proc/<pid>/stat start time in clock ticks (Linux), to tell the trainer from a reused pid. */
  readonly pid_start_time: number | null;
  readonly trainer_version: string | null;
  readonly python: string;
  /** The command that started the trainer; never holds secrets. */
  readonly argv: readonly string[];
}

export function runPaths(runDir: string) {
  return {
    runJson: path.join(runDir, RUN_JSON),
    events: path.join(runDir, EVENTS_FILE),
    stdoutLog: path.join(runDir, STDOUT_LOG),
    config: path.join(runDir, CONFIG_SNAPSHOT),
    checkpoints: path.join(runDir, CHECKPOINTS_DIR),
    merged: path.join(runDir, MERGED_DIR),
    exitRecord: path.join(runDir, EXIT_FILE),
    remoteState: path.join(runDir, REMOTE_STATE_FILE),
  };
}

const isNumOrNull = (x: unknown): x is number | null => x === null || (typeof x === 'number' && Number.isFinite(x));
const isStrOrNull = (x: unknown): x is string | null => x === null || typeof x === 'string';

/** A RunInfo when `raw` is a version-1 run.json, else undefined. */
export function parseRunInfo(raw: unknown): RunInfo | undefined {
  if (typeof raw !== 'object' || raw === null) {
    return undefined;
  }
  const r = raw as Record<string, unknown>;
  const ok =
    r.version === 1 &&
    typeof r.run_id === 'string' &&
    typeof r.created === 'string' &&
    typeof r.config_path === 'string' &&
    typeof r.config_file === 'string' &&
    isRunTarget(r.target) &&
    isNumOrNull(r.pid) &&
    isNumOrNull(r.pid_start_time) &&
    isStrOrNull(r.trainer_version) &&
    typeof r.python === 'string' &&
    Array.isArray(r.argv) &&
    r.argv.every((a) => typeof a === 'string');
  return ok ? (raw as RunInfo) : undefined;
}

/** Writes run.json so that a reader sees either no file or the whole file, never a part. */
export async function writeRunInfo(runDir: string, info: RunInfo): Promise<void> {
  await writeJsonAtomic(runDir, RUN_JSON, info);
}

/** Writes `value` as JSON so that a reader sees either no file or the whole file, never a part. */
export async function writeJsonAtomic(dir: string, name: string, value: unknown): Promise<void> {
  const target = path.join(dir, name);
  const tmp = path.join(dir, `.${name}.${randomBytes(6).toString('hex')}.tmp`);
  const handle = await open(tmp, 'wx');
  try {
    await handle.writeFile(`${JSON.stringify(value, null, 2)}\n`, 'utf8');
    await handle.sync();
  } finally {
    await handle.close();
  }
  try {
    await rename(tmp, target);
  } catch (err) {
    await rm(tmp, { force: true });
    throw err;
  }
}

export async function readRunInfo(runDir: string): Promise<RunInfo | undefined> {
  try {
    return parseRunInfo(JSON.parse(await readFile(path.join(runDir, RUN_JSON), 'utf8')));
  } catch {
    return undefined;
  }
}

/** `lung.sft.yaml` -> `lung`; anything but letters, digits, `.`, `_` and `-` becomes `-`. */
export function configStem(configPath: string): string {
  const name = path.basename(configPath).replace(/\.sft\.ya?ml$/i, '').replace(/\.ya?ml$/i, '');
  const clean = name
    .replace(/[^A-Za-z0-9._-]+/g, '-')
    .replace(/-{2,}/g, '-')
    .replace(/^[-.]+|[-.]+$/g, '')
    .slice(0, 48);
  return clean.length > 0 ? clean : 'run';
}

const pad = (n: number, width = 2): string => String(n).padStart(width, '0');

/** `YYYYMMDD-HHMMSS-<config stem>`, in local time because people read these names. */
export function runIdBase(configPath: string, now: Date): string {
  const date = `${now.getFullYear()}${pad(now.getMonth() + 1)}${pad(now.getDate())}`;
  const time = `${pad(now.getHours())}${pad(now.getMinutes())}${pad(now.getSeconds())}`;
  return `${date}-${time}-${configStem(configPath)}`;
}

/**
 * Claims a new run directory. mkdir is the atomic claim, so two launches in the same
 * second (even from two windows) get `<id>` and `<id>-2`.
 */
export async function createRunDir(
  runsRoot: string,
  configPath: string,
  now: Date = new Date(),
): Promise<{ runId: string; runDir: string }> {
  await mkdir(runsRoot, { recursive: true });
  const base = runIdBase(configPath, now);
  for (let n = 1; n < 1000; n += 1) {
    const runId = n === 1 ? base : `${base}-${n}`;
    const runDir = path.join(runsRoot, runId);
    try {
      await mkdir(runDir);
      return { runId, runDir };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') {
        throw err;
      }
    }
  }
  throw new Error(`could not find a free run id for ${base} under ${runsRoot}`);
}

export interface RunDirEntry {
  readonly runId: string;
  readonly runDir: string;
  /** Absent while the launcher has not written it yet, or when it is unreadable. */
  readonly info?: RunInfo;
  /** When the folder was created (ms since the epoch). */
  readonly createdMs: number;
  readonly hasEvents: boolean;
}

/** Every run folder under `runsRoot`, newest first; half-written folders are included. */
export async function listRuns(runsRoot: string): Promise<RunDirEntry[]> {
  let names: string[];
  try {
    const dirents = await readdir(runsRoot, { withFileTypes: true });
    names = dirents.filter((d) => d.isDirectory() && !d.name.startsWith('.')).map((d) => d.name);
  } catch {
    return [];
  }
  const entries = await Promise.all(names.map((name) => describeRun(path.join(runsRoot, name))));
  return entries
    .filter((e): e is RunDirEntry => e !== undefined)
    .sort(compareRunsNewestFirst);
}

export function compareRunsNewestFirst(a: RunDirEntry, b: RunDirEntry): number {
  return b.createdMs - a.createdMs || b.runId.localeCompare(a.runId);
}

export async function describeRun(runDir: string): Promise<RunDirEntry | undefined> {
  let dirStat;
  try {
    dirStat = await stat(runDir);
  } catch {
    return undefined;
  }
  const info = await readRunInfo(runDir);
  const hasEvents = await stat(path.join(runDir, EVENTS_FILE)).then(
    () => true,
    () => false,
  );
  return { runId: path.basename(runDir), runDir, ...(info ? { info } : {}), createdMs: createdTime(dirStat), hasEvents };
}

/** When a folder was created; ctime stands in where the file system keeps no birth time. */
export function createdTime(stats: Stats): number {
  return stats.birthtimeMs > 0 ? stats.birthtimeMs : stats.ctimeMs;
}

/** What the launcher records about attempt 2 and later, in `launch-<attempt>.json`. */
export interface LaunchRecord {
  readonly version: 1;
  readonly attempt: number;
  /** ISO 8601. */
  readonly created: string;
  /** The supervisor's pid; null for an attempt that runs as a SLURM job (`job_id`). */
  readonly pid: number | null;
  readonly pid_start_time: number | null;
  /** The SLURM job of this attempt, on a cluster. */
  readonly job_id?: string;
  /** `latest` or the checkpoint folder the attempt resumes from. */
  readonly resume_from: string;
  /** Size of events.jsonl when the attempt started: its own events come after this byte. */
  readonly events_offset: number;
  readonly python: string;
  /** The command that started the trainer; never holds secrets. */
  readonly argv: readonly string[];
}

export function parseLaunchRecord(raw: unknown): LaunchRecord | undefined {
  if (typeof raw !== 'object' || raw === null) {
    return undefined;
  }
  const r = raw as Record<string, unknown>;
  const ok =
    r.version === 1 &&
    Number.isInteger(r.attempt) &&
    (r.attempt as number) >= 2 &&
    typeof r.created === 'string' &&
    (Number.isInteger(r.pid) || (r.pid === null && r.job_id !== undefined)) &&
    (r.job_id === undefined || (typeof r.job_id === 'string' && /^\d+$/.test(r.job_id))) &&
    isNumOrNull(r.pid_start_time) &&
    typeof r.resume_from === 'string' &&
    Number.isInteger(r.events_offset) &&
    typeof r.python === 'string' &&
    Array.isArray(r.argv) &&
    r.argv.every((a) => typeof a === 'string');
  return ok ? (raw as LaunchRecord) : undefined;
}

/**
 * Claims `launch-<attempt>.json` by creating it empty: exactly one caller gets a given
 * attempt, however many windows try at once. Throws EEXIST when it is taken.
 */
export async function claimLaunch(runDir: string, attempt: number): Promise<void> {
  const handle = await open(path.join(runDir, launchFileName(attempt)), 'wx');
  await handle.close();
}

/** Fills in a claimed launch file, atomically. */
export async function writeLaunchRecord(runDir: string, record: LaunchRecord): Promise<void> {
  await writeJsonAtomic(runDir, launchFileName(record.attempt), record);
}

/** Gives up a claim whose launch failed. */
export async function releaseLaunch(runDir: string, attempt: number): Promise<void> {
  await rm(path.join(runDir, launchFileName(attempt)), { force: true });
}

/** The process of a run's latest attempt: what status, stop and resume look at. */
export interface RunProcess {
  readonly attempt: number;
  readonly pid: number | null;
  readonly pid_start_time: number | null;
  /** The attempt's SLURM job, for a run on a cluster. */
  readonly jobId?: string;
  /** Size of events.jsonl when this attempt started (0 for the first). */
  readonly eventsOffset: number;
  /**
   * A later attempt is claimed but its launch record is not written yet (a resume is starting),
   * and when it was claimed (ms since the epoch).
   */
  readonly pending?: { readonly attempt: number; readonly claimedMs: number };
}

/** Every attempt number claimed in the run folder, with its launch file (empty while claimed). */
export async function listLaunches(runDir: string): Promise<Array<{ attempt: number; file: string }>> {
  let names: string[];
  try {
    names = await readdir(runDir);
  } catch {
    return [];
  }
  return names
    .flatMap((name) => {
      const m = LAUNCH_FILE.exec(name);
      return m ? [{ attempt: Number(m[1]), file: path.join(runDir, name) }] : [];
    })
    .sort((a, b) => b.attempt - a.attempt);
}

/**
 * The latest attempt's process: the newest complete launch record, else run.json's (attempt
 * 1). Undefined before run.json exists. `info` saves reading run.json again.
 */
export async function readRunProcess(runDir: string, info?: RunInfo): Promise<RunProcess | undefined> {
  let pending: RunProcess['pending'];
  for (const { attempt, file } of await listLaunches(runDir)) {
    let text: string;
    let mtimeMs: number;
    try {
      [text, mtimeMs] = await Promise.all([readFile(file, 'utf8'), stat(file).then((s) => s.mtimeMs)]);
    } catch {
      continue;
    }
    let record: LaunchRecord | undefined;
    try {
      record = parseLaunchRecord(JSON.parse(text));
    } catch {
      record = undefined;
    }
    if (record === undefined) {
      // Claimed, not written yet (or abandoned by a window that closed meanwhile).
      pending ??= { attempt, claimedMs: mtimeMs };
      continue;
    }
    return processOf(attempt, record.pid, record.pid_start_time, record.job_id, record.events_offset, pending);
  }
  const first = info ?? (await readRunInfo(runDir));
  if (first === undefined) {
    return undefined;
  }
  return processOf(1, first.pid, first.pid_start_time, first.target.kind === 'ssh' ? first.target.job_id : undefined, 0, pending);
}

function processOf(attempt: number, pid: number | null, pidStartTime: number | null, jobId: string | undefined, eventsOffset: number, pending: RunProcess['pending']): RunProcess {
  return { attempt, pid, pid_start_time: pidStartTime, ...(jobId !== undefined ? { jobId } : {}), eventsOffset, ...(pending ? { pending } : {}) };
}
