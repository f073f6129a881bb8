// Whether a run's trainer process still exists. A pid alone is not enough: after a reboot
// or a long time the number may belong to another process, so on Linux the start time
// recorded in run.json must match too.

import { readFileSync } from 'node:fs';

export interface ProcStat {
  /** One letter: R, S, D, Z (zombie), X (dead), ... */
  readonly state: string;
  /** Field 22: start time after boot, in clock ticks. */
  readonly startTime: number;
}

/** Parses /proc/<pid>/stat. The command name (field 2) may hold spaces and parentheses. */
export function parseProcStat(text: string): ProcStat | undefined {
  const close = text.lastIndexOf(')');
  if (close < 0) {
    return undefined;
  }
  // Fields after the name start at field 3 (state), so field 22 is index 19.
  const fields = text.slice(close + 1).trim().split(/\s+/);
  const state = fields[0];
  const startTime = Number(fields[19]);
  return state !== undefined && Number.isFinite(startTime) ? { state, startTime } : undefined;
}

export function readProcStat(pid: number): ProcStat | undefined {
  try {
    return parseProcStat(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return undefined;
  }
}

/** The start time to record in run.json, or null where /proc is not available. */
export function processStartTime(pid: number): number | null {
  return readProcStat(pid)?.startTime ?? null;
}

/**
 * True when `pid` runs and, if `startTime` is known, is the same process that was recorded.
 * Zombies count as dead: they have exited and only wait for their parent to reap them.
 */
export function isProcessAlive(pid: number, startTime?: number | null): boolean {
  if (!Number.isInteger(pid) || pid <= 0) {
    return false;
  }
  try {
    process.kill(pid, 0);
  } catch (err) {
    // EPERM: it exists but belongs to someone else.
    if ((err as NodeJS.ErrnoException).code !== 'EPERM') {
      return false;
    }
  }
  const stat = readProcStat(pid);
  if (stat === undefined) {
    return true;
  }
  if (stat.state === 'Z' || stat.state === 'X') {
    return false;
  }
  return startTime === undefined || startTime === null || stat.startTime === startTime;
}

/**
 * The process's command line, or undefined where /proc is not available. Stopping a run
 * checks it: run.json comes from the workspace, so its pid alone must not decide what gets
 * signalled.
 */
export function readCommandLine(pid: number): string[] | undefined {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter((arg) => arg.length > 0);
  } catch {
    return undefined;
  }
}
