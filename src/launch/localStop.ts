// Stopping a local run: SIGTERM to the trainer's process group (the trainer saves a checkpoint
// and writes run_finished stopped), SIGKILL after the grace period.

import { open } from 'node:fs/promises';
import { parseEventLines } from '../core/eventsTail';
import { isProcessAlive, readCommandLine } from '../core/processAlive';
import { readRunInfo, readRunProcess, runPaths } from '../core/runDir';
import type { TrainerEvent } from '../shared/events';

export const DEFAULT_STOP_GRACE_MS = 60_000;

export interface StopLocalRunOptions {
  /** How long the trainer may take to checkpoint after SIGTERM before it is killed. */
  readonly graceMs?: number;
  readonly pollMs?: number;
}

/** not-running: nothing to stop; terminated: it exited after SIGTERM; killed: it needed SIGKILL. */
export type StopOutcome = 'not-running' | 'terminated' | 'killed';

/**
 * Asks the run's process group to stop (SIGTERM: the trainer checkpoints, then writes
 * run_finished stopped) and kills the group if it is still alive after the grace period.
 *
 * The trainer installs its SIGTERM handler before its heavy imports, but not before the
 * interpreter itself has started; a signal in that window would kill it with no
 * run_finished at all, and a run the user stopped would read "lost". Its first event comes
 * after the handler, so the signal waits for that event, within the same grace period.
 */
export async function stopLocalRun(runDir: string, options: StopLocalRunOptions = {}): Promise<StopOutcome> {
  const info = await readRunInfo(runDir);
  if (info !== undefined && info.target.kind !== 'local') {
    // Its pid is a process on another machine: never signal whatever has that pid here.
    throw new Error(`run ${info.run_id} runs on ${info.target.name}, not on this machine`);
  }
  const proc = await readRunProcess(runDir, info);
  const pid = proc?.pid;
  if (proc === undefined || typeof pid !== 'number' || !isProcessAlive(pid, proc.pid_start_time) || !isTrainer(pid)) {
    return 'not-running';
  }
  const deadline = Date.now() + (options.graceMs ?? DEFAULT_STOP_GRACE_MS);
  const pollMs = options.pollMs ?? 250;
  while (!(await hasEventsAfter(runDir, proc.eventsOffset)) && Date.now() < deadline) {
    if (!isProcessAlive(pid, proc.pid_start_time)) {
      return 'terminated';
    }
    await new Promise((resolve) => setTimeout(resolve, pollMs));
  }
  signalGroup(pid, 'SIGTERM');
  while (Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, pollMs));
    if (!isProcessAlive(pid, proc.pid_start_time)) {
      return 'terminated';
    }
  }
  signalGroup(pid, 'SIGKILL');
  return 'killed';
}

/**
 * Whether the trainer of the attempt that started at `offset` has written an event (so it
 * handles SIGTERM). A resumed attempt's events follow the earlier ones in the same file.
 */
async function hasEventsAfter(runDir: string, offset: number): Promise<boolean> {
  return (await readLastEvents(runDir, offset)).length > 0;
}

const EVENTS_TAIL_BYTES = 256 * 1024;

/** Complete events in the last part of events.jsonl, none from before byte `offset`. */
export async function readLastEvents(runDir: string, offset: number): Promise<TrainerEvent[]> {
  let handle;
  try {
    handle = await open(runPaths(runDir).events, 'r');
  } catch {
    return [];
  }
  try {
    const { size } = await handle.stat();
    const start = Math.max(offset, size - EVENTS_TAIL_BYTES);
    if (size <= start) {
      return [];
    }
    const buffer = Buffer.alloc(size - start);
    const { bytesRead } = await handle.read(buffer, 0, buffer.length, start);
    // A start inside a line makes that first piece unreadable, and it is skipped.
    return parseEventLines(buffer.subarray(0, bytesRead)).events;
  } finally {
    await handle.close();
  }
}

/** Where /proc tells, the process must be running the trainer module (under its supervisor, directly or via accelerate). */
export function isTrainer(pid: number): boolean {
  const argv = readCommandLine(pid);
  return argv === undefined || argv.includes('medvlm_sft');
}

export function signalGroup(pid: number, signal: NodeJS.Signals): void {
  try {
    // A negative pid addresses the process group the detached trainer leads.
    process.kill(-pid, signal);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ESRCH') {
      throw err;
    }
    // The group is gone but the leader may linger (e.g. it changed its group): signal it alone.
    try {
      process.kill(pid, signal);
    } catch {
      // Already gone.
    }
  }
}
