// `npm run --silent preview-cli -- ...`: bundles src/cli/previewCli.ts (like the tests) and runs
// it with the arguments given; its stdout is only the CLI's own JSON lines.
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import * as esbuild from 'esbuild';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const outfile = path.join(repoRoot, 'out', 'cli', 'previewCli.js');
await esbuild.build({
  entryPoints: [path.join(repoRoot, 'src', 'cli', 'previewCli.ts')],
  bundle: true,
  platform: 'node',
  format: 'cjs',
  target: 'node20',
  outfile,
  logLevel: 'error',
});
try {
  execFileSync(process.execPath, [outfile, ...process.argv.slice(2)], { stdio: 'inherit' });
} catch (err) {
  process.exitCode = typeof err.status === 'number' ? err.status : 1;
}
