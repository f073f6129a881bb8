// A real OpenSSH server on 127.0.0.1 for tests (`/usr/sbin/sshd`; .ci/run installs
// openssh-server): its own host key, a client key, an ssh config file naming it, and a
// known_hosts that has (or, on request, lacks or contradicts) its host key. Logs go to a
// file, so tests can count handshakes. Stopped by the pid in its pid file. Optionally inside
// a network namespace, reached over a link the test can cut (linkNamespace.ts).

import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';

export const SSHD = '/usr/sbin/sshd';

export interface LocalSshd {
  readonly port: number;
  readonly dir: string;
  /** An ssh config with host `alias` (the right key and known_hosts) and variants for faults. */
  readonly configFile: string;
  readonly alias: string;
  /** Same server; its host key is not in the known_hosts this alias uses. */
  readonly unknownKeyAlias: string;
  /** Same server; the known_hosts this alias uses holds another key for it. */
  readonly changedKeyAlias: string;
  /** Same server; a client key it does not accept. */
  readonly wrongKeyAlias: string;
  /** A port on the server's address where nothing listens. */
  readonly closedPortAlias: string;
  /** sshd's log so far. */
  log(): string;
  /** Stops the server and every connection it serves, then starts it again on the same port. */
  restart(): Promise<void>;
  stop(): Promise<void>;
}

/** A free TCP port on 127.0.0.1 (for the test daemons). */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

function keygen(file: string): string {
  execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', file]);
  return readFileSync(`${file}.pub`, 'utf8').trim();
}

/**
 * Servers of test processes that died before their `after` hook (a crash, a kill): stopped by
 * the pid in their pid file, their folders removed.
 */
function stopOrphans(): void {
  for (const name of readdirSync(os.tmpdir()).filter((n) => n.startsWith('medvlm-sshd-'))) {
    const dir = path.join(os.tmpdir(), name);
    const ownerText = safeRead(path.join(dir, 'owner'));
    const owner = Number(ownerText);
    if (Number.isInteger(owner) && owner > 0 && existsSync(`/proc/${owner}`)) continue;
    // Another test file (they run in parallel) may have just made its folder.
    let age: number;
    try {
      age = Date.now() - statSync(dir).mtimeMs;
    } catch {
      continue; // removed meanwhile
    }
    if (ownerText === '' && age < 60_000) continue;
    const pid = Number(safeRead(path.join(dir, 'sshd.pid')));
    if (Number.isInteger(pid) && pid > 0) {
      for (const target of [...descendants(pid), pid]) {
        try {
          process.kill(target, 'SIGTERM');
        } catch {
          // Already gone.
        }
      }
    }
    rmSync(dir, { recursive: true, force: true });
  }
}

function safeRead(file: string): string {
  try {
    return readFileSync(file, 'utf8').trim();
  } catch {
    return '';
  }
}

export interface LocalSshdOptions {
  /** Environment variables sshd sets in every session (`SetEnv`), e.g. SLURM_CONF for a test cluster. */
  readonly sessionEnv?: Readonly<Record<string, string>>;
  /** Run inside this network namespace (made by linkNamespace.ts), listening on its address. */
  readonly namespace?: { readonly name: string; readonly address: string };
}

export async function startLocalSshd(options: LocalSshdOptions = {}): Promise<LocalSshd> {
  stopOrphans();
  const dir = mkdtempSync(path.join(os.tmpdir(), 'medvlm-sshd-'));
  writeFileSync(path.join(dir, 'owner'), String(process.pid));
  const address = options.namespace?.address ?? '127.0.0.1';
  const port = await freePort();
  const closedPort = await freePort();
  const hostKey = keygen(path.join(dir, 'host_key'));
  const otherHostKey = keygen(path.join(dir, 'other_host_key'));
  const clientKey = keygen(path.join(dir, 'client_key'));
  keygen(path.join(dir, 'stranger_key'));
  writeFileSync(path.join(dir, 'authorized_keys'), `${clientKey}\n`);
  const [type, key] = hostKey.split(' ');
  const [otherType, otherKey] = otherHostKey.split(' ');
  writeFileSync(path.join(dir, 'known_hosts'), `[${address}]:${port} ${type} ${key}\n`);
  writeFileSync(path.join(dir, 'known_hosts_changed'), `[${address}]:${port} ${otherType} ${otherKey}\n`);
  writeFileSync(path.join(dir, 'known_hosts_empty'), '');
  const pidFile = path.join(dir, 'sshd.pid');
  const logFile = path.join(dir, 'sshd.log');
  writeFileSync(
    path.join(dir, 'sshd_config'),
    [
      `Port ${port}`,
      `ListenAddress ${address}`,
      `HostKey ${path.join(dir, 'host_key')}`,
      `AuthorizedKeysFile ${path.join(dir, 'authorized_keys')}`,
      'PasswordAuthentication no',
      'KbdInteractiveAuthentication no',
      'StrictModes no',
      'UsePAM no',
      `PidFile ${pidFile}`,
      'LogLevel VERBOSE',
      'MaxSessions 50',
      'AcceptEnv NONE',
      // One SetEnv line: sshd keeps the first value of a keyword, so a second line would be ignored.
      ...(Object.keys(options.sessionEnv ?? {}).length > 0 ? [`SetEnv ${Object.entries(options.sessionEnv ?? {}).map(([name, value]) => `${name}=${value}`).join(' ')}`] : []),
    ].join('\n') + '\n',
  );
  const user = os.userInfo().username;
  const block = (alias: string, identity: string, knownHosts: string, hostPort = port) =>
    [
      `Host ${alias}`,
      `  HostName ${address}`,
      `  Port ${hostPort}`,
      `  User ${user}`,
      `  IdentityFile ${path.join(dir, identity)}`,
      '  IdentitiesOnly yes',
      `  UserKnownHostsFile ${path.join(dir, knownHosts)}`,
      '  GlobalKnownHostsFile /dev/null',
      '  LogLevel ERROR',
    ].join('\n');
  const configFile = path.join(dir, 'ssh_config');
  writeFileSync(
    configFile,
    [
      block('medvlm-test', 'client_key', 'known_hosts'),
      block('medvlm-unknown-key', 'client_key', 'known_hosts_empty'),
      block('medvlm-changed-key', 'client_key', 'known_hosts_changed'),
      block('medvlm-wrong-key', 'stranger_key', 'known_hosts'),
      block('medvlm-closed-port', 'client_key', 'known_hosts', closedPort),
    ].join('\n') + '\n',
  );
  const launch = async (): Promise<void> => {
    mkdirRun();
    const argv = [SSHD, '-f', path.join(dir, 'sshd_config'), '-E', logFile];
    const inside = options.namespace !== undefined ? ['ip', 'netns', 'exec', options.namespace.name, ...argv] : argv;
    const started = spawnSync(inside[0]!, inside.slice(1), { encoding: 'utf8' });
    if (started.status !== 0) throw new Error(`sshd did not start: ${started.stderr}`);
    const deadline = Date.now() + 10_000;
    while (!(await listening(address, port))) {
      if (Date.now() > deadline) throw new Error(`sshd is not listening on ${address}:${port}: ${existsSync(logFile) ? readFileSync(logFile, 'utf8') : ''}`);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  };
  const kill = async (): Promise<void> => {
    const pid = existsSync(pidFile) ? Number(readFileSync(pidFile, 'utf8').trim()) : NaN;
    if (!Number.isInteger(pid) || pid <= 0) return;
    // The listener and the per-connection processes it forked (they outlive it otherwise).
    for (const target of [...descendants(pid), pid]) {
      try {
        process.kill(target, 'SIGTERM');
      } catch {
        // Already gone.
      }
    }
    const end = Date.now() + 5_000;
    while (Date.now() < end && (await listening(address, port))) await new Promise((resolve) => setTimeout(resolve, 50));
  };
  await launch();
  return {
    port,
    dir,
    configFile,
    alias: 'medvlm-test',
    unknownKeyAlias: 'medvlm-unknown-key',
    changedKeyAlias: 'medvlm-changed-key',
    wrongKeyAlias: 'medvlm-wrong-key',
    closedPortAlias: 'medvlm-closed-port',
    log: () => (existsSync(logFile) ? readFileSync(logFile, 'utf8') : ''),
    restart: async () => {
      await kill();
      await launch();
    },
    stop: async () => {
      await kill();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Every process below `pid`, from /proc. */
function descendants(pid: number): number[] {
  const children = new Map<number, number[]>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      children.set(ppid, [...(children.get(ppid) ?? []), Number(entry)]);
    } catch {
      // Gone while listing.
    }
  }
  const out: number[] = [];
  const walk = (p: number): void => {
    for (const child of children.get(p) ?? []) {
      out.push(child);
      walk(child);
    }
  };
  walk(pid);
  return out;
}

/** sshd wants its privilege-separation folder. */
function mkdirRun(): void {
  if (!existsSync('/run/sshd')) execFileSync('mkdir', ['-p', '/run/sshd']);
}

function listening(address: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect(port, address);
    // A cut link (linkNamespace.ts) answers nothing: no answer is no listener.
    socket.setTimeout(2000, () => {
      socket.destroy();
      resolve(false);
    });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}
