// Starts and stops a run on a remote target over ssh (design: remote runs). No `vscode` here:
// the extension and the tests launch remote runs through these functions.
//
// The run gets a folder on this machine first (the same claim as a local run, so its id is
// unique here), then the trainer is synced to the host by content hash, its environment made
// or reused there, and the run started detached on the host under the same id. The local
// folder is the run's mirror (remoteMirror.ts): run.json names the host, the run folder there
// and the supervisor's pid, and the registry reads the mirror as it reads a local run.

import { readFile, rm, writeFile } from 'node:fs/promises';
import path, { posix } from 'node:path';
import { claimLaunch, createRunDir, listLaunches, readRunInfo, readRunProcess, releaseLaunch, runPaths, writeLaunchRecord, writeRunInfo } from '../core/runDir';
import { writeRemoteState } from '../core/runEnd';
import type { RunInfo, SshRunTarget } from '../core/runDir';
import { requireValidOnHost, validateOnHost } from '../core/remote/hostValidate';
import { remoteRunAlive, resumeRemoteRun, startRemoteRun, stopRemoteRun } from '../core/remote/remoteLaunch';
import { STARTING_GRACE_MS } from '../core/runStatus';
import type { SshHost } from '../core/remote/ssh';
import type { RemoteTarget } from '../core/remote/targets';
import { targetHost } from '../core/remote/targets';
import { ensureRemoteEnv, syncTrainer, trainerFiles } from '../core/remote/trainerSync';
import type { SyncResult } from '../core/remote/trainerSync';
import { ACTIVE_JOB_STATES, cancelSlurmRun, jobScript, mergeSlurmOptions, readSlurmOptions, resubmitSlurmRun, slurmJobState, slurmOptionsProblem, submitSlurmRun } from '../core/remote/slurm';
import type { SlurmOptions } from '../core/remote/slurm';
import { readLaunchOptions } from '../core/trainerCommand';
import type { LaunchOptions } from '../core/trainerCommand';
import { readTrainerVersion } from './localLauncher';
import type { StopOutcome } from './localStop';

export interface StartSshRunOptions {
  readonly target: RemoteTarget;
  /** The folder holding `python/` (the extension's root, or the repository). */
  readonly extensionRoot: string;
  /** The run config; its paths are paths on the host (relative ones from the work folder). */
  readonly configPath: string;
  /** Where run folders (here: the mirrors) go on this machine. */
  readonly runsRoot: string;
  /** Tokens for the trainer's environment: they travel on ssh's stdin only. */
  readonly secrets?: Readonly<Record<string, string>>;
  /** What is happening now, for a progress notification. */
  readonly onProgress?: (message: string) => void;
  readonly signal?: AbortSignal;
}

export interface StartedSshRun {
  readonly runId: string;
  /** The mirror folder on this machine. */
  readonly runDir: string;
  /** The run folder on the host. */
  readonly remoteDir: string;
  /** The supervisor's pid on the host; null for a SLURM job. */
  readonly pid: number | null;
  /** The SLURM job, on a cluster. */
  readonly jobId?: string;
}

export function sshHostOf(target: SshRunTarget): SshHost {
  return { alias: target.host, ...(target.ssh_config !== undefined ? { configFile: target.ssh_config } : {}) };
}

/** How run.json names `target` and the run's folder there. */
function sshRunTarget(target: RemoteTarget, runDir: string): SshRunTarget {
  return {
    kind: 'ssh',
    name: target.name,
    host: target.host,
    ...(target.sshConfigFile !== undefined ? { ssh_config: target.sshConfigFile } : {}),
    run_dir: runDir,
    work_folder: target.workFolder,
  };
}

/** The trainer synced to the host by hash, and its environment there made or reused, with progress. */
async function prepareHost(
  host: SshHost,
  name: string,
  workFolder: string,
  options: { readonly extensionRoot: string; readonly onProgress?: (message: string) => void; readonly signal?: AbortSignal },
): Promise<{ synced: SyncResult; python: string }> {
  const progress = options.onProgress ?? (() => undefined);
  progress(`syncing the trainer to ${name}`);
  const synced = await syncTrainer(host, workFolder, await trainerFiles(options.extensionRoot), options.signal);
  progress(`preparing the trainer's environment on ${name}`);
  const python = await ensureRemoteEnv(host, synced, {
    ...(options.signal ? { signal: options.signal } : {}),
    onLine: (line) => progress(line.replace(/^bootstrap:\s*/, '')),
  });
  return { synced, python };
}

export async function startSshRun(options: StartSshRunOptions): Promise<StartedSshRun> {
  const configPath = path.resolve(options.configPath);
  const configText = await readFile(configPath, 'utf8');
  const launch = readLaunchOptions(configText);
  const { target } = options;
  const host = targetHost(target);
  const progress = options.onProgress ?? (() => undefined);

  const { synced, python } = await prepareHost(host, target.name, target.workFolder, options);
  // Its paths are host paths: the trainer there opens what it names before anything starts.
  progress(`checking the run config and its data on ${target.name}`);
  const report = await validateOnHost(host, {
    python,
    trainerFolder: synced.folder,
    workFolder: target.workFolder,
    configText,
    configName: path.basename(configPath),
    ...(options.signal ? { signal: options.signal } : {}),
  });
  requireValidOnHost(target.name, report);

  if (target.slurm !== undefined) {
    return submitOnCluster(options, target, target.slurm, { configPath, configText, launch, python, trainerFolder: synced.folder });
  }
  const { runId, runDir } = await createRunDir(path.resolve(options.runsRoot), configPath);
  progress(`starting ${runId} on ${target.name}`);
  let remote;
  try {
    remote = await startRemoteRun({
      host,
      workFolder: target.workFolder,
      python,
      trainerFolder: synced.folder,
      configText,
      configName: path.basename(configPath),
      runId,
      numProcesses: launch.numProcesses,
      gpus: launch.gpus,
      ...(options.secrets ? { secrets: options.secrets } : {}),
    });
  } catch (err) {
    // Nothing runs: leave no folder behind to show up as a lost run.
    await rm(runDir, { recursive: true, force: true });
    throw err;
  }
  const paths = runPaths(runDir);
  await writeFile(paths.config, configText);
  const info: RunInfo = {
    version: 1,
    run_id: runId,
    created: new Date().toISOString(),
    config_path: configPath,
    config_file: path.basename(paths.config),
    target: sshRunTarget(target, remote.runDir),
    pid: remote.pid,
    pid_start_time: remote.startTime,
    trainer_version: await readTrainerVersion(options.extensionRoot),
    python,
    argv: [python, '-m', 'medvlm_sft', 'train', `${remote.runDir}/config.sft.yaml`, '--run-dir', remote.runDir, '--run-id', runId],
  };
  await writeRunInfo(runDir, info);
  return { runId, runDir, remoteDir: remote.runDir, pid: remote.pid };
}

export interface ResumeSshRunOptions {
  /** The run's (mirror) folder on this machine. */
  readonly runDir: string;
  readonly extensionRoot: string;
  readonly secrets?: Readonly<Record<string, string>>;
  readonly onProgress?: (message: string) => void;
  readonly signal?: AbortSignal;
}

/**
 * Resumes a remote run on its host from its latest complete checkpoint there: the trainer synced
 * again (the current one, as a local resume uses the current trainer), the next attempt claimed
 * here (launch-<n>.json: one resume at a time, from any window), started detached in the run's
 * folder on the host (on a SLURM target: a new job there). Its mirror must then be followed
 * again (RemoteMirrors.follow).
 */
export async function resumeSshRun(options: ResumeSshRunOptions): Promise<StartedSshRun & { readonly attempt: number }> {
  const runDir = path.resolve(options.runDir);
  const info = await readRunInfo(runDir);
  if (info?.target.kind !== 'ssh') throw new Error(`${runDir} is not a run on a remote target`);
  const target = info.target;
  const host = sshHostOf(target);
  const progress = options.onProgress ?? (() => undefined);
  const current = await readRunProcess(runDir, info);
  if (current?.pending !== undefined && Date.now() - current.pending.claimedMs < STARTING_GRACE_MS) {
    throw new Error(`run ${info.run_id} is being resumed already (attempt ${current.pending.attempt}).`);
  }
  if (current?.jobId !== undefined) {
    const job = await slurmJobState(host, current.jobId);
    if (ACTIVE_JOB_STATES.has(job.state)) {
      throw new Error(`run ${info.run_id} is still ${job.state.toLowerCase()} as SLURM job ${current.jobId} on ${target.name}: stop it, or wait for it to end, before resuming.`);
    }
  } else if (typeof current?.pid === 'number' && (await remoteRunAlive(host, current.pid, current.pid_start_time))) {
    throw new Error(`run ${info.run_id} is still running on ${target.name} (pid ${current.pid}): stop it, or wait for it to end, before resuming.`);
  }
  const configText = await readFile(path.join(runDir, info.config_file), 'utf8');
  const launch = readLaunchOptions(configText);
  const { synced, python } = await prepareHost(host, target.name, target.work_folder, options);
  // Past every claim, abandoned ones included: an attempt number is never used twice.
  const attempt = Math.max(current?.attempt ?? 1, ...(await listLaunches(runDir)).map((l) => l.attempt)) + 1;
  try {
    await claimLaunch(runDir, attempt);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') throw new Error(`run ${info.run_id} is being resumed already (attempt ${attempt}).`);
    throw err;
  }
  progress(`resuming ${info.run_id} on ${target.name}`);
  const argv = [python, '-m', 'medvlm_sft', 'train', `${target.run_dir}/config.sft.yaml`, '--run-dir', target.run_dir, '--resume-from', 'latest', '--attempt', String(attempt)];
  let launched: { pid: number | null; startTime: number | null; eventsOffset: number; jobId?: string };
  try {
    if (target.job_id !== undefined) {
      // On a cluster the next attempt is a new job in the same folder, with the options the
      // first was submitted with; no token travels.
      const slurm = readSlurmOptions(target.slurm);
      const script = jobScript({ runId: info.run_id, python, trainerFolder: synced.folder, workFolder: target.work_folder, slurm, numProcesses: launch.numProcesses, attempt, resumeFrom: 'latest' });
      const job = await resubmitSlurmRun(host, target.run_dir, attempt, script);
      launched = { pid: null, startTime: null, eventsOffset: job.eventsOffset, jobId: job.jobId };
    } else {
      const resumed = await resumeRemoteRun({
        host,
        workFolder: target.work_folder,
        python,
        trainerFolder: synced.folder,
        runId: info.run_id,
        runDir: target.run_dir,
        attempt,
        resumeFrom: 'latest',
        numProcesses: launch.numProcesses,
        gpus: launch.gpus,
        ...(options.secrets ? { secrets: options.secrets } : {}),
      });
      launched = { pid: resumed.pid, startTime: resumed.startTime, eventsOffset: resumed.eventsOffset };
    }
  } catch (err) {
    await releaseLaunch(runDir, attempt);
    throw err;
  }
  await writeLaunchRecord(runDir, {
    version: 1,
    attempt,
    created: new Date().toISOString(),
    pid: launched.pid,
    pid_start_time: launched.startTime,
    ...(launched.jobId !== undefined ? { job_id: launched.jobId } : {}),
    resume_from: 'latest',
    events_offset: launched.eventsOffset,
    python,
    argv: launched.jobId !== undefined ? ['sbatch', `${target.run_dir}/job-${attempt}.sh`] : argv,
  });
  // The mirror said the previous attempt ended; this one runs.
  await writeRemoteState(runDir, { version: 1, t: Date.now() / 1000, alive: true });
  return { runId: info.run_id, runDir, remoteDir: target.run_dir, pid: launched.pid, ...(launched.jobId !== undefined ? { jobId: launched.jobId } : {}), attempt };
}

interface Prepared {
  readonly configPath: string;
  readonly configText: string;
  readonly launch: LaunchOptions;
  readonly python: string;
  readonly trainerFolder: string;
}

/**
 * A run on a SLURM target: the job script (the target's defaults under the run's
 * `launch.slurm`) submitted with sbatch in the run's folder on the cluster. No token travels:
 * the job uses the Hugging Face login on the cluster.
 */
async function submitOnCluster(options: StartSshRunOptions, target: RemoteTarget, defaults: SlurmOptions, prepared: Prepared): Promise<StartedSshRun> {
  const slurm = mergeSlurmOptions(defaults, prepared.launch.slurm ?? {});
  const problem = slurmOptionsProblem(slurm);
  if (problem !== undefined) throw new Error(`${problem} (target ${target.name}, or launch.slurm in the run config)`);
  const { runId, runDir } = await createRunDir(path.resolve(options.runsRoot), prepared.configPath);
  options.onProgress?.(`submitting ${runId} to ${target.name}`);
  let job;
  try {
    const script = jobScript({ runId, python: prepared.python, trainerFolder: prepared.trainerFolder, workFolder: target.workFolder, slurm, numProcesses: prepared.launch.numProcesses, attempt: 1 });
    job = await submitSlurmRun(targetHost(target), posix.join(target.workFolder, 'runs', runId), prepared.configText, script);
  } catch (err) {
    await rm(runDir, { recursive: true, force: true });
    throw err;
  }
  const paths = runPaths(runDir);
  await writeFile(paths.config, prepared.configText);
  const info: RunInfo = {
    version: 1,
    run_id: runId,
    created: new Date().toISOString(),
    config_path: prepared.configPath,
    config_file: path.basename(paths.config),
    target: { ...sshRunTarget(target, job.runDir), job_id: job.jobId, slurm: { ...slurm } },
    pid: null,
    pid_start_time: null,
    trainer_version: await readTrainerVersion(options.extensionRoot),
    python: prepared.python,
    argv: ['sbatch', `${job.runDir}/job.sh`],
  };
  await writeRunInfo(runDir, info);
  return { runId, runDir, remoteDir: job.runDir, pid: null, jobId: job.jobId };
}

/**
 * Stops a remote run as a local one is stopped: SIGTERM to its process group on the host (the
 * trainer checkpoints and ends `stopped`), SIGKILL after the grace period.
 */
export async function stopSshRun(runDir: string, options: { readonly graceMs?: number } = {}): Promise<StopOutcome> {
  const info = await readRunInfo(runDir);
  if (info?.target.kind !== 'ssh') throw new Error(`${runDir} is not a run on a remote target`);
  const proc = await readRunProcess(runDir, info);
  if (proc?.jobId !== undefined) {
    // scancel: SIGTERM to the job's processes, the cluster's SIGKILL after its KillWait.
    return cancelSlurmRun(sshHostOf(info.target), proc.jobId, (options.graceMs ?? 60_000) / 1000);
  }
  if (proc === undefined || typeof proc.pid !== 'number') return 'not-running';
  return stopRemoteRun(sshHostOf(info.target), proc.pid, (options.graceMs ?? 60_000) / 1000, proc.pid_start_time);
}
