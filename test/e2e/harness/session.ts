// One e2e session: the packaged extension installed into a fresh extensions folder of the
// cached code-server, served on 127.0.0.1 (port chosen by the kernel) with a throwaway user
// data folder and workspace, and driven by Debian's Chromium through playwright-core.
// Everything lives in one private temp folder, whose path also identifies every process the
// session started, so `close()` (and the exit handlers in processes.ts) can stop them all.

import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { BrowserContext, Page } from 'playwright-core';
import { chromium } from 'playwright-core';
import { repoRoot } from '../../unit/testUtil';
import { codeServerInstalled, ensureCodeServer } from './codeServerInstall';
import { CHROMIUM_FLAGS } from '../../webview/browserHarness';
import { checkPrerequisites } from './prerequisites';
import { forgetMarker, groupAlive, killGroup, killMentioning, spawnGroup, sweepAtExit } from './processes';
import { trustWorkspace } from './workbench';

export const EXTENSION_VSIX = path.join(repoRoot, 'dist', 'medvlm-studio.vsix');
export const EXTENSION_ID = 'medvlm.medvlm-studio';

export interface ConsoleEntry {
  readonly at: Date;
  /** A console method (log, error, ...), or `pageerror` for an uncaught exception. */
  readonly type: string;
  readonly text: string;
  /** Where it came from: the script URL for console calls, the stack for page errors. */
  readonly where: string;
}

export interface SessionOptions {
  /** Names the temp folder (and so the session's processes). */
  readonly name: string;
  /** Fills the empty workspace folder before code-server opens it. */
  readonly prepareWorkspace: (dir: string) => Promise<void>;
  /** Other VSIXes to install beside dist/medvlm-studio.vsix (test-only extensions). */
  readonly extraVsix?: readonly string[];
  /** Leave the workspace untrusted (Restricted Mode) instead of trusting it as a user would. */
  readonly untrusted?: boolean;
  /** More user settings (e.g. endpoints of local test servers). */
  readonly userSettings?: Readonly<Record<string, unknown>>;
}

export interface Session {
  readonly dir: string;
  readonly workspace: string;
  readonly userDataDir: string;
  readonly codeServerLog: string;
  /** code-server's pid, which is also its process group id. */
  readonly codeServerPgid: number;
  readonly url: string;
  readonly page: Page;
  readonly consoleEntries: readonly ConsoleEntry[];
  /** The remote extension host's log(s), concatenated. */
  extHostLog(): string;
  close(): Promise<void>;
}

/** The trainer interpreter for `medvlm.pythonPath`: the dev environment, never built here. */
export function trainerPython(): string {
  const python = process.env.MEDVLM_PYTHON;
  if (!python || !existsSync(python)) {
    throw new Error(
      `e2e: MEDVLM_PYTHON must name the trainer's Python environment (it is ${JSON.stringify(python ?? null)}). ` +
        '`npm run test:e2e` and `npm test` set it (they create or reuse the environment first).',
    );
  }
  return python;
}

export async function startSession(options: SessionOptions): Promise<Session> {
  const prereqs = checkPrerequisites({ forInstall: !codeServerInstalled() });
  const python = trainerPython();
  for (const vsix of [EXTENSION_VSIX, ...(options.extraVsix ?? [])]) {
    if (!existsSync(vsix)) throw new Error(`e2e: ${vsix} is missing (npm run package builds the extension's)`);
  }
  const dir = mkdtempSync(path.join(os.tmpdir(), `medvlm-e2e-${options.name}-`));
  sweepAtExit(dir);
  const workspace = path.join(dir, 'workspace');
  const userDataDir = path.join(dir, 'user-data');
  const extensionsDir = path.join(dir, 'extensions');
  const codeServerLog = path.join(dir, 'code-server.log');
  for (const sub of [workspace, path.join(userDataDir, 'User'), extensionsDir, path.join(dir, 'xdg-config'), path.join(dir, 'xdg-data')]) {
    mkdirSync(sub, { recursive: true });
  }
  writeFileSync(codeServerLog, '');
  writeFileSync(path.join(userDataDir, 'User', 'settings.json'), JSON.stringify({ ...userSettings(python), ...options.userSettings }, null, 2));
  // code-server otherwise writes a config with a password into ~/.config/code-server.
  const config = path.join(dir, 'code-server.yaml');
  writeFileSync(config, 'auth: none\ncert: false\n');

  const teardown: Array<() => Promise<void>> = [];
  const close = async (): Promise<void> => {
    for (const step of teardown.splice(0).reverse()) {
      await step().catch((err: unknown) => console.error(`e2e: teardown: ${String(err)}`));
    }
    // Whatever is left that names the session folder: the detached trainer, a stray browser.
    killMentioning(dir);
    forgetMarker(dir);
    if (process.env.E2E_KEEP_TEMP !== '1') rmSync(dir, { recursive: true, force: true });
  };
  try {
    const [install] = await Promise.all([
      ensureCodeServer(prereqs, (line) => console.error(line)),
      options.prepareWorkspace(workspace),
    ]);
    const env = serverEnv(dir);
    const common = ['--config', config, '--user-data-dir', userDataDir, '--extensions-dir', extensionsDir];
    const vsixArgs = [EXTENSION_VSIX, ...(options.extraVsix ?? [])].flatMap((vsix) => ['--install-extension', vsix]);
    await runToEnd(process.execPath, [install.entry, ...common, ...vsixArgs], env, codeServerLog, 120_000);

    // Port 0: the kernel picks a free port, and code-server's log says which.
    const pgid = spawnGroup(
      process.execPath,
      [install.entry, ...common, '--auth', 'none', '--bind-addr', '127.0.0.1:0', '--disable-telemetry', '--disable-update-check', workspace],
      { env, cwd: dir, logFile: codeServerLog },
    );
    teardown.push(() => killGroup(pgid));
    const url = await waitForListening(codeServerLog, pgid, 60_000);

    mkdirSync(path.join(dir, 'browser-tmp'));
    const context = await chromium.launchPersistentContext(path.join(dir, 'browser-profile'), {
      executablePath: prereqs.chromium,
      // Chromium's scratch folders then go with the session, even when it is killed.
      env: { ...process.env, TMPDIR: path.join(dir, 'browser-tmp') },
      headless: true,
      viewport: { width: 1400, height: 900 },
      args: [...CHROMIUM_FLAGS],
    });
    teardown.push(() => closeBrowser(context));
    const page = context.pages()[0] ?? (await context.newPage());
    const consoleEntries = recordConsole(page);
    await page.goto(`${url}?folder=${encodeURIComponent(workspace)}`);
    await page.waitForSelector('.monaco-workbench', { timeout: 60_000 });
    if (!options.untrusted) {
      await trustWorkspace(page);
    }
    return {
      dir,
      workspace,
      userDataDir,
      codeServerLog,
      codeServerPgid: pgid,
      url,
      page,
      consoleEntries,
      extHostLog: () => readExtHostLogs(userDataDir),
      close,
    };
  } catch (err) {
    // A failed start leaves nothing running (the caller gets no session to close).
    const log = existsSync(codeServerLog) ? readFileSync(codeServerLog, 'utf8').split('\n').slice(-20).join('\n') : '';
    await close();
    throw new Error(`${err instanceof Error ? err.message : String(err)}${log ? `\ncode-server log (last lines):\n${log}` : ''}`);
  }
}

function userSettings(python: string): Record<string, unknown> {
  return {
    // The point of the suite: the extension uses the project's dev environment and never
    // builds its own managed one.
    'medvlm.pythonPath': python,
    // Workspace trust stays on: the session trusts the folder through the real dialog.
    'workbench.startupEditor': 'none',
    'workbench.colorTheme': 'Default Dark Modern',
    'workbench.tips.enabled': false,
    'telemetry.telemetryLevel': 'off',
    'update.mode': 'none',
    'extensions.autoUpdate': false,
    'extensions.autoCheckUpdates': false,
    'extensions.ignoreRecommendations': true,
    // The temp workspace is no repository; git's scans only cost CPU on a small CI machine.
    'git.enabled': false,
    'chat.commandCenter.enabled': false,
  };
}

/** This process's environment without what would leak the test runner into VS Code. */
function serverEnv(dir: string): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [key, value] of Object.entries(process.env)) {
    // PYTHON*/MEDVLM_*: the extension must find the trainer through its settings alone.
    // NODE_TEST_CONTEXT would make any `node --test` below report to us in the runner's protocol.
    if (!/^(PYTHON|MEDVLM_|VSCODE_|NODE_TEST|NODE_OPTIONS$|ELECTRON_)/.test(key)) env[key] = value;
  }
  // code-server keeps state under XDG folders (~/.local/share/code-server, ~/.config): keep
  // it in the session.
  env.XDG_CONFIG_HOME = path.join(dir, 'xdg-config');
  env.XDG_DATA_HOME = path.join(dir, 'xdg-data');
  return env;
}

function runToEnd(command: string, args: string[], env: NodeJS.ProcessEnv, logFile: string, timeoutMs: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { env, stdio: ['ignore', 'pipe', 'pipe'], timeout: timeoutMs, killSignal: 'SIGKILL' });
    let out = '';
    child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (out += chunk.toString()));
    child.on('error', reject);
    child.on('close', (code, signal) => {
      writeFileSync(logFile, `$ code-server ${args.slice(1).join(' ')}\n${out}\n`, { flag: 'a' });
      if (code === 0 && !/Failed Installing/i.test(out)) resolve();
      else reject(new Error(`e2e: code-server ${args.slice(1).join(' ')} failed (${code ?? signal}):\n${out}`));
    });
  });
}

async function waitForListening(logFile: string, pgid: number, timeoutMs: number): Promise<string> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const url = /HTTP server listening on (http:\/\/127\.0\.0\.1:\d+\/)/.exec(readFileSync(logFile, 'utf8'))?.[1];
    if (url !== undefined) return url;
    if (!groupAlive(pgid)) throw new Error('e2e: code-server exited before it listened');
    if (Date.now() > deadline) throw new Error(`e2e: code-server did not listen within ${timeoutMs / 1000} s`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

async function closeBrowser(context: BrowserContext): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  // A wedged browser must not wedge the teardown; the marker sweep kills it afterwards.
  await Promise.race([context.close(), new Promise((resolve) => (timer = setTimeout(resolve, 10_000)))]);
  clearTimeout(timer);
}

function recordConsole(page: Page): ConsoleEntry[] {
  const entries: ConsoleEntry[] = [];
  page.on('console', (msg) => entries.push({ at: new Date(), type: msg.type(), text: msg.text(), where: msg.location().url }));
  page.on('pageerror', (err) => entries.push({ at: new Date(), type: 'pageerror', text: err.message, where: err.stack ?? '' }));
  page.on('crash', () => entries.push({ at: new Date(), type: 'crash', text: 'the page crashed', where: '' }));
  return entries;
}

/**
 * `logs/<time>/exthost<N>/remoteexthost.log` (the remote extension host's own log, which
 * records activations) first, then the MedVLM output channel's log beside it.
 */
function readExtHostLogs(userDataDir: string): string {
  const logs = path.join(userDataDir, 'logs');
  if (!existsSync(logs)) return '';
  const files: string[] = [];
  for (const stamp of readdirSync(logs).sort()) {
    const stampDir = path.join(logs, stamp);
    for (const host of readdirSync(stampDir).filter((n) => n.startsWith('exthost')).sort()) {
      files.push(path.join(stampDir, host, 'remoteexthost.log'));
      const own = path.join(stampDir, host, EXTENSION_ID);
      if (existsSync(own)) files.push(...readdirSync(own).sort().map((name) => path.join(own, name)));
    }
  }
  return files
    .filter((file) => existsSync(file))
    .map((file) => `==> ${path.relative(userDataDir, file)} <==\n${readFileSync(file, 'utf8')}`)
    .join('\n');
}
