// One build script for everything TypeScript:
//   node esbuild.mjs               development build (with source maps)
//   node esbuild.mjs --production  clean, minified package build without source maps
//   node esbuild.mjs --watch       development build, rebuilt on change
//   node esbuild.mjs --tests       unit, remote, webview, package and e2e tests into out/ for `node --test`
// Outputs: dist/extension.js (extension host, CJS), dist/webview/<name>.js (one IIFE per
// webview/<name>/main.ts) and dist/demo.js (the `npm start` demo entry, when src/demo.ts exists).
import * as esbuild from 'esbuild';
import { existsSync, readdirSync, rmSync } from 'node:fs';
import path from 'node:path';

const args = new Set(process.argv.slice(2));
const production = args.has('--production');
const watch = args.has('--watch');
const tests = args.has('--tests');

const nodeOptions = {
  bundle: true,
  platform: 'node',
  format: 'cjs',
  target: 'node20',
  // Only `vscode` stays external: dependencies such as execa (ESM-only) are bundled into the
  // CJS output, so the VSIX ships without node_modules.
  external: ['vscode'],
  logLevel: 'warning',
};

function webviewEntries() {
  if (!existsSync('webview')) return {};
  const entries = {};
  for (const dirent of readdirSync('webview', { withFileTypes: true })) {
    const main = path.join('webview', dirent.name, 'main.ts');
    if (dirent.isDirectory() && existsSync(main)) entries[dirent.name] = main;
  }
  return entries;
}

function testEntries(dir) {
  if (!existsSync(dir)) return [];
  return readdirSync(dir, { recursive: true })
    .filter((file) => file.endsWith('.ts'))
    .map((file) => path.join(dir, file));
}

function buildOptions() {
  const sourcemap = production ? false : 'linked';
  const host = {
    ...nodeOptions,
    entryPoints: { extension: 'src/extension.ts', ...(existsSync('src/demo.ts') ? { demo: 'src/demo.ts' } : {}) },
    outdir: 'dist',
    minify: production,
    sourcemap,
  };
  const webview = {
    bundle: true,
    platform: 'browser',
    format: 'iife',
    target: 'es2022',
    entryPoints: webviewEntries(),
    outdir: 'dist/webview',
    minify: production,
    sourcemap,
    logLevel: 'warning',
  };
  return [host, webview];
}

function testOptions() {
  // Test helpers (child-process entry points) are compiled alongside the tests.
  return [
    { ...nodeOptions, entryPoints: testEntries('test/unit'), outdir: 'out/unit', outbase: 'test/unit', sourcemap: 'inline' },
    // Remote runs against a real sshd, SLURM, network namespaces and tmpfs: a stage of their own.
    { ...nodeOptions, entryPoints: testEntries('test/remote'), outdir: 'out/remote', outbase: 'test/remote', sourcemap: 'inline' },
    { ...nodeOptions, entryPoints: testEntries('test/package'), outdir: 'out/package', outbase: 'test/package' },
    // playwright-core stays external: bundled it would add megabytes to every test file.
    {
      ...nodeOptions,
      entryPoints: testEntries('test/webview'),
      outdir: 'out/webview',
      outbase: 'test/webview',
      external: ['vscode', 'playwright-core'],
    },
    // End-to-end tests (a real VS Code in a real browser), with their harness and fixtures.
    {
      ...nodeOptions,
      entryPoints: testEntries('test/e2e'),
      outdir: 'out/e2e',
      outbase: 'test/e2e',
      external: ['vscode', 'playwright-core'],
      sourcemap: 'inline',
    },
  ].filter((options) => options.entryPoints.length > 0);
}

if (tests) {
  rmSync('out', { recursive: true, force: true });
  await Promise.all(testOptions().map((options) => esbuild.build(options)));
} else if (watch) {
  const contexts = await Promise.all(buildOptions().map((options) => esbuild.context(options)));
  await Promise.all(contexts.map((context) => context.watch()));
  console.log('esbuild: watching for changes');
} else {
  if (production) rmSync('dist', { recursive: true, force: true });
  await Promise.all(buildOptions().map((options) => esbuild.build(options)));
}
