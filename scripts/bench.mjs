// `npm run bench:prepare` / `npm run bench:gpu`: python/benchmarks/bench_<name>.py in the
// trainer's Python environment. Extra arguments are passed on, e.g.
// `npm run bench:prepare -- --baseline-samples 32` or `npm run bench:gpu -- --tiny --cpu`.
import { existsSync } from 'node:fs';
import path from 'node:path';
import { repoRoot, runInTrainerEnv } from './pythonEnv.mjs';

const [name, ...rest] = process.argv.slice(2);
const script = path.join(repoRoot, 'python', 'benchmarks', `bench_${name}.py`);
if (!name || !existsSync(script)) {
  console.error(`usage: node scripts/bench.mjs prepare|gpu [args]`);
  process.exit(2);
}
runInTrainerEnv([script, ...rest]);
