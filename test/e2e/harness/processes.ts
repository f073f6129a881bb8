// Everything an e2e session starts is stopped by pid, however the test ends: code-server runs
// in its own process group (killed as a group, so its extension hosts and file watchers go
// with it), and a last sweep kills any process whose command line names the session's
// private temp folder (the detached trainer the extension started, a stray browser). A
// process 'exit' handler and signal handlers do the same when `after` hooks never run.

import { spawn } from 'node:child_process';
import { closeSync, openSync, readdirSync, readFileSync, rmSync } from 'node:fs';

const groups = new Set<number>();
const markers = new Set<string>();
let handlersInstalled = false;

/** Starts `command` detached in a new process group, output to `logFile`; its pid (= pgid). */
export function spawnGroup(command: string, args: readonly string[], options: { env: NodeJS.ProcessEnv; cwd: string; logFile: string }): number {
  installExitHandlers();
  const fd = openSync(options.logFile, 'a');
  try {
    const child = spawn(command, args, { cwd: options.cwd, env: options.env, detached: true, stdio: ['ignore', fd, fd] });
    // Never 0 or undefined: kill(-0) would signal the test runner's own group.
    if (child.pid === undefined || child.pid <= 0) {
      throw new Error(`could not start ${command}`);
    }
    groups.add(child.pid);
    // Detached, so a stuck server never keeps the test process alive on its own.
    child.unref();
    return child.pid;
  } finally {
    closeSync(fd);
  }
}

/**
 * At exit, whatever else happens: kills the processes mentioning `marker` (a session's unique
 * temp folder) and removes that folder (unless E2E_KEEP_TEMP=1).
 */
export function sweepAtExit(marker: string): void {
  installExitHandlers();
  markers.add(marker);
}

export function groupAlive(pgid: number): boolean {
  if (pgid <= 0) throw new Error(`not a process group: ${pgid}`);
  try {
    process.kill(-pgid, 0);
    return true;
  } catch {
    return false;
  }
}

/** SIGTERM to the group, SIGKILL to what is left after `graceMs`. */
export async function killGroup(pgid: number, graceMs = 3000): Promise<void> {
  if (pgid <= 0) throw new Error(`not a process group: ${pgid}`);
  signalGroup(pgid, 'SIGTERM');
  const deadline = Date.now() + graceMs;
  while (groupAlive(pgid) && Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  signalGroup(pgid, 'SIGKILL');
  groups.delete(pgid);
}

/** Pids (not ours) whose command line contains `marker`. */
export function pidsMentioning(marker: string): number[] {
  const pids: number[] = [];
  for (const name of readdirSync('/proc')) {
    const pid = Number(name);
    if (!Number.isInteger(pid) || pid === process.pid) {
      continue;
    }
    try {
      const cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').join(' ');
      if (cmdline.includes(marker)) {
        pids.push(pid);
      }
    } catch {
      // Gone meanwhile, or not ours to read.
    }
  }
  return pids;
}

/** SIGKILLs every process that mentions `marker`; returns how many there were. */
export function killMentioning(marker: string): number {
  const pids = pidsMentioning(marker);
  for (const pid of pids) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // Already gone.
    }
  }
  return pids.length;
}

export function forgetMarker(marker: string): void {
  markers.delete(marker);
}

function signalGroup(pgid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pgid, signal);
  } catch {
    // The group is gone.
  }
}

function killEverythingNow(): void {
  for (const pgid of groups) {
    signalGroup(pgid, 'SIGKILL');
  }
  groups.clear();
  for (const marker of markers) {
    killMentioning(marker);
    if (process.env.E2E_KEEP_TEMP !== '1') {
      try {
        rmSync(marker, { recursive: true, force: true });
      } catch {
        // A process killed a moment ago may still have been writing there; /tmp is cleaned anyway.
      }
    }
  }
}

function installExitHandlers(): void {
  if (handlersInstalled) {
    return;
  }
  handlersInstalled = true;
  // 'exit' handlers must be synchronous: SIGKILL is the only thing left to do there.
  process.on('exit', killEverythingNow);
  // Without these, a SIGTERM from the test runner (a file-level timeout) or Ctrl-C would exit
  // without running 'exit' handlers and leave code-server serving.
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    process.once(signal, () => {
      killEverythingNow();
      process.exit(128 + (signal === 'SIGINT' ? 2 : signal === 'SIGTERM' ? 15 : 1));
    });
  }
}
