// Commands on a remote host through the system `ssh`, so the user's keys, agent, ProxyJump,
// known_hosts and ~/.ssh/config all work as they do in a terminal. One multiplexed connection
// per host (ControlMaster/ControlPersist, its socket in a private folder), so a run followed
// for hours costs one handshake. ssh never prompts (BatchMode): an unknown host key is never
// accepted here, and each way a connection fails gets its own message. No `vscode`.

import { execa } from 'execa';
import { mkdirSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

export interface SshHost {
  /** A Host of the user's ssh config, or `user@hostname`. */
  readonly alias: string;
  /** Another ssh config file instead of ~/.ssh/config (`ssh -F`). */
  readonly configFile?: string;
}

export type SshFailure = 'auth' | 'host-key-unknown' | 'host-key-changed' | 'unreachable' | 'command';

export class SshError extends Error {
  constructor(
    message: string,
    readonly kind: SshFailure,
    /** The remote command's exit status, for `command` failures. */
    readonly exitCode?: number,
    /** No answer within the call's timeoutMs: a slow command, or a link that died under it. */
    readonly timedOut = false,
  ) {
    super(message);
    this.name = 'SshError';
  }
}

/** How long a connection may take to come up, and an idle master stays. */
const CONNECT_TIMEOUT_S = 15;
const PERSIST = '10m';
/**
 * A connection that hears nothing from the host for ALIVE_INTERVAL_S * (ALIVE_COUNT + 1) s
 * (it asks every ALIVE_INTERVAL_S s of silence) is given up: a link that died without a word
 * is noticed in 15 s, so the run reads unreachable and a fresh connection is tried, instead of
 * every command queueing behind the dead one. Any byte from the host counts as an answer,
 * so a link busy with a long download is never taken for dead.
 */
const ALIVE_INTERVAL_S = 5;
const ALIVE_COUNT = 2;

/** The folder of the multiplexing sockets: private, and short (a socket path has ~100 bytes). */
export function controlDir(): string {
  const dir = path.join(os.tmpdir(), `medvlm-ssh-${os.userInfo().uid}`);
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  return dir;
}

/**
 * The options every ssh call gets; the user's config decides everything else. Windows' OpenSSH
 * has no connection sharing (no Unix sockets for ControlPath): there each command makes its
 * own connection, with the same options otherwise.
 */
export function sshOptions(host: SshHost, platform: NodeJS.Platform = process.platform, connectTimeoutS = CONNECT_TIMEOUT_S): string[] {
  const sharing = platform === 'win32' ? [] : ['-o', 'ControlMaster=auto', '-o', `ControlPath=${path.join(controlDir(), '%C')}`, '-o', `ControlPersist=${PERSIST}`];
  return [
    ...(host.configFile !== undefined ? ['-F', host.configFile] : []),
    '-o', 'BatchMode=yes',
    '-o', `ConnectTimeout=${connectTimeoutS}`,
    ...sharing,
    '-o', `ServerAliveInterval=${ALIVE_INTERVAL_S}`,
    '-o', `ServerAliveCountMax=${ALIVE_COUNT}`,
  ];
}

export interface RunOptions {
  /** Sent to the remote command's stdin (secrets travel here, never in argv). */
  readonly stdin?: string;
  readonly signal?: AbortSignal;
  readonly timeoutMs?: number;
  /**
   * How long a new connection may take to come up (ssh's ConnectTimeout), when not the usual
   * 15 s: a probe of a host that stopped answering retries often instead of waiting long.
   */
  readonly connectTimeoutS?: number;
}

export interface RunResult {
  readonly stdout: string;
  readonly stderr: string;
}

/**
 * Runs `command` (a shell command line: build it with shellCommand) on `host`. Fails with an
 * SshError: the connection's own failures by kind, or `command` with the remote exit status.
 */
export async function runSsh(host: SshHost, command: string, options: RunOptions = {}): Promise<RunResult> {
  const result = await execa('ssh', [...sshOptions(host, process.platform, options.connectTimeoutS), '--', host.alias, command], {
    reject: false,
    stripFinalNewline: false,
    ...(options.stdin !== undefined ? { input: options.stdin } : { stdin: 'ignore' }),
    ...(options.signal !== undefined ? { cancelSignal: options.signal } : {}),
    ...(options.timeoutMs !== undefined ? { timeout: options.timeoutMs } : {}),
  });
  const stdout = String(result.stdout ?? '');
  const stderr = String(result.stderr ?? '');
  if (result.exitCode === 0) return { stdout, stderr };
  if (result.isCanceled) throw new SshError(`the command on ${host.alias} was cancelled`, 'command');
  if (result.timedOut) throw new SshError(`the command on ${host.alias} took longer than ${(options.timeoutMs ?? 0) / 1000} s`, 'command', undefined, true);
  throw sshFailure(host.alias, result.exitCode ?? -1, stderr);
}

/** runSsh for a command whose output is bytes (a file's contents): stdout comes back unchanged. */
export async function runSshBytes(host: SshHost, command: string, options: RunOptions = {}): Promise<Buffer> {
  const result = await execa('ssh', [...sshOptions(host, process.platform, options.connectTimeoutS), '--', host.alias, command], {
    reject: false,
    encoding: 'buffer',
    stripFinalNewline: false,
    ...(options.stdin !== undefined ? { input: options.stdin } : { stdin: 'ignore' }),
    ...(options.signal !== undefined ? { cancelSignal: options.signal } : {}),
    ...(options.timeoutMs !== undefined ? { timeout: options.timeoutMs } : {}),
  });
  if (result.exitCode === 0) return Buffer.from(result.stdout);
  const stderr = Buffer.from(result.stderr ?? new Uint8Array()).toString('utf8');
  if (result.isCanceled) throw new SshError(`the command on ${host.alias} was cancelled`, 'command');
  if (result.timedOut) throw new SshError(`the command on ${host.alias} took longer than ${(options.timeoutMs ?? 0) / 1000} s`, 'command', undefined, true);
  throw sshFailure(host.alias, result.exitCode ?? -1, stderr);
}

/** What a failed ssh call means, from its exit status (255: ssh's own failure) and stderr. */
export function sshFailure(alias: string, exitCode: number, stderr: string): SshError {
  const said = stderr.split('\n').map((l) => l.trim()).filter((l) => l.length > 0 && !l.startsWith('@@@'));
  const last = said.at(-1) ?? `exit status ${exitCode}`;
  if (exitCode !== 255) return new SshError(`the command on ${alias} failed (exit status ${exitCode}): ${last}`, 'command', exitCode);
  if (/REMOTE HOST IDENTIFICATION HAS CHANGED|Host key for .* has changed/i.test(stderr)) {
    return new SshError(
      `the host key of ${alias} has CHANGED since it was last seen: someone may be intercepting the connection, or the host was reinstalled. Check with its administrator before removing the old key from known_hosts.`,
      'host-key-changed',
    );
  }
  if (/Host key verification failed|No \S+ host key is known/i.test(stderr)) {
    return new SshError(
      `${alias} is not a known host: its host key is not in your known_hosts, and MedVLM never accepts one unseen. Run \`ssh ${alias}\` once in a terminal, check the fingerprint, and accept it there.`,
      'host-key-unknown',
    );
  }
  if (/Permission denied|Too many authentication failures|no mutual signature/i.test(stderr)) {
    return new SshError(`${alias} refused the login (${last}): check the user and that your key is loaded (ssh-add -l) and in the host's authorized_keys.`, 'auth');
  }
  if (/Could not resolve hostname|Connection refused|Connection timed out|timed out|No route to host|Network is unreachable|Connection closed by|Connection reset/i.test(stderr)) {
    return new SshError(`cannot reach ${alias}: ${last}`, 'unreachable');
  }
  return new SshError(`ssh to ${alias} failed: ${last}`, 'unreachable');
}

/**
 * Closes the host's multiplexed connection, if there is one. The request goes to the master
 * over its local socket, so it works on a master stuck on a dead link too: the next command
 * then connects afresh instead of queueing behind it.
 */
export async function closeSsh(host: SshHost): Promise<void> {
  if (process.platform === 'win32') return;
  await execa('ssh', [...sshOptions(host), '-O', 'exit', '--', host.alias], { reject: false, stdin: 'ignore', timeout: 10_000 });
}
