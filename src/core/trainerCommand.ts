// The command line and environment that start the bundled trainer. The trainer is not
// installed into its environment (design contract 6): `<extension>/python/src` goes on
// PYTHONPATH instead, so a new trainer version never needs a new environment.

import path from 'node:path';
import { parse } from 'yaml';
import type { SlurmOptions } from './remote/slurm';
import { CONFIG_SNAPSHOT } from './runDir';

export interface LaunchOptions {
  /** `local`, or the name of a configured remote target. */
  readonly target: string;
  readonly numProcesses: number;
  /** GPU indices for CUDA_VISIBLE_DEVICES; null uses every visible GPU. */
  readonly gpus: readonly number[] | null;
  /** The run's SLURM overrides (`launch.slurm`), for a SLURM target. */
  readonly slurm?: SlurmOptions;
}

export const DEFAULT_LAUNCH: LaunchOptions = { target: 'local', numProcesses: 1, gpus: null };

function readSlurmOverrides(raw: unknown): SlurmOptions | undefined {
  if (typeof raw !== 'object' || raw === null) return undefined;
  const r = raw as Record<string, unknown>;
  const text = (v: unknown): string | undefined => (typeof v === 'string' && v.trim() !== '' ? v.trim() : undefined);
  const partition = text(r.partition);
  const time = text(r.time);
  const account = text(r.account);
  const nodes = Number.isInteger(r.nodes) ? (r.nodes as number) : undefined;
  const extra = Array.isArray(r.extra_sbatch) ? r.extra_sbatch.filter((l): l is string => typeof l === 'string') : [];
  return {
    ...(partition !== undefined ? { partition } : {}),
    ...(time !== undefined ? { time } : {}),
    ...(account !== undefined ? { account } : {}),
    ...(nodes !== undefined ? { nodes } : {}),
    ...(extra.length > 0 ? { extraSbatch: extra } : {}),
  };
}

/**
 * The `launch` section of a run config. Tolerant on purpose: the trainer's own validation
 * (run before launching) is what reports a malformed section.
 */
export function readLaunchOptions(configText: string): LaunchOptions {
  let doc: unknown;
  try {
    doc = parse(configText);
  } catch {
    return DEFAULT_LAUNCH;
  }
  const launch = (doc as { launch?: unknown } | null)?.launch;
  if (typeof launch !== 'object' || launch === null) {
    return DEFAULT_LAUNCH;
  }
  const { target, num_processes: numProcesses, gpus, slurm } = launch as Record<string, unknown>;
  const overrides = readSlurmOverrides(slurm);
  return {
    target: typeof target === 'string' && target.length > 0 ? target : DEFAULT_LAUNCH.target,
    numProcesses: Number.isInteger(numProcesses) && (numProcesses as number) >= 1 ? (numProcesses as number) : 1,
    gpus: Array.isArray(gpus) && gpus.every((g) => Number.isInteger(g) && g >= 0) ? (gpus as number[]) : null,
    ...(overrides !== undefined ? { slurm: overrides } : {}),
  };
}

export function trainerSourceDir(extensionRoot: string): string {
  return path.join(extensionRoot, 'python', 'src');
}

/**
 * Secrets the trainer may need (Hub downloads and pushes, W&B). They reach it only through
 * its environment, inherited from the user's: never on its command line, never in a run file.
 */
export const TOKEN_ENV_VARS = ['HF_TOKEN', 'HUGGING_FACE_HUB_TOKEN', 'WANDB_API_KEY'] as const;

/** `baseEnv` (tokens included) plus the trainer's sources first on PYTHONPATH and unbuffered output. */
export function trainerEnv(extensionRoot: string, baseEnv: NodeJS.ProcessEnv = process.env): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [key, value] of Object.entries(baseEnv)) {
    if (value !== undefined) {
      env[key] = value;
    }
  }
  const src = trainerSourceDir(extensionRoot);
  env.PYTHONPATH = env.PYTHONPATH ? `${src}${path.delimiter}${env.PYTHONPATH}` : src;
  env.PYTHONUNBUFFERED = '1';
  return env;
}

export interface TrainerCommand {
  readonly file: string;
  readonly args: readonly string[];
  readonly env: Record<string, string>;
}

export interface TrainerCommandInput {
  readonly python: string;
  readonly extensionRoot: string;
  readonly runDir: string;
  readonly runId: string;
  /** The original config's folder: the snapshot's relative paths resolve against it. */
  readonly configDir: string;
  readonly launch: LaunchOptions;
  readonly baseEnv?: NodeJS.ProcessEnv;
  /** Resume: `latest` or a checkpoint folder, passed as `--resume-from`. */
  readonly resumeFrom?: string;
  /** Which start in the run folder this is (`--attempt`); the trainer counts them itself when absent. */
  readonly attempt?: number;
}

export function buildTrainerCommand(input: TrainerCommandInput): TrainerCommand {
  const train = [
    'medvlm_sft',
    'train',
    path.join(input.runDir, CONFIG_SNAPSHOT),
    '--run-dir',
    input.runDir,
    '--run-id',
    input.runId,
    '--base-dir',
    input.configDir,
    ...(input.resumeFrom !== undefined ? ['--resume-from', input.resumeFrom] : []),
    ...(input.attempt !== undefined ? ['--attempt', String(input.attempt)] : []),
  ];
  const env = trainerEnv(input.extensionRoot, input.baseEnv);
  if (input.launch.gpus !== null) {
    env.CUDA_VISIBLE_DEVICES = input.launch.gpus.join(',');
  }
  if (input.launch.numProcesses > 1) {
    // accelerate's module entry point rather than its console script: the script may not be on
    // PATH, and `python -m` guarantees the same interpreter. `--multi_gpu` is what makes
    // accelerate start N ranks; without it, it starts one unless it sees several GPUs.
    const accelerate = [
      '-m',
      'accelerate.commands.launch',
      '--multi_gpu',
      '--num_processes',
      String(input.launch.numProcesses),
      '--num_machines',
      '1',
    ];
    return { file: input.python, args: [...accelerate, '-m', ...train], env };
  }
  return { file: input.python, args: ['-m', ...train], env };
}

/**
 * The supervisor: a POSIX shell that runs the trainer command in the foreground and records
 * how it ended in the exit file, as one line `{"v":1,"attempt":N,"pid":<shell pid>,"code":C,
 * "signal":S,"t":T}` (code null and signal "SIGKILL" when a signal ended it; while it runs,
 * the line says `"running":true`). Without it, a trainer killed by a signal would look the
 * same after a window reload as one whose whole process group vanished.
 *
 * - The shell leads the process group (the launcher starts it detached), so a stop sent to
 *   the group still reaches the trainer and its workers. It traps HUP, INT and TERM with a
 *   command, so it outlives them while its children keep the default handling (a trap that
 *   ignores a signal would make the children ignore it too). A trapped signal waits until
 *   the foreground command ends, then the record is written.
 * - The line is padded to a fixed size and rewritten in place (`1<>` neither truncates nor
 *   needs new blocks), so the final record still gets written when the trainer died of a
 *   full disk.
 * - A shell reports death by signal N as status 128 + N; the trainer's own deliberate
 *   exits above 128 (a second SIGTERM) are read as that signal, which is what they mean.
 */
export const SUPERVISOR_SCRIPT = String.raw`exit_file=$1 attempt=$2
shift 2
trap : HUP INT TERM
record() { printf '%-240s\n' "$1" 2>/dev/null 1<>"$exit_file"; }
record "{\"v\":1,\"attempt\":$attempt,\"pid\":$$,\"running\":true}"
"$@"
status=$?
code=$status signal=null
if [ "$status" -gt 128 ] && [ "$status" -le 192 ]; then
  name=$(kill -l "$status" 2>/dev/null) && code=null signal="\"SIG$name\""
fi
record "{\"v\":1,\"attempt\":$attempt,\"pid\":$$,\"code\":$code,\"signal\":$signal,\"t\":$(date +%s)}"
exit "$status"`;

/** `command` under the supervisor, which records its end in `exitFile` for `attempt`. */
export function superviseCommand(command: TrainerCommand, exitFile: string, attempt: number): TrainerCommand {
  return {
    file: '/bin/sh',
    args: ['-c', SUPERVISOR_SCRIPT, 'medvlm-supervisor', exitFile, String(attempt), command.file, ...command.args],
    env: command.env,
  };
}
