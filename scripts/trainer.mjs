// `npm run --silent trainer -- <args>`: the trainer CLI in the project's Python environment.
// Bootstrap progress goes to stderr, so stdout carries only what the CLI prints.
import { spawnSync } from 'node:child_process';
import { ensurePython, repoRoot, trainerEnv } from './pythonEnv.mjs';

const python = ensurePython({ quiet: true });
const result = spawnSync(python, ['-m', 'medvlm_sft', ...process.argv.slice(2)], {
  cwd: process.env.INIT_CWD ?? repoRoot,
  stdio: 'inherit',
  env: trainerEnv(python),
});
process.exit(result.status ?? 1);
