// Starts and stops the trainer on this machine. No `vscode` here: the extension, the
// `npm start` demo and the tests all launch runs through these functions.
//
// The trainer is started detached (its own session and process group) with stdout and
// stderr going straight into `<run>/stdout.log` through file descriptors, not pipes: a
// window reload or an editor crash then neither kills it nor blocks its output, and a stop
// signal sent to the group reaches every process of the run (accelerate's workers included).
//
// It runs under a small shell supervisor that leads the group and writes `<run>/exit.json`
// when the trainer ends (see SUPERVISOR_SCRIPT), so a trainer killed by a signal still says
// so after a window reload. Tokens (HF_TOKEN, WANDB_API_KEY, ...) travel only in the
// environment inherited from the user's: never on a command line, never in a run file.

import { execa } from 'execa';
import { constants } from 'node:fs';
import { access, appendFile, open, readFile, rm, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { isProcessAlive, processStartTime } from '../core/processAlive';
import {
  claimLaunch,
  createRunDir,
  listLaunches,
  readRunInfo,
  readRunProcess,
  releaseLaunch,
  runPaths,
  writeLaunchRecord,
  writeRunInfo,
} from '../core/runDir';
import type { RunInfo, RunProcess } from '../core/runDir';
import { STARTING_GRACE_MS } from '../core/runStatus';
import { ATTEMPT_MARKER, RunWatch } from '../core/runWatch';
import type { RunWatchOptions } from '../core/runWatch';
import { buildTrainerCommand, readLaunchOptions, superviseCommand } from '../core/trainerCommand';
import type { TrainerCommand } from '../core/trainerCommand';
import { isTrainer, readLastEvents, signalGroup } from './localStop';

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
  /** The supervisor's pid: it leads the run's process group, and lives as long as the trainer. */
  readonly pid: number;
  /** 1 for a new run, 2 and up for a resume. */
  readonly attempt: number;
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
    await requireExecutable(command.file, command.env);
    pid = await spawnDetached(superviseCommand(command, paths.exitRecord, 1), paths.stdoutLog, runDir);
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
  return { runId, runDir, pid, attempt: 1 };
}

export interface ResumeLocalRunOptions {
  /** The interpreter of the trainer's environment. */
  readonly pythonPath: string;
  /** The folder holding `python/src/medvlm_sft`. */
  readonly extensionRoot: string;
  /** The run folder to go on training in. */
  readonly runDir: string;
  /**
   * `latest`: the newest complete checkpoint (the trainer skips one a crash or a full disk left
   * incomplete); or a checkpoint folder, absolute or relative to the run folder (as the
   * checkpoint events name them).
   */
  readonly from: 'latest' | string;
  /** Environment for the trainer (default: this process's). */
  readonly env?: NodeJS.ProcessEnv;
}

/**
 * Starts the trainer again in an existing run folder, detached like startLocalRun and from
 * the same config snapshot (paths resolved against the original config's folder, several
 * processes through accelerate), with `--resume-from`. Its events go on in the same
 * events.jsonl as a new attempt; the attempt's pid goes to `launch-<attempt>.json` (run.json
 * stays as the first launch wrote it). Refuses while the run's process is alive, or while
 * another window is resuming it.
 */
export async function resumeLocalRun(options: ResumeLocalRunOptions): Promise<StartedRun> {
  const runDir = path.resolve(options.runDir);
  const info = await readRunInfo(runDir);
  if (info === undefined) {
    throw new Error(`${runDir} has no readable run.json, so it is not a run that can be resumed.`);
  }
  if (info.target.kind !== 'local') {
    throw new Error(`run ${info.run_id} ran on ${info.target.name}; its checkpoints are there, so it cannot be resumed on this machine.`);
  }
  const current = await readRunProcess(runDir, info);
  if (current !== undefined && isRunning(current) && !(await endsSoon(runDir, current))) {
    throw new Error(`run ${info.run_id} is still running (pid ${current.pid}): stop it, or wait for it to end, before resuming.`);
  }
  if (current?.pending !== undefined && Date.now() - current.pending.claimedMs < STARTING_GRACE_MS) {
    throw new Error(`run ${info.run_id} is being resumed already (attempt ${current.pending.attempt}).`);
  }
  const paths = runPaths(runDir);
  const configText = await readFile(path.join(runDir, info.config_file), 'utf8');
  const launch = readLaunchOptions(configText);
  if (launch.target !== 'local') {
    throw new Error(`launch.target is "${launch.target}": only local runs can be resumed from here so far.`);
  }
  // Past every claim, abandoned ones included: an attempt number is never used twice.
  const attempt = Math.max(current?.attempt ?? 1, ...(await listLaunches(runDir)).map((l) => l.attempt)) + 1;
  try {
    await claimLaunch(runDir, attempt);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') {
      throw new Error(`run ${info.run_id} is being resumed already (attempt ${attempt}).`);
    }
    throw err;
  }
  const resumeFrom = options.from === 'latest' ? 'latest' : path.resolve(runDir, options.from);
  const command = buildTrainerCommand({
    python: options.pythonPath,
    extensionRoot: options.extensionRoot,
    runDir,
    runId: info.run_id,
    configDir: path.dirname(info.config_path),
    launch,
    baseEnv: options.env ?? process.env,
    resumeFrom,
    attempt,
  });
  let pid: number;
  let eventsOffset: number;
  try {
    await requireExecutable(command.file, command.env);
    eventsOffset = await fileSize(paths.events);
    // Where this attempt's output starts in stdout.log (the status reads the latest one's end).
    await appendFile(paths.stdoutLog, `\n${ATTEMPT_MARKER}${attempt}: resuming from ${resumeFrom}\n`);
    pid = await spawnDetached(superviseCommand(command, paths.exitRecord, attempt), paths.stdoutLog, runDir);
  } catch (err) {
    await releaseLaunch(runDir, attempt);
    throw err;
  }
  try {
    await writeLaunchRecord(runDir, {
      version: 1,
      attempt,
      created: new Date().toISOString(),
      pid,
      pid_start_time: processStartTime(pid),
      resume_from: resumeFrom,
      events_offset: eventsOffset,
      python: options.pythonPath,
      argv: [command.file, ...command.args],
    });
  } catch (err) {
    // A trainer nothing records could be neither followed nor stopped.
    signalGroup(pid, 'SIGKILL');
    await releaseLaunch(runDir, attempt);
    throw err;
  }
  return { runId: info.run_id, runDir, pid, attempt };
}

/** How long resume waits for a trainer that has written run_finished to exit. */
export const EXITING_WAIT_MS = 30_000;

/**
 * A trainer that has written its run_finished only has its process left to end (a run shows
 * failed or stopped a few seconds before it exits): true once it has, within EXITING_WAIT_MS.
 */
async function endsSoon(runDir: string, proc: RunProcess): Promise<boolean> {
  if (!(await readLastEvents(runDir, proc.eventsOffset)).some((e) => e.type === 'run_finished')) {
    return false;
  }
  const deadline = Date.now() + EXITING_WAIT_MS;
  while (Date.now() < deadline) {
    if (!isRunning(proc)) {
      return true;
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  return false;
}

/** The attempt's process is alive and is the trainer's (not a reused pid). */
function isRunning(proc: RunProcess): boolean {
  return typeof proc.pid === 'number' && isProcessAlive(proc.pid, proc.pid_start_time) && isTrainer(proc.pid);
}

async function fileSize(file: string): Promise<number> {
  try {
    return (await stat(file)).size;
  } catch {
    return 0;
  }
}

/**
 * Fails with a clear message when the interpreter cannot be run. The supervisor shell itself
 * always starts, so without this a missing interpreter would only show as a run that failed.
 */
async function requireExecutable(file: string, env: Record<string, string>): Promise<void> {
  const candidates = file.includes(path.sep)
    ? [file]
    : (env.PATH ?? '').split(path.delimiter).filter((dir) => dir.length > 0).map((dir) => path.join(dir, file));
  for (const candidate of candidates) {
    try {
      await access(candidate, constants.X_OK);
      if ((await stat(candidate)).isFile()) {
        return;
      }
    } catch {
      // Not this one.
    }
  }
  throw new Error(`could not start the trainer with ${file}: no such executable file`);
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

/** The bundled trainer's `__version__`, or null when it cannot be read. */
export async function readTrainerVersion(extensionRoot: string): Promise<string | null> {
  try {
    const init = await readFile(path.join(extensionRoot, 'python', 'src', 'medvlm_sft', '__init__.py'), 'utf8');
    return /^__version__\s*=\s*["']([^"']+)["']/m.exec(init)?.[1] ?? null;
  } catch {
    return null;
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
