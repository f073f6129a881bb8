// The trainer environment for npm scripts: the `MEDVLM_PYTHON` interpreter if set, else the
// one the shared bootstrap creates or reuses (keyed by the requirements hash).
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

export function ensurePython({ quiet = false } = {}) {
  const preset = process.env.MEDVLM_PYTHON;
  if (preset) {
    if (!existsSync(preset)) {
      throw new Error(`MEDVLM_PYTHON points at ${preset}, which does not exist`);
    }
    return preset;
  }
  const bootstrap = path.join(repoRoot, 'python', 'bootstrap.py');
  const result = spawnSync('python3', [bootstrap], {
    cwd: repoRoot,
    stdio: ['ignore', 'pipe', quiet ? 'pipe' : 'inherit'],
    encoding: 'utf8',
  });
  if (result.status !== 0) {
    if (quiet && result.stderr) process.stderr.write(result.stderr);
    throw new Error(`python/bootstrap.py failed (exit ${result.status ?? result.signal})`);
  }
  const lines = result.stdout.trim().split('\n');
  return lines[lines.length - 1];
}

export function trainerEnv(python) {
  const src = path.join(repoRoot, 'python', 'src');
  return {
    ...process.env,
    MEDVLM_PYTHON: python,
    PYTHONPATH: process.env.PYTHONPATH ? `${src}${path.delimiter}${process.env.PYTHONPATH}` : src,
    PYTHONUNBUFFERED: '1',
  };
}

/** Runs `python ARGS` in the trainer environment with inherited stdio and exits with its status. */
export function runInTrainerEnv(args, { cwd = repoRoot } = {}) {
  const python = ensurePython({ quiet: true });
  const result = spawnSync(python, args, { cwd, stdio: 'inherit', env: trainerEnv(python) });
  process.exit(result.status ?? 1);
}
