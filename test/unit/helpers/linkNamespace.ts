// A network link the test can cut: a network namespace joined to this machine by a veth pair
// with private addresses (a /30 in 10.213.0.0/16), and the test sshd (localSshd.ts) started
// inside it, so ssh reaches the "host" over that link only. cutLink() loses every packet
// without a word, as a dead link on the way to a real host does: no reset, no ICMP, and no
// error on either side's own interface (a local drop would make TCP retry every 500 ms; a
// lost packet makes it back off, to tens of seconds). The namespace's address goes away while
// both ends stay up: packets still cross the veth, and a namespace that does not forward
// drops those for an address it no longer has; this end keeps a fixed neighbour entry, so
// no failed ARP reports "no route to host" either. Linux, as root (CAP_NET_ADMIN). Names
// carry the test process's pid: the namespace, the veth and every process inside are removed
// by name and pid in stop(), and those of test processes that died before their `after`
// hook are removed by the next one.

import { execFileSync, spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import type { LocalSshd, LocalSshdOptions } from './localSshd';
import { startLocalSshd } from './localSshd';

const PREFIX = 'medvlm-ln-';
let made = 0;

export interface LinkNamespace {
  /** The namespace's name (`ip netns`). */
  readonly name: string;
  /** The veth end on this machine, and the address of each end. */
  readonly hostVeth: string;
  readonly hostAddress: string;
  readonly address: string;
  /** Every packet on the link dropped silently, until restoreLink(). */
  cutLink(): void;
  restoreLink(): void;
  /** Kills every process inside, deletes the veth pair and the namespace. */
  remove(): void;
}

export interface SshdBehindLink extends LocalSshd {
  readonly link: LinkNamespace;
}

/** Whether this process may make namespaces and veth pairs (root with CAP_NET_ADMIN). */
export function canMakeLinks(): boolean {
  if (process.platform !== 'linux' || process.getuid?.() !== 0) return false;
  const probe = `${PREFIX}probe-${process.pid}`;
  const added = spawnSync('ip', ['netns', 'add', probe], { encoding: 'utf8' });
  if (added.status !== 0) return false;
  spawnSync('ip', ['netns', 'delete', probe]);
  return true;
}

function ip(...args: string[]): string {
  return execFileSync('ip', args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}

function inside(name: string, ...args: string[]): string {
  return ip('netns', 'exec', name, 'ip', ...args);
}

/** The pid of the test process that made a namespace or veth, from its name. */
function ownerOf(name: string, prefix: string): number {
  return Number(/^(\d+)/.exec(name.slice(prefix.length))?.[1]);
}

/** The test process that made it is gone (a zombie, killed and not yet reaped, is gone too). */
function orphaned(owner: number): boolean {
  if (!Number.isInteger(owner) || owner <= 0) return false;
  try {
    const stat = readFileSync(`/proc/${owner}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).startsWith('Z');
  } catch {
    return true;
  }
}

/** Processes inside the namespace (`ip netns pids`): the sshd, its sessions, a run started there. */
function pidsIn(name: string): number[] {
  const listed = spawnSync('ip', ['netns', 'pids', name], { encoding: 'utf8' });
  return listed.stdout.split('\n').map(Number).filter((pid) => Number.isInteger(pid) && pid > 0);
}

function removeByName(name: string, hostVeth: string): void {
  for (const pid of pidsIn(name)) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // Already gone.
    }
  }
  // The pair goes with either end; the namespace's own cleanup runs later, so delete it here.
  spawnSync('ip', ['link', 'delete', hostVeth], { stdio: 'ignore' });
  spawnSync('ip', ['netns', 'delete', name], { stdio: 'ignore' });
}

/** Namespaces and veth ends of test processes that are gone. */
function removeOrphans(): void {
  for (const line of spawnSync('ip', ['netns', 'list'], { encoding: 'utf8' }).stdout.split('\n')) {
    const name = line.split(' ')[0] ?? '';
    if (name.startsWith(PREFIX) && orphaned(ownerOf(name, PREFIX))) removeByName(name, vethName('h', name.slice(PREFIX.length)));
  }
  for (const line of spawnSync('ip', ['-o', 'link', 'show'], { encoding: 'utf8' }).stdout.split('\n')) {
    const veth = /^\d+: (mvh[\dx]+)[@:]/.exec(line)?.[1];
    if (veth !== undefined && orphaned(ownerOf(veth, 'mvh'))) spawnSync('ip', ['link', 'delete', veth], { stdio: 'ignore' });
  }
}

/** A veth name (at most 15 bytes): `mvh` or `mvn`, then `<pid>x<n>`. */
function vethName(side: 'h' | 'n', id: string): string {
  return `mv${side}${id.replace('-', 'x')}`;
}

/** A /30 no interface here has yet: its first address for this end, its second for the namespace. */
function freeBlock(): { host: string; ns: string } {
  const used = ip('-o', '-4', 'addr', 'show');
  for (let i = 0; i < 16384; i += 1) {
    const block = (process.pid * 4 + made + i) % 16384;
    const base = `10.213.${block >> 6}.`;
    const host = `${base}${(block & 63) * 4 + 1}`;
    if (!used.includes(` ${host}/`)) return { host, ns: `${base}${(block & 63) * 4 + 2}` };
  }
  throw new Error('no free /30 in 10.213.0.0/16');
}

export function makeLinkNamespace(): LinkNamespace {
  removeOrphans();
  made += 1;
  const id = `${process.pid}-${made}`;
  const name = `${PREFIX}${id}`;
  const hostVeth = vethName('h', id);
  const nsVeth = vethName('n', id);
  const { host, ns } = freeBlock();
  try {
    ip('netns', 'add', name);
    ip('link', 'add', hostVeth, 'type', 'veth', 'peer', 'name', nsVeth);
    ip('link', 'set', nsVeth, 'netns', name);
    ip('addr', 'add', `${host}/30`, 'dev', hostVeth);
    inside(name, 'addr', 'add', `${ns}/30`, 'dev', nsVeth);
    inside(name, 'link', 'set', 'lo', 'up');
    // Not a router: a packet for an address it does not have is dropped, without an ICMP reply.
    ip('netns', 'exec', name, 'sysctl', '-q', '-w', 'net.ipv4.conf.all.forwarding=0');
    inside(name, 'link', 'set', nsVeth, 'up');
    ip('link', 'set', hostVeth, 'up');
    // A fixed neighbour entry: while the far address is gone ARP would fail, and the kernel
    // would say "no route to host" at once; a dead link says nothing.
    const nsMac = ip('netns', 'exec', name, 'cat', `/sys/class/net/${nsVeth}/address`).trim();
    ip('neigh', 'replace', ns, 'lladdr', nsMac, 'dev', hostVeth, 'nud', 'permanent');
  } catch (err) {
    removeByName(name, hostVeth);
    throw err;
  }
  return {
    name,
    hostVeth,
    hostAddress: host,
    address: ns,
    cutLink: () => inside(name, 'addr', 'del', `${ns}/30`, 'dev', nsVeth),
    // `replace`: restoring a link that is up changes nothing.
    restoreLink: () => inside(name, 'addr', 'replace', `${ns}/30`, 'dev', nsVeth),
    remove: () => removeByName(name, hostVeth),
  };
}

/** The test sshd (localSshd.ts) inside a new namespace, reached over its veth link. */
export async function startSshdBehindLink(options: LocalSshdOptions = {}): Promise<SshdBehindLink> {
  const link = makeLinkNamespace();
  let sshd: LocalSshd;
  try {
    sshd = await startLocalSshd({ ...options, namespace: { name: link.name, address: link.address } });
  } catch (err) {
    link.remove();
    throw err;
  }
  return {
    ...sshd,
    link,
    stop: async () => {
      try {
        // A test that failed mid-cut: the server is stopped with the link up.
        try {
          link.restoreLink();
        } catch {
          // The namespace is gone already.
        }
        await sshd.stop();
      } finally {
        link.remove();
      }
    },
  };
}

/** Whether the namespace is still there (for the tests' own cleanup checks). */
export function namespaceExists(name: string): boolean {
  return spawnSync('ip', ['netns', 'list'], { encoding: 'utf8' }).stdout.split('\n').some((line) => line.split(' ')[0] === name);
}
