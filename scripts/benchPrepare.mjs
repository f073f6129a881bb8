// `npm run bench:prepare`: python/benchmarks/bench_prepare.py in the trainer's Python environment.
// Extra arguments are passed on (e.g. `npm run bench:prepare -- --baseline-samples 32`).
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { ensurePython, repoRoot, trainerEnv } from './pythonEnv.mjs';

const python = ensurePython({ quiet: true });
const script = path.join(repoRoot, 'python', 'benchmarks', 'bench_prepare.py');
const result = spawnSync(python, [script, ...process.argv.slice(2)], {
  cwd: repoRoot,
  stdio: 'inherit',
  env: trainerEnv(python),
});
process.exit(result.status ?? 1);
