// `npm run bench:remote`: how fast a remote run's events reach the extension, against a real
// sshd (test/unit/helpers/localSshd.ts). The trainer's own EventWriter
// (python/src/medvlm_sft/train/events.py) logs an event every 50 ms on the "host"; the
// extension's follower (src/core/remote/remoteTail.ts) reads them over the shared ssh
// connection. Latency: the event's own timestamp to its arrival here (one machine, one
// clock); handshakes are counted from sshd's log. Then the link is cut and the time from its
// return to the first new byte here is measured. Where this process may make network
// namespaces (root on Linux), sshd runs in one, behind a veth link that is cut for real for
// --cut-s seconds (packets lost without a word: test/unit/helpers/linkNamespace.ts), and the
// run is followed as the extension follows it, by its mirror (src/core/remote/remoteMirror.ts).
// Elsewhere sshd listens on 127.0.0.1 and the cut is the master connection killed.
//
// Options: --events 200 --interval-ms 50 --cut-s 30
// Argument 1: the trainer's Python (npm run sets it).

import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { RemoteRunMirror } from '../../src/core/remote/remoteMirror';
import { RemoteEventsTail } from '../../src/core/remote/remoteTail';
import type { TailState } from '../../src/core/remote/remoteTail';
import { closeSsh, runSsh, sshOptions } from '../../src/core/remote/ssh';
import type { SshHost } from '../../src/core/remote/ssh';
import { readRemoteState } from '../../src/core/runEnd';
import type { SshdBehindLink } from '../unit/helpers/linkNamespace';
import { canMakeLinks, startSshdBehindLink } from '../unit/helpers/linkNamespace';
import type { LocalSshd } from '../unit/helpers/localSshd';
import { startLocalSshd } from '../unit/helpers/localSshd';
import { repoRoot } from '../unit/testUtil';

const GOALS = { p50Ms: 250, p95Ms: 1000, reconnectMs: 2000 };

function option(name: string, fallback: number): number {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? Number(process.argv[i + 1]) : fallback;
}
const EVENTS = option('events', 200);
const INTERVAL_MS = option('interval-ms', 50);
const CUT_S = option('cut-s', 30);

/** The trainer's EventWriter, logging `count` events `intervalMs` apart. */
const WRITER = String.raw`
import sys, time
from pathlib import Path
from medvlm_sft.train.events import EventWriter
path, count, interval = Path(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3]) / 1000
writer = EventWriter(path)
for i in range(count):
    writer.log("info", f"event {i}")
    time.sleep(interval)
`;

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

function startWriter(python: string, file: string, count: number): ChildProcess {
  return spawn(python, ['-c', WRITER, file, String(count), String(INTERVAL_MS)], {
    env: { ...process.env, PYTHONPATH: path.join(repoRoot, 'python', 'src') },
    stdio: 'inherit',
  });
}

function size(file: string): number {
  try {
    return statSync(file).size;
  } catch {
    return 0;
  }
}

/**
 * A run followed by its mirror while the link is cut for CUT_S s: the time from the link's
 * return to the first new byte of its events here.
 */
async function reconnectAfterCut(python: string, sshd: SshdBehindLink, host: SshHost, dir: string): Promise<number> {
  const remoteDir = path.join(dir, 'run on host');
  const localDir = path.join(dir, 'run here');
  mkdirSync(remoteDir);
  mkdirSync(localDir);
  // Events all through the cut and well after it.
  const writer = startWriter(python, path.join(remoteDir, 'events.jsonl'), Math.ceil(((CUT_S + 30) * 1000) / INTERVAL_MS));
  const mirror = await RemoteRunMirror.start({ host, localDir, remoteDir, pid: writer.pid ?? 0, startTime: null, onError: (err) => console.error(err) });
  if (mirror === undefined) throw new Error('the mirror did not start');
  const local = path.join(localDir, 'events.jsonl');
  try {
    const flowing = Date.now() + 20_000;
    while (size(local) === 0 && Date.now() < flowing) await sleep(20);
    if (size(local) === 0) throw new Error('the mirror copied nothing before the cut');
    sshd.link.cutLink();
    const cutAt = Date.now();
    let unreachableAfterMs = NaN;
    while (Date.now() < cutAt + CUT_S * 1000) {
      if (Number.isNaN(unreachableAfterMs) && (await readRemoteState(localDir))?.unreachable !== undefined) unreachableAfterMs = Date.now() - cutAt;
      await sleep(100);
    }
    const copied = size(local);
    sshd.link.restoreLink();
    const restoredAt = performance.now();
    const back = Date.now() + 60_000;
    while (size(local) === copied && Date.now() < back) await sleep(5);
    const reconnectMs = size(local) > copied ? performance.now() - restoredAt : NaN;
    console.log(`link cut for ${CUT_S} s: the run read unreachable ${Number.isNaN(unreachableAfterMs) ? 'never' : `${(unreachableAfterMs / 1000).toFixed(1)} s after the cut`}`);
    return reconnectMs;
  } finally {
    await mirror.dispose();
    writer.kill();
  }
}

/** The master connection killed while the tail follows: the time until it follows again. */
async function reconnectAfterMasterKill(host: SshHost, states: readonly { state: TailState; at: number }[]): Promise<number> {
  const { spawnSync } = await import('node:child_process');
  const check = spawnSync('ssh', [...sshOptions(host), '-O', 'check', host.alias], { encoding: 'utf8' });
  const master = Number(/pid=(\d+)/.exec(check.stderr)?.[1]);
  const cutAt = performance.now();
  process.kill(master, 'SIGKILL');
  const back = Date.now() + 10_000;
  while (Date.now() < back) {
    const again = states.find((s) => s.at > cutAt && s.state.kind === 'following');
    if (again !== undefined) return again.at - cutAt;
    await sleep(5);
  }
  return NaN;
}

function percentile(values: readonly number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? NaN;
}

async function main(): Promise<void> {
  const python = process.argv[2];
  if (python === undefined) throw new Error('usage: remoteFollow.js <trainer python>');
  // Behind a link that can be cut for real where this process may make one.
  const linked: SshdBehindLink | undefined = canMakeLinks() ? await startSshdBehindLink() : undefined;
  const sshd: LocalSshd = linked ?? (await startLocalSshd());
  const host = { alias: sshd.alias, configFile: sshd.configFile };
  const dir = mkdtempSync(path.join(os.tmpdir(), 'medvlm-bench-remote-'));
  const file = path.join(dir, 'events.jsonl');
  try {
    await runSsh(host, 'true'); // the master connection, before the clock starts
    const handshakes = (): number => (sshd.log().match(/Accepted publickey/g) ?? []).length;
    const before = handshakes();
    const latencies: number[] = [];
    const states: { state: TailState; at: number }[] = [];
    let received = 0;
    const tail = new RemoteEventsTail({
      host,
      file,
      onEvents: (events) => {
        const now = Date.now() / 1000;
        for (const e of events) {
          received += 1;
          latencies.push((now - e.t) * 1000);
        }
      },
      onState: (state) => states.push({ state, at: performance.now() }),
    });
    const writer = startWriter(python, file, EVENTS);
    await new Promise((resolve) => writer.on('exit', resolve));
    const deadline = Date.now() + 10_000;
    while (received < EVENTS && Date.now() < deadline) await sleep(20);
    const steadyHandshakes = handshakes() - before;

    let reconnectMs: number;
    if (linked !== undefined) {
      tail.dispose(); // the run's mirror follows from here, as in the extension
      reconnectMs = await reconnectAfterCut(python, linked, host, dir);
    } else {
      reconnectMs = await reconnectAfterMasterKill(host, states);
      tail.dispose();
    }

    const p50 = percentile(latencies, 50);
    const p95 = percentile(latencies, 95);
    const over = linked !== undefined ? `a veth link into a network namespace, ${linked.link.address}` : '127.0.0.1';
    console.log(`remote follow over ssh (${over}): ${received}/${EVENTS} events, one every ${INTERVAL_MS} ms, written by the trainer's EventWriter`);
    console.log('(the writer stamps events to the millisecond, so a latency under 1 ms can read as 0 or below)');
    console.log(`p50: ${p50.toFixed(1)} ms (goal < ${GOALS.p50Ms})`);
    console.log(`p95: ${p95.toFixed(1)} ms (goal < ${GOALS.p95Ms})`);
    const cut = linked !== undefined ? `the link came back from a ${CUT_S} s cut, to the first new byte here` : 'the master connection was killed';
    console.log(`reconnect: ${reconnectMs.toFixed(0)} ms after ${cut} (goal < ${GOALS.reconnectMs})`);
    console.log(`ssh handshakes while the link was up: ${steadyHandshakes} (goal: at most 1, none after the warm-up connection)`);
    const met = received === EVENTS && p50 < GOALS.p50Ms && p95 < GOALS.p95Ms && reconnectMs < GOALS.reconnectMs && steadyHandshakes === 0;
    console.log(met ? 'all goals met' : 'GOALS NOT MET');
  } finally {
    await closeSsh(host);
    await sshd.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
