// Starts and stops the trainer on this machine. No `vscode` here: the extension, the
// `npm start` demo and the tests all launch runs through these functions.
//
// The trainer is started detached (its own session and process group) with stdout and
// stderr going straight into `<run>/stdout.log` through file descriptors, not pipes: a
// window reload or an editor crash then neither kills it nor blocks its output, and a stop
// signal sent to the group reaches every process of the run (accelerate's workers included).

import { execa } from 'execa';
import { open, readFile, rm, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { isProcessAlive, processStartTime, readCommandLine } from '../core/processAlive';
import { createRunDir, readRunInfo, runPaths, writeRunInfo } from '../core/runDir';
import type { RunInfo } from '../core/runDir';
import { RunWatch } from '../core/runWatch';
import type { RunWatchOptions } from '../core/runWatch';
import { buildTrainerCommand, readLaunchOptions } from '../core/trainerCommand';
import type { TrainerCommand } from '../core/trainerCommand';

export interface StartLocalRunOptions {
  /** The interpreter of the trainer's environment. */
  readonly pythonPath: string;
  /** The folder holding `python/src/medvlm_sft` (the extension's root, or the repository). */
  readonly extensionRoot: string;
  /** The run config (`*.sft.yaml`); snapshotted into the run folder. */
  readonly configPath: string;
  /** Where run folders go. */
  readonly runsRoot: string;
  /** Environment for the trainer (default: this process's). */
  readonly env?: NodeJS.ProcessEnv;
}

export interface StartedRun {
  readonly runId: string;
  readonly runDir: string;
  readonly pid: number;
}

/** Creates the run folder, starts the trainer detached, and records it in run.json. */
export async function startLocalRun(options: StartLocalRunOptions): Promise<StartedRun> {
  const configPath = path.resolve(options.configPath);
  const configText = await readFile(configPath, 'utf8');
  const launch = readLaunchOptions(configText);
  if (launch.target !== 'local') {
    throw new Error(`launch.target is "${launch.target}": only local runs can be started from here so far.`);
  }
  const { runId, runDir } = await createRunDir(path.resolve(options.runsRoot), configPath);
  const paths = runPaths(runDir);
  const command = buildTrainerCommand({
    python: options.pythonPath,
    extensionRoot: options.extensionRoot,
    runDir,
    runId,
    configDir: path.dirname(configPath),
    launch,
    baseEnv: options.env ?? process.env,
  });
  let pid: number;
  try {
    // The snapshot is the very text that was read above, whatever happens to the file meanwhile.
    await writeFile(paths.config, configText);
    pid = await spawnDetached(command, paths.stdoutLog, runDir);
  } catch (err) {
    // Nothing ran: leave no folder behind to show up as a lost run.
    await rm(runDir, { recursive: true, force: true });
    throw err;
  }

  const info: RunInfo = {
    version: 1,
    run_id: runId,
    created: new Date().toISOString(),
    config_path: configPath,
    config_file: path.basename(paths.config),
    target: { kind: 'local' },
    pid,
    pid_start_time: processStartTime(pid),
    trainer_version: await readTrainerVersion(options.extensionRoot),
    python: options.pythonPath,
    argv: [command.file, ...command.args],
  };
  await writeRunInfo(runDir, info);
  return { runId, runDir, pid };
}

/** Starts `command` in its own process group with its output appended to `logFile`; its pid. */
async function spawnDetached(command: TrainerCommand, logFile: string, cwd: string): Promise<number> {
  const log = await open(logFile, 'a');
  // execa hands a lone descriptor number straight to child_process.spawn (no piping through
  // this process); its types only list the descriptors 1-9.
  const logFd = log.fd as 1;
  try {
    const subprocess = execa(command.file, command.args, {
      cwd,
      env: command.env,
      extendEnv: false,
      detached: true,
      // execa would otherwise kill the trainer when this process exits.
      cleanup: false,
      stdin: 'ignore',
      stdout: logFd,
      stderr: logFd,
      reject: false,
      windowsHide: true,
    });
    if (subprocess.pid === undefined) {
      const result = await subprocess;
      throw new Error(`could not start the trainer with ${command.file}: ${result.shortMessage ?? result.message}`);
    }
    // Let this process exit (or the window reload) while the trainer runs on.
    subprocess.unref();
    return subprocess.pid;
  } finally {
    // The child holds its own copy of the descriptor.
    await log.close();
  }
}

async function readTrainerVersion(extensionRoot: string): Promise<string | null> {
  try {
    const init = await readFile(path.join(extensionRoot, 'python', 'src', 'medvlm_sft', '__init__.py'), 'utf8');
    return /^__version__\s*=\s*["']([^"']+)["']/m.exec(init)?.[1] ?? null;
  } catch {
    return null;
  }
}

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
  const pid = info?.pid;
  if (info === undefined || typeof pid !== 'number' || !isProcessAlive(pid, info.pid_start_time) || !isTrainer(pid)) {
    return 'not-running';
  }
  const deadline = Date.now() + (options.graceMs ?? DEFAULT_STOP_GRACE_MS);
  const pollMs = options.pollMs ?? 250;
  while (!(await hasEvents(runDir)) && Date.now() < deadline) {
    if (!isProcessAlive(pid, info.pid_start_time)) {
      return 'terminated';
    }
    await new Promise((resolve) => setTimeout(resolve, pollMs));
  }
  signalGroup(pid, 'SIGTERM');
  while (Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, pollMs));
    if (!isProcessAlive(pid, info.pid_start_time)) {
      return 'terminated';
    }
  }
  signalGroup(pid, 'SIGKILL');
  return 'killed';
}

/** Whether the trainer has written anything to events.jsonl (so it handles SIGTERM). */
async function hasEvents(runDir: string): Promise<boolean> {
  try {
    return (await stat(runPaths(runDir).events)).size > 0;
  } catch {
    return false;
  }
}

/** Where /proc tells, the process must be running the trainer module (directly or via accelerate). */
function isTrainer(pid: number): boolean {
  const argv = readCommandLine(pid);
  return argv === undefined || argv.includes('medvlm_sft');
}

function signalGroup(pid: number, signal: NodeJS.Signals): void {
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

/**
 * Follows a run folder: `onEvents` gets every event so far, then each new batch; the
 * returned watch's `whenTerminal()` resolves when the run has ended. Dispose it when done.
 */
export function followRun(
  runDir: string,
  onEvents: NonNullable<RunWatchOptions['onEvents']>,
  options: Omit<RunWatchOptions, 'onEvents'> = {},
): RunWatch {
  return new RunWatch(runDir, { retainEvents: false, ...options, onEvents });
}
