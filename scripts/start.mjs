// `npm start`: from a fresh clone to a finished tiny SFT run on the CPU.
// Installs what is missing, builds, writes demo-workspace/ (tiny model, demo data, demo
// config), runs the demo through the extension's own local launcher with live progress,
// and prints the run folder. With VS Code's `code` on the PATH it then opens the demo
// workspace with this extension loaded from source.
import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import path from 'node:path';
import { ensurePython, repoRoot, trainerEnv } from './pythonEnv.mjs';

const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';
const demoDir = path.join(repoRoot, 'demo-workspace');

function step(message) {
  console.log(`\n▶ ${message}`);
}

function sh(cmd, args, options = {}) {
  const result = spawnSync(cmd, args, { cwd: repoRoot, stdio: 'inherit', ...options });
  if (result.status !== 0) {
    throw new Error(`${path.basename(cmd)} ${args.join(' ')} failed (exit ${result.status ?? result.signal})`);
  }
}

function npmInstallIfNeeded() {
  const marker = path.join(repoRoot, 'node_modules', '.package-lock.json');
  const lock = path.join(repoRoot, 'package-lock.json');
  if (existsSync(marker) && statSync(marker).mtimeMs >= statSync(lock).mtimeMs) return;
  step('Installing npm packages');
  sh(npm, ['ci', '--no-audit', '--no-fund']);
}

// The demo workspace is regenerated when the trainer code that writes it changes.
function demoFingerprint() {
  const hash = createHash('sha256');
  for (const rel of [
    'python/configs/demo.sft.yaml',
    'python/src/medvlm_sft/models/tiny.py',
    'python/src/medvlm_sft/data/demo.py',
  ]) {
    hash.update(rel).update(readFileSync(path.join(repoRoot, rel)));
  }
  return hash.digest('hex').slice(0, 16);
}

function makeDemoWorkspace(python) {
  const stamp = path.join(demoDir, '.demo-fingerprint');
  const fingerprint = demoFingerprint();
  if (existsSync(stamp) && readFileSync(stamp, 'utf8') === fingerprint) {
    console.log(`demo workspace is up to date: ${demoDir}`);
    return;
  }
  step('Writing the demo workspace (tiny Qwen2.5-VL model, synthetic NIfTI dataset)');
  for (const sub of ['tiny-qwen2_5_vl', 'demo-data']) rmSync(path.join(demoDir, sub), { recursive: true, force: true });
  mkdirSync(demoDir, { recursive: true });
  const env = trainerEnv(python);
  sh(python, ['-m', 'medvlm_sft', 'make-tiny-model', path.join(demoDir, 'tiny-qwen2_5_vl'), '--family', 'qwen2_5_vl'], { env });
  sh(python, ['-m', 'medvlm_sft', 'make-demo-data', path.join(demoDir, 'demo-data')], { env });
  copyFileSync(path.join(repoRoot, 'python', 'configs', 'demo.sft.yaml'), path.join(demoDir, 'demo.sft.yaml'));
  writeFileSync(stamp, fingerprint);
}

function openInVsCode() {
  const which = spawnSync(process.platform === 'win32' ? 'where' : 'which', ['code'], { encoding: 'utf8' });
  if (which.status !== 0) {
    console.log('(VS Code\'s `code` command is not on the PATH; open demo-workspace/ in VS Code with this extension to see the run.)');
    return;
  }
  step('Opening the demo workspace in VS Code with the extension loaded from this checkout');
  spawnSync('code', [`--extensionDevelopmentPath=${repoRoot}`, demoDir], { stdio: 'inherit' });
}

function main() {
  npmInstallIfNeeded();
  step('Building the extension');
  sh(npm, ['run', '--silent', 'build']);
  step('Preparing the trainer\'s Python environment');
  const python = ensurePython();
  console.log(`python: ${python}`);
  makeDemoWorkspace(python);
  step('Running the demo SFT run on the CPU');
  sh(process.execPath, [
    path.join(repoRoot, 'dist', 'demo.js'),
    '--python', python,
    '--extension-root', repoRoot,
    '--config', path.join(demoDir, 'demo.sft.yaml'),
    '--runs-root', path.join(demoDir, '.medvlm', 'runs'),
  ]);
  openInVsCode();
}

try {
  main();
} catch (err) {
  console.error(`\nnpm start failed: ${err.message}`);
  process.exitCode = 1;
}
