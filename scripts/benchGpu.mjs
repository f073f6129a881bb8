// `npm run bench:gpu`: python/benchmarks/bench_gpu.py in the trainer's Python environment (needs a CUDA GPU).
// Extra arguments are passed on (e.g. `npm run bench:gpu -- --steps 48`, or `-- --tiny --cpu` to check it on a CPU).
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { ensurePython, repoRoot, trainerEnv } from './pythonEnv.mjs';

const python = ensurePython({ quiet: true });
const script = path.join(repoRoot, 'python', 'benchmarks', 'bench_gpu.py');
const result = spawnSync(python, [script, ...process.argv.slice(2)], {
  cwd: repoRoot,
  stdio: 'inherit',
  env: trainerEnv(python),
});
process.exit(result.status ?? 1);
