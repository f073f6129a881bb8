// `npm run --silent trainer -- <args>`: the trainer CLI in the project's Python environment.
// Bootstrap progress goes to stderr, so stdout carries only what the CLI prints.
import { repoRoot, runInTrainerEnv } from './pythonEnv.mjs';

runInTrainerEnv(['-m', 'medvlm_sft', ...process.argv.slice(2)], { cwd: process.env.INIT_CWD ?? repoRoot });
