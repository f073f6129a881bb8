// `npm run bench:remote`: how fast a remote run's events reach the extension, against a real
// sshd on 127.0.0.1 (test/unit/helpers/localSshd.ts). The trainer's own EventWriter
// (python/src/medvlm_sft/train/events.py) logs an event every 50 ms on the "host"; the
// extension's follower (src/core/remote/remoteTail.ts) reads them over the shared ssh
// connection. Latency: the event's own timestamp to its arrival here (one machine, one
// clock). Then the master connection is killed, as a cut link would end it, and the time to
// following again is measured; handshakes are counted from sshd's log.
//
// Options: --events 200 --interval-ms 50
// Argument 1: the trainer's Python (npm run sets it).

import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { RemoteEventsTail } from '../../src/core/remote/remoteTail';
import type { TailState } from '../../src/core/remote/remoteTail';
import { closeSsh, runSsh, sshOptions } from '../../src/core/remote/ssh';
import { startLocalSshd } from '../unit/helpers/localSshd';
import { repoRoot } from '../unit/testUtil';

const GOALS = { p50Ms: 250, p95Ms: 1000, reconnectMs: 2000 };

function option(name: string, fallback: number): number {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? Number(process.argv[i + 1]) : fallback;
}
const EVENTS = option('events', 200);
const INTERVAL_MS = option('interval-ms', 50);

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

function percentile(values: readonly number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? NaN;
}

async function main(): Promise<void> {
  const python = process.argv[2];
  if (python === undefined) throw new Error('usage: remoteFollow.js <trainer python>');
  const sshd = await startLocalSshd();
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
    const writer = spawn(python, ['-c', WRITER, file, String(EVENTS), String(INTERVAL_MS)], {
      env: { ...process.env, PYTHONPATH: path.join(repoRoot, 'python', 'src') },
      stdio: 'inherit',
    });
    await new Promise((resolve) => writer.on('exit', resolve));
    const deadline = Date.now() + 10_000;
    while (received < EVENTS && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20));
    const steadyHandshakes = handshakes() - before;

    // The link drops: the master is killed; time until the follower is following again.
    const check = await import('node:child_process').then(({ spawnSync }) => spawnSync('ssh', [...sshOptions(host), '-O', 'check', host.alias], { encoding: 'utf8' }));
    const master = Number(/pid=(\d+)/.exec(check.stderr)?.[1]);
    const cutAt = performance.now();
    process.kill(master, 'SIGKILL');
    const back = Date.now() + 10_000;
    let reconnectMs = NaN;
    while (Date.now() < back) {
      const again = states.find((s) => s.at > cutAt && s.state.kind === 'following');
      if (again !== undefined) {
        reconnectMs = again.at - cutAt;
        break;
      }
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
    tail.dispose();

    const p50 = percentile(latencies, 50);
    const p95 = percentile(latencies, 95);
    console.log(`remote follow over ssh (127.0.0.1): ${received}/${EVENTS} events, one every ${INTERVAL_MS} ms, written by the trainer's EventWriter`);
    console.log('(the writer stamps events to the millisecond, so a latency under 1 ms can read as 0 or below)');
    console.log(`p50: ${p50.toFixed(1)} ms (goal < ${GOALS.p50Ms})`);
    console.log(`p95: ${p95.toFixed(1)} ms (goal < ${GOALS.p95Ms})`);
    console.log(`reconnect: ${reconnectMs.toFixed(0)} ms after the master connection was killed (goal < ${GOALS.reconnectMs})`);
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
