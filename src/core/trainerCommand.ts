// The command line and environment that start the bundled trainer. The trainer is not
// installed into its environment (design contract 6): `<extension>/python/src` goes on
// PYTHONPATH instead, so a new trainer version never needs a new environment.

import path from 'node:path';
import { parse } from 'yaml';
import { CONFIG_SNAPSHOT } from './runDir';

export interface LaunchOptions {
  /** `local`, or the name of a configured remote target. */
  readonly target: string;
  readonly numProcesses: number;
  /** GPU indices for CUDA_VISIBLE_DEVICES; null uses every visible GPU. */
  readonly gpus: readonly number[] | null;
}

export const DEFAULT_LAUNCH: LaunchOptions = { target: 'local', numProcesses: 1, gpus: null };

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
  const { target, num_processes: numProcesses, gpus } = launch as Record<string, unknown>;
  return {
    target: typeof target === 'string' && target.length > 0 ? target : DEFAULT_LAUNCH.target,
    numProcesses: Number.isInteger(numProcesses) && (numProcesses as number) >= 1 ? (numProcesses as number) : 1,
    gpus: Array.isArray(gpus) && gpus.every((g) => Number.isInteger(g) && g >= 0) ? (gpus as number[]) : null,
  };
}

export function trainerSourceDir(extensionRoot: string): string {
  return path.join(extensionRoot, 'python', 'src');
}

/** `baseEnv` plus the trainer's sources first on PYTHONPATH and unbuffered output. */
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
