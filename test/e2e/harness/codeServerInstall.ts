// code-server from npm, installed once and cached (keyed by its version, the Node major its
// native modules are built for, and the platform). The steps are the offline recipe in
// notes/environment.md. The install is built in a temp folder beside the cache entry and
// renamed into place, under a lock file, so a crash never leaves a half-installed entry and
// two suites starting at once build it only once.

import { spawn } from 'node:child_process';
import {
  closeSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
  writeSync,
} from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Prerequisites } from './prerequisites';
import { CODE_SERVER_VERSION } from './prerequisites';

const COMPLETE_MARKER = '.medvlm-install-complete';
const LOCK_WAIT_MS = 20 * 60_000;
const STALE_LOCK_MS = 30 * 60_000;

export interface CodeServerInstall {
  /** The cache entry. */
  readonly root: string;
  /** code-server's entry script, run with this Node (the one its native modules fit). */
  readonly entry: string;
}

export function cacheRoot(): string {
  const base = process.env.XDG_CACHE_HOME || path.join(os.homedir(), '.cache');
  return path.join(base, 'medvlm-studio');
}

export function installKey(): string {
  return `code-server-${CODE_SERVER_VERSION}-node${process.versions.node.split('.')[0]}-${process.platform}-${process.arch}`;
}

/** Whether the cache entry is complete (so installing prerequisites need not be checked). */
export function codeServerInstalled(): boolean {
  const root = path.join(cacheRoot(), installKey());
  return existsSync(path.join(root, COMPLETE_MARKER)) && existsSync(entryOf(root));
}

function entryOf(root: string): string {
  return path.join(root, 'node_modules', 'code-server', 'out', 'node', 'entry.js');
}

/** The cached install, built first when missing (a few minutes, once). */
export async function ensureCodeServer(prereqs: Prerequisites, progress: (line: string) => void): Promise<CodeServerInstall> {
  const cache = cacheRoot();
  const key = installKey();
  const root = path.join(cache, key);
  const done = (): CodeServerInstall | undefined =>
    existsSync(path.join(root, COMPLETE_MARKER)) && existsSync(entryOf(root)) ? { root, entry: entryOf(root) } : undefined;
  const cached = done();
  if (cached) {
    return cached;
  }
  mkdirSync(cache, { recursive: true });
  return withLock(path.join(cache, `${key}.lock`), async () => {
    // Another suite may have finished it while this one waited for the lock.
    const meanwhile = done();
    if (meanwhile) {
      return meanwhile;
    }
    // Leftovers of an interrupted install; nobody else can be using them while we hold the lock.
    for (const name of readdirSync(cache)) {
      if (name.startsWith(`${key}.tmp-`)) rmSync(path.join(cache, name), { recursive: true, force: true });
    }
    rmSync(root, { recursive: true, force: true });
    const logFile = path.join(cache, `${key}.install.log`);
    writeFileSync(logFile, '');
    const staging = mkdtempSync(path.join(cache, `${key}.tmp-`));
    const started = Date.now();
    progress(`e2e: installing code-server ${CODE_SERVER_VERSION} into ${root} (once; log: ${logFile})`);
    try {
      await build(staging, prereqs, logFile, progress);
      writeFileSync(path.join(staging, COMPLETE_MARKER), `${new Date().toISOString()}\n`);
      renameSync(staging, root);
    } catch (err) {
      rmSync(staging, { recursive: true, force: true });
      throw err;
    }
    progress(`e2e: code-server installed in ${Math.round((Date.now() - started) / 1000)} s`);
    const installed = done();
    if (!installed) {
      throw new Error(`e2e: code-server install finished but ${entryOf(root)} is missing`);
    }
    return installed;
  });
}

async function build(dir: string, prereqs: Prerequisites, logFile: string, progress: (line: string) => void): Promise<void> {
  const npm = (cwd: string, args: string[], env: NodeJS.ProcessEnv = {}): Promise<void> =>
    run('npm', [...args, '--no-audit', '--no-fund'], cwd, logFile, env);
  writeFileSync(path.join(dir, 'package.json'), JSON.stringify({ name: 'medvlm-e2e-code-server', private: true }));
  // Scripts off: code-server's postinstall would download ripgrep and run installs we do by hand.
  progress('e2e:   npm install code-server');
  await npm(dir, ['install', '--ignore-scripts', `code-server@${CODE_SERVER_VERSION}`]);

  const vscode = path.join(dir, 'node_modules', 'code-server', 'lib', 'vscode');
  progress('e2e:   VS Code dependencies');
  await npm(vscode, ['install', '--omit=dev', '--ignore-scripts']);
  // @vscode/ripgrep's postinstall downloads a binary unless bin/ exists; the system rg serves.
  const rgBin = path.join(vscode, 'node_modules', '@vscode', 'ripgrep', 'bin');
  mkdirSync(rgBin, { recursive: true });
  symlinkSync(prereqs.rg, path.join(rgBin, 'rg'));
  progress('e2e:   building native modules (node-pty, spdlog, kerberos, ...)');
  // node-pty's build calls `npx node-gyp`, which would stop to ask before installing it.
  await npm(vscode, ['rebuild'], { npm_config_yes: 'true' });
  for (const native of ['node-pty/build/Release/pty.node', '@vscode/spdlog/build/Release/spdlog.node']) {
    if (!existsSync(path.join(vscode, 'node_modules', native))) {
      throw new Error(`e2e: npm rebuild did not build ${native}; see ${logFile}`);
    }
  }
  // What code-server's postinstall.sh would have linked.
  symlinkSync('node_modules', path.join(vscode, 'node_modules.asar'));
  symlinkSync('code-linux.sh', path.join(vscode, 'bin', 'remote-cli', 'code-server'));
  symlinkSync('browser-linux.sh', path.join(vscode, 'bin', 'helpers', 'browser.sh'));
  progress('e2e:   built-in extensions\' dependencies');
  await npm(path.join(vscode, 'extensions'), ['install', '--omit=dev']);
  await npm(dir, ['rebuild', 'argon2']);
}

function run(command: string, args: string[], cwd: string, logFile: string, extraEnv: NodeJS.ProcessEnv): Promise<void> {
  return new Promise((resolve, reject) => {
    const fd = openSync(logFile, 'a');
    writeSync(fd, `\n[${new Date().toISOString()}] $ (cd ${cwd} && ${command} ${args.join(' ')})\n`);
    const child = spawn(command, args, { cwd, env: { ...process.env, ...extraEnv }, stdio: ['ignore', fd, fd] });
    closeSync(fd);
    child.on('error', reject);
    child.on('close', (code, signal) => {
      if (code === 0) {
        resolve();
        return;
      }
      const tail = readFileSync(logFile, 'utf8').split('\n').slice(-30).join('\n');
      reject(new Error(`e2e: \`${command} ${args.join(' ')}\` in ${cwd} failed (${code ?? signal}); last lines of ${logFile}:\n${tail}`));
    });
  });
}

async function withLock<T>(lockFile: string, fn: () => Promise<T>): Promise<T> {
  const deadline = Date.now() + LOCK_WAIT_MS;
  for (;;) {
    try {
      const fd = openSync(lockFile, 'wx');
      writeSync(fd, String(process.pid));
      closeSync(fd);
      break;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
    if (lockIsStale(lockFile)) {
      rmSync(lockFile, { force: true });
      continue;
    }
    if (Date.now() > deadline) {
      throw new Error(`e2e: waited ${LOCK_WAIT_MS / 60_000} min for ${lockFile}; remove it if no install is running`);
    }
    await new Promise((resolve) => setTimeout(resolve, 1000));
  }
  try {
    return await fn();
  } finally {
    rmSync(lockFile, { force: true });
  }
}

/** A lock whose owner died, or one so old that its owner must have. */
function lockIsStale(lockFile: string): boolean {
  try {
    const owner = Number(readFileSync(lockFile, 'utf8'));
    if (Date.now() - statSync(lockFile).mtimeMs > STALE_LOCK_MS) return true;
    if (!Number.isInteger(owner) || owner <= 0) return false; // just created, pid not written yet
    process.kill(owner, 0);
    return false;
  } catch (err) {
    // ESRCH: the owner is gone; ENOENT: the lock was released meanwhile (retry at once).
    return (err as NodeJS.ErrnoException).code === 'ESRCH' || (err as NodeJS.ErrnoException).code === 'ENOENT';
  }
}
