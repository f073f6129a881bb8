// `npm run bench:prepare` / `npm run bench:gpu`: python/benchmarks/bench_<name>.py in the
// trainer's Python environment; `npm run bench:config`: the editor's config validation
// (test/bench/configValidation.ts); `npm run bench:chart`: the run panel's charts in headless
// Chromium (test/bench/chartRender.ts, on a fresh build); `npm run bench:nifti`: the preview's
// NIfTI decoding beside nifti-reader-js (test/bench/niftiDecode.ts); `npm run bench:remote`: a
// remote run's events followed over a real sshd on 127.0.0.1 (test/bench/remoteFollow.ts). Extra arguments are passed on, e.g.
// `npm run bench:prepare -- --baseline-samples 32` or `npm run bench:gpu -- --tiny --cpu`.
import { existsSync } from 'node:fs';
import path from 'node:path';
import { repoRoot, runInTrainerEnv } from './pythonEnv.mjs';

const [name, ...rest] = process.argv.slice(2);
if (name === 'config') {
  // A TypeScript benchmark: bundled with esbuild like the tests, run in Node.
  const esbuild = await import('esbuild');
  const outfile = path.join(repoRoot, 'out', 'bench', 'configValidation.js');
  await esbuild.build({ entryPoints: [path.join(repoRoot, 'test/bench/configValidation.ts')], bundle: true, platform: 'node', format: 'cjs', target: 'node20', outfile, logLevel: 'warning' });
  const { execFileSync } = await import('node:child_process');
  execFileSync(process.execPath, [outfile, repoRoot, ...rest], { stdio: 'inherit' });
  process.exit(0);
}
if (name === 'chart') {
  // The shipped bundles first (dist/webview/runPanel.js and its worker), then the benchmark,
  // bundled like the browser tests (playwright-core stays external).
  const { execFileSync } = await import('node:child_process');
  execFileSync(process.execPath, [path.join(repoRoot, 'esbuild.mjs')], { cwd: repoRoot, stdio: 'inherit' });
  const esbuild = await import('esbuild');
  const outfile = path.join(repoRoot, 'out', 'bench', 'chartRender.js');
  await esbuild.build({ entryPoints: [path.join(repoRoot, 'test/bench/chartRender.ts')], bundle: true, platform: 'node', format: 'cjs', target: 'node20', outfile, external: ['playwright-core'], logLevel: 'warning' });
  execFileSync(process.execPath, [outfile, ...rest], { cwd: repoRoot, stdio: 'inherit' });
  process.exit(0);
}
if (name === 'nifti') {
  // The extension host's NIfTI decoding (src/core/niftiStream.ts) beside nifti-reader-js, in Node.
  const esbuild = await import('esbuild');
  const outfile = path.join(repoRoot, 'out', 'bench', 'niftiDecode.js');
  await esbuild.build({ entryPoints: [path.join(repoRoot, 'test/bench/niftiDecode.ts')], bundle: true, platform: 'node', format: 'cjs', target: 'node20', outfile, external: ['vscode'], logLevel: 'warning' });
  const { execFileSync } = await import('node:child_process');
  execFileSync(process.execPath, [outfile, ...rest], { cwd: repoRoot, stdio: 'inherit' });
  process.exit(0);
}
if (name === 'remote') {
  // Events of a "remote" run followed over a real sshd on 127.0.0.1 (test/bench/remoteFollow.ts).
  const esbuild = await import('esbuild');
  const outfile = path.join(repoRoot, 'out', 'bench', 'remoteFollow.js');
  await esbuild.build({ entryPoints: [path.join(repoRoot, 'test/bench/remoteFollow.ts')], bundle: true, platform: 'node', format: 'cjs', target: 'node20', outfile, external: ['vscode'], logLevel: 'warning' });
  const { ensurePython } = await import('./pythonEnv.mjs');
  const { execFileSync } = await import('node:child_process');
  execFileSync(process.execPath, [outfile, ensurePython({ quiet: true }), ...rest], { cwd: repoRoot, stdio: 'inherit' });
  process.exit(0);
}
const script = path.join(repoRoot, 'python', 'benchmarks', `bench_${name}.py`);
if (!name || !existsSync(script)) {
  console.error(`usage: node scripts/bench.mjs prepare|gpu|config|chart|nifti|remote [args]`);
  process.exit(2);
}
runInTrainerEnv([script, ...rest]);
