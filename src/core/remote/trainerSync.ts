// The bundled trainer on a remote host, synced by content hash (design: remote runs): the
// trainer package, its requirements and the shared bootstrap go to
// `<work folder>/trainer/<hash>/`, once. A host that has that folder already gets nothing; a
// changed trainer gets a new folder beside the old one, so runs still using the old one keep
// it. The upload is one tar stream over the shared connection, unpacked into a hidden folder
// and renamed into place, so a cut link never leaves a half trainer that looks whole.
// No `vscode`.

import { execa } from 'execa';
import { createHash } from 'node:crypto';
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { shellQuote } from './shellQuote';
import { runSsh, sshOptions, sshFailure } from './ssh';
import type { SshHost } from './ssh';
import { remotePath } from './targetCheck';

export interface TrainerFiles {
  /** The folder holding `python/` (the extension's root, or the repository). */
  readonly root: string;
  /** Paths under `root`, sorted, `/`-separated. */
  readonly files: readonly string[];
  /** sha256 of the paths and contents, 16 hex digits. */
  readonly hash: string;
}

/** What makes the trainer: the package's Python files, the requirements and the bootstrap. */
export async function trainerFiles(root: string): Promise<TrainerFiles> {
  const files: string[] = [];
  const walk = async (rel: string): Promise<void> => {
    for (const entry of await readdir(path.join(root, rel), { withFileTypes: true })) {
      const child = `${rel}/${entry.name}`;
      if (entry.isDirectory() && entry.name !== '__pycache__') await walk(child);
      else if (entry.isFile() && /\.(py|json|jinja|txt)$/.test(entry.name)) files.push(child);
    }
  };
  await walk('python/src/medvlm_sft');
  for (const name of await readdir(path.join(root, 'python'))) {
    if (/^requirements.*\.txt$/.test(name) || name === 'bootstrap.py') files.push(`python/${name}`);
  }
  files.sort();
  const hash = createHash('sha256');
  for (const file of files) {
    hash.update(file).update('\0');
    hash.update(await readFile(path.join(root, file))).update('\0');
  }
  return { root, files, hash: hash.digest('hex').slice(0, 16) };
}

/** What tar, sh and Python say when a write finds the disk (or the user's quota) full. */
const DISK_FULL = /No space left on device|Disk quota exceeded/i;

export interface SyncResult {
  readonly hash: string;
  /** The synced trainer's folder on the host, as written in the work folder (`~` kept). */
  readonly folder: string;
  readonly uploaded: boolean;
}

/** Makes sure `<workFolder>/trainer/<hash>` holds this trainer. */
export async function syncTrainer(host: SshHost, workFolder: string, trainer: TrainerFiles, signal?: AbortSignal): Promise<SyncResult> {
  const folder = `${workFolder.replace(/\/+$/, '')}/trainer/${trainer.hash}`;
  const target = remotePath(folder);
  const present = await runSsh(host, `if [ -f ${target}/.complete ]; then echo present; fi`, signal ? { signal } : {});
  if (present.stdout.trim() === 'present') return { hash: trainer.hash, folder, uploaded: false };
  const partial = `${target}.partial-$$`;
  const unpack = [
    `mkdir -p ${partial}`,
    `tar -xzf - -C ${partial}`,
    `: > ${partial}/.complete`,
    // Another window may have finished the same sync meanwhile: then keep that one.
    `if [ -e ${target} ]; then rm -rf ${partial}; else mv ${partial} ${target}; fi`,
  ].join(' && ');
  // A failed unpack (a full disk, above all) takes its half folder with it: left there, it
  // would keep the disk full for nothing.
  const script = `if ${unpack}; then exit 0; else status=$?; rm -rf ${partial}; exit $status; fi`;
  let result;
  try {
    result = await execa('tar', ['-czf', '-', '-C', trainer.root, '--', ...trainer.files], signal ? { cancelSignal: signal } : {}).pipe(
      'ssh',
      [...sshOptions(host), '--', host.alias, `sh -c ${shellQuote(script)}`],
      { reject: false, ...(signal ? { cancelSignal: signal } : {}) },
    );
  } catch (err) {
    throw new Error(`could not pack the trainer: ${err instanceof Error ? err.message : String(err)}`);
  }
  if (result.exitCode !== 0) {
    const stderr = String(result.stderr ?? '');
    // tar's last word is "Exiting with failure status"; the line that says why comes before it.
    const full = stderr.split('\n').find((line) => DISK_FULL.test(line));
    if (result.exitCode !== 255 && full !== undefined) {
      throw new Error(`could not sync the trainer to ${host.alias}: no space left on the device holding ${workFolder} (${full.trim()}); free some space there, or give the target a work folder on a larger disk`);
    }
    throw sshFailure(host.alias, result.exitCode ?? -1, stderr);
  }
  return { hash: trainer.hash, folder, uploaded: true };
}

export interface RemoteEnvOptions {
  readonly signal?: AbortSignal;
  /** Each progress line of the bootstrap ("bootstrap: ..."), as it comes. */
  readonly onLine?: (line: string) => void;
  /** Only find a complete environment; never start building one (it takes minutes). */
  readonly existingOnly?: boolean;
}

/**
 * The trainer's Python environment on the host, made or reused by the synced trainer's own
 * bootstrap (design contract 6: keyed by the requirements hash, so a host builds it once, the
 * first time minutes of downloads). Its progress lines stream to `onLine`; the interpreter's
 * path comes back. A failed build says the bootstrap's last words.
 */
export async function ensureRemoteEnv(host: SshHost, synced: SyncResult, options: RemoteEnvOptions = {}): Promise<string> {
  const bootstrap = `${remotePath(`${synced.folder}/python/bootstrap.py`)}`;
  const command = `if ! command -v python3 >/dev/null 2>&1; then echo 'bootstrap: python3 is not on the PATH of an ssh login' >&2; exit 2; fi; exec python3 ${bootstrap}${options.existingOnly === true ? ' --existing' : ''}`;
  const child = execa('ssh', [...sshOptions(host), '--', host.alias, command], {
    reject: false,
    stdin: 'ignore',
    ...(options.signal ? { cancelSignal: options.signal } : {}),
  });
  const lines: string[] = [];
  let pending = '';
  child.stderr?.on('data', (chunk: Buffer) => {
    pending += chunk.toString('utf8');
    const parts = pending.split(/\r?\n/);
    pending = parts.pop() ?? '';
    for (const line of parts) {
      if (line.trim() === '') continue;
      lines.push(line);
      options.onLine?.(line);
    }
  });
  const result = await child;
  if (pending.trim() !== '') lines.push(pending);
  if (result.exitCode === 255) throw sshFailure(host.alias, 255, String(result.stderr ?? ''));
  const python = String(result.stdout ?? '').trim().split('\n').at(-1)?.trim() ?? '';
  if (options.existingOnly === true && result.exitCode === 3) throw new Error(`${host.alias} has no environment for this trainer yet`);
  if (result.exitCode !== 0 || !python.startsWith('/')) {
    throw new Error(`the trainer's environment on ${host.alias} could not be made: ${buildFailure(lines) ?? `exit status ${String(result.exitCode)}`}`);
  }
  return python;
}

/**
 * Why a build failed, in one line. The bootstrap's last word ("command failed ...: pip install
 * ...") names the step but not the cause, which is the last error line of the tool it ran
 * (pip's "ERROR: No matching distribution found for ...", uv's "error: ..."): both are said.
 * Lines after the bootstrap's last one (a traceback of its own) say the cause themselves.
 */
export function buildFailure(lines: readonly string[]): string | undefined {
  const own = (line: string): boolean => /^bootstrap:/.test(line);
  const cause = (from: readonly string[]): string | undefined => {
    const tool = from.filter((line) => !own(line)).map((line) => line.trim());
    return tool.filter((line) => /^(ERROR|error)\b|^[A-Za-z_][\w.]*(Error|Exception)\b/.test(line)).at(-1) ?? tool.at(-1);
  };
  let lastOwn = lines.length - 1;
  while (lastOwn >= 0 && !own(lines[lastOwn] ?? '')) lastOwn -= 1;
  const after = cause(lines.slice(lastOwn + 1));
  if (lastOwn < 0 || after !== undefined) return after;
  const last = (lines[lastOwn] ?? '').replace(/^bootstrap:\s*/, '');
  const before = /^command failed/.test(last) ? cause(lines.slice(0, lastOwn)) : undefined;
  return before === undefined ? last : `${before} (${last.length > 300 ? `${last.slice(0, 300)}…` : last})`;
}
