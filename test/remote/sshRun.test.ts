// A run on a remote target as the extension starts and follows it, against a real sshd on
// 127.0.0.1 (../unit/helpers/localSshd.ts) with the REAL trainer on the tiny model on CPU:
// startSshRun claims a run folder here, syncs the trainer, finds its environment on the host
// and starts the run there; RemoteRunMirror copies the host's run folder into the local one,
// and a RunWatch reads that folder as the registry does. Faults made for real: sshd restarted
// mid-run (every connection cut), the mirror dropped and started again (a window reload), a
// stop. Each ends with the local events byte-equal to the host's, each step once.

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fetchFromHost, listHostArtifacts } from '../../src/core/remote/fetchFromHost';
import { HostConfigError } from '../../src/core/remote/hostValidate';
import { MIRROR_LOCK, RemoteRunMirror } from '../../src/core/remote/remoteMirror';
import { closeSsh } from '../../src/core/remote/ssh';
import type { RemoteTarget } from '../../src/core/remote/targets';
import { readRunInfo } from '../../src/core/runDir';
import { readRemoteState } from '../../src/core/runEnd';
import type { SshRunTarget } from '../../src/core/runDir';
import { RunWatch } from '../../src/core/runWatch';
import { stopLocalRun } from '../../src/launch/localStop';
import { resumeSshRun, sshHostOf, startSshRun, stopSshRun } from '../../src/launch/sshLauncher';
import type { RunSummary } from '../../src/shared/runStatus';
import { TERMINAL_STATUSES } from '../../src/shared/runStatus';
import type { LocalSshd } from '../unit/helpers/localSshd';
import { startLocalSshd } from '../unit/helpers/localSshd';
import { hostConfig, makeHostData } from '../unit/helpers/hostData';
import { mirrorRun } from '../unit/helpers/remoteRunWatch';
import { repoRoot } from '../unit/testUtil';

const TOKEN = 'hf_sshRunTokenThatMustStayInTheEnvironment';

describe('a run on a remote target, started and mirrored as the extension does (real sshd, real trainer)', () => {
  let sshd: LocalSshd;
  let target: RemoteTarget;
  let work = '';
  let local = '';
  let configDir = '';

  before(async () => {
    const python = process.env.MEDVLM_PYTHON;
    assert.ok(python, 'MEDVLM_PYTHON must name the trainer environment (npm test sets it)');
    sshd = await startLocalSshd();
    // A work folder whose name needs quoting on the host.
    work = path.join(mkdtempSync(path.join(os.tmpdir(), 'medvlm-ssh-run-')), "work $(x) 'q'");
    mkdirSync(work, { recursive: true });
    local = mkdtempSync(path.join(os.tmpdir(), 'medvlm-ssh-local-'));
    // The data is on the "host" (this machine, under the work folder); the config names it
    // relative to the work folder, as a config sent to a target does.
    makeHostData(python, work);
    configDir = path.join(local, 'configs');
    mkdirSync(configDir);
    target = { name: 'loopback box', host: sshd.alias, workFolder: work, sshConfigFile: sshd.configFile, source: 'settings' };
  }, { timeout: 300_000 });

  after(async () => {
    if (target) await closeSsh({ alias: target.host, configFile: sshd.configFile });
    await sshd?.stop();
    if (work) rmSync(path.dirname(work), { recursive: true, force: true });
    if (local) rmSync(local, { recursive: true, force: true });
  });

  const writeConfig = (name: string, maxSteps: number): string => {
    const file = path.join(configDir, name);
    writeFileSync(file, hostConfig(maxSteps));
    return file;
  };

  const runsRoot = (): string => path.join(local, 'runs');
  /** Training has begun: a step is done (the status may read evaluating by then). */
  const training = (s: RunSummary): boolean => (s.step ?? 0) >= 1 && !TERMINAL_STATUSES.has(s.status);

  /** Follows the mirror folder as the registry does; resolves with each distinct summary until `until`. */
  const watchUntil = async (runDir: string, until: (s: RunSummary) => boolean, timeoutMs: number): Promise<RunSummary[]> => {
    const seen: RunSummary[] = [];
    const watch = new RunWatch(runDir, { pollMs: 200, livenessMs: 500, onSummary: (s) => seen.push(s) });
    try {
      const end = Date.now() + timeoutMs;
      while (!seen.some(until)) {
        if (Date.now() > end) throw new Error(`timed out; statuses ${seen.map((s) => s.status).join(' -> ')}\n${safeRead(path.join(runDir, 'stdout.log')).slice(-3000)}`);
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
      return seen;
    } finally {
      watch.dispose();
    }
  };

  const sshTarget = async (runDir: string): Promise<SshRunTarget> => {
    const info = await readRunInfo(runDir);
    assert.equal(info?.target.kind, 'ssh');
    return info.target as SshRunTarget;
  };

  /** Mirrors the run's latest attempt, as RemoteMirrors does. */
  const mirror = mirrorRun;

  const assertMirrored = (runDir: string, remoteDir: string): void => {
    for (const file of ['events.jsonl', 'stdout.log', 'config.sft.yaml']) {
      assert.ok(readFileSync(path.join(runDir, file)).equals(readFileSync(path.join(remoteDir, file))), `${file} here is byte-equal to the host's`);
    }
    assert.equal(readFileSync(path.join(runDir, 'exit.json'), 'utf8').split('\n')[0], readFileSync(path.join(remoteDir, 'exit.json'), 'utf8').split('\n')[0]);
  };

  const trainSteps = (runDir: string): number[] =>
    readFileSync(path.join(runDir, 'events.jsonl'), 'utf8')
      .split('\n')
      .filter((l) => l.trim() !== '')
      .map((l) => JSON.parse(l) as { type: string; split?: string; step?: number; loss?: number })
      .filter((e) => e.type === 'metrics' && e.split === 'train' && typeof e.loss === 'number')
      .map((e) => e.step ?? -1);

  it('starts on the host with relative paths from the work folder; sshd restarted mid-run loses and doubles nothing', { timeout: 400_000 }, async () => {
    const configPath = writeConfig('demo remote.sft.yaml', 60);
    const progress: string[] = [];
    const started = await startSshRun({ target, extensionRoot: repoRoot, configPath, runsRoot: runsRoot(), secrets: { HF_TOKEN: TOKEN }, onProgress: (m) => progress.push(m) });
    assert.match(started.runId, /^\d{8}-\d{6}-demo-remote$/);
    assert.equal(started.runDir, path.join(runsRoot(), started.runId));
    assert.equal(started.remoteDir, path.join(work, 'runs', started.runId));
    assert.ok(progress.some((m) => m.startsWith('syncing the trainer')) && progress.some((m) => m.startsWith('starting')), progress.join('\n'));
    const t = await sshTarget(started.runDir);
    assert.deepEqual({ name: t.name, host: t.host, run_dir: t.run_dir }, { name: 'loopback box', host: sshd.alias, run_dir: started.remoteDir });
    // A local stop would signal a pid of another machine: refused.
    await assert.rejects(stopLocalRun(started.runDir), /runs on loopback box, not on this machine/);

    const m = await mirror(started.runDir);
    await watchUntil(started.runDir, training, 240_000);
    // Every connection cut (the master included), the server back a moment later.
    await sshd.restart();
    assert.ok(!readFileSync(path.join(started.remoteDir, 'events.jsonl'), 'utf8').includes('"run_finished"'), 'the link was cut mid-run');
    const seen = await watchUntil(started.runDir, (s) => s.status === 'finished', 240_000);
    assert.ok(!seen.some((s) => s.status === 'lost' || s.status === 'failed'), `never lost or failed on the way: ${seen.map((s) => s.status).join(' -> ')}`);
    await m.done;
    assertMirrored(started.runDir, started.remoteDir);
    assert.deepEqual(trainSteps(started.runDir), Array.from({ length: 60 }, (_, i) => i + 1), 'each step once, in order');
    assert.equal((await readRemoteState(started.runDir))?.alive, false);

    // Fetch: the host lists its checkpoints; a cancelled fetch leaves nothing; a whole one is byte-equal.
    const host = sshHostOf(t);
    const listed = await listHostArtifacts(host, started.remoteDir);
    const folders = readdirSync(path.join(started.remoteDir, 'checkpoints'), { withFileTypes: true }).filter((d) => d.isDirectory());
    assert.deepEqual(listed.map((a) => a.path).sort(), folders.map((d) => `checkpoints/${d.name}`).sort());
    const final = listed.filter((a) => a.path === 'checkpoints/final');
    assert.ok(final[0] && final[0].bytes > 0);
    const cancel = new AbortController();
    cancel.abort();
    await assert.rejects(fetchFromHost({ host, remoteDir: started.remoteDir, localDir: started.runDir, artifacts: final, signal: cancel.signal }));
    assert.ok(!existsSync(path.join(started.runDir, 'checkpoints')), 'a cancelled fetch leaves no checkpoint folder');
    assert.deepEqual(readdirSync(started.runDir).filter((n) => n.startsWith('.fetch-')), [], 'nor its staging folder');
    let received = 0;
    await fetchFromHost({ host, remoteDir: started.remoteDir, localDir: started.runDir, artifacts: final, onProgress: (bytes) => (received = bytes) });
    assert.ok(received > 0);
    for (const file of readdirSync(path.join(started.remoteDir, 'checkpoints', 'final'))) {
      assert.ok(readFileSync(path.join(started.runDir, 'checkpoints', 'final', file)).equals(readFileSync(path.join(started.remoteDir, 'checkpoints', 'final', file))), `checkpoints/final/${file} fetched byte for byte`);
    }
    await assert.rejects(fetchFromHost({ host, remoteDir: started.remoteDir, localDir: started.runDir, artifacts: [{ path: '../../etc', bytes: 0 }] }), /not a checkpoint or merged model/);

    // The token: in no file here or on the host.
    for (const dir of [started.runDir, started.remoteDir]) {
      for (const file of readdirSync(dir, { recursive: true }) as string[]) {
        const full = path.join(dir, file);
        if (statSync(full).isFile()) assert.ok(!readFileSync(full).includes(TOKEN), `no token in ${full}`);
      }
    }
  });

  it('a mirror dropped mid-run (a window reload) and started again goes on from its last byte', { timeout: 400_000 }, async () => {
    const configPath = writeConfig('reattach.sft.yaml', 40);
    const started = await startSshRun({ target, extensionRoot: repoRoot, configPath, runsRoot: runsRoot() });
    const first = await mirror(started.runDir);
    await watchUntil(started.runDir, training, 240_000);
    // A second mirror of the same folder (another window) is refused while the first lives.
    assert.equal(await RemoteRunMirror.start({ host: sshHostOf(await sshTarget(started.runDir)), localDir: started.runDir, remoteDir: started.remoteDir, pid: started.pid, startTime: null }), undefined);
    await first.dispose();
    // The window's extension host died holding the lock: its lock names a process that is gone.
    const gone = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], { encoding: 'utf8' });
    writeFileSync(path.join(started.runDir, MIRROR_LOCK), JSON.stringify({ pid: Number(gone.stdout), start: null }));
    // The run goes on meanwhile; nothing follows it for a few seconds.
    await new Promise((resolve) => setTimeout(resolve, 3000));
    const second = await mirror(started.runDir);
    await watchUntil(started.runDir, (s) => s.status === 'finished', 240_000);
    await second.done;
    assertMirrored(started.runDir, started.remoteDir);
    assert.deepEqual(trainSteps(started.runDir), Array.from({ length: 40 }, (_, i) => i + 1));
    // A finished run's mirror is complete: starting one again fetches nothing more.
    const again = await mirror(started.runDir);
    await again.done;
  });

  it('a config naming data the host lacks is refused before anything starts there, naming the field and the host path', { timeout: 120_000 }, async () => {
    const configPath = path.join(configDir, 'nodata.sft.yaml');
    writeFileSync(configPath, hostConfig(4).replace('data/demo-data/records.jsonl', 'data/nowhere/records.jsonl'));
    const progress: string[] = [];
    await assert.rejects(startSshRun({ target, extensionRoot: repoRoot, configPath, runsRoot: runsRoot(), onProgress: (m) => progress.push(m) }), (err: Error) => {
      assert.ok(err instanceof HostConfigError, String(err));
      assert.match(err.message, /errors on loopback box, so the run was not started: data\.sources\[0\]\.records: records file .*\/work \$\(x\) 'q'\/data\/nowhere\/records\.jsonl does not exist \(line \d+\)/);
      return true;
    });
    assert.ok(progress.includes('checking the run config and its data on loopback box'), progress.join('\n'));
    const named = (dir: string): string[] => (existsSync(dir) ? readdirSync(dir).filter((n) => n.includes('nodata')) : []);
    assert.deepEqual(named(runsRoot()), [], 'no run folder here');
    assert.deepEqual(named(path.join(work, 'runs')), [], 'no run folder on the host');
  });

  it('Stop: SIGTERM to the group on the host ends it stopped with a checkpoint; Resume goes on there to the end, each step once', { timeout: 400_000 }, async () => {
    const steps = 60;
    const configPath = writeConfig('long.sft.yaml', steps);
    const started = await startSshRun({ target, extensionRoot: repoRoot, configPath, runsRoot: runsRoot() });
    const m = await mirror(started.runDir);
    await watchUntil(started.runDir, training, 240_000);
    // Resume refuses a run that is still going.
    await assert.rejects(resumeSshRun({ runDir: started.runDir, extensionRoot: repoRoot }), /is still running on loopback box/);
    assert.equal(await stopSshRun(started.runDir, { graceMs: 60_000 }), 'terminated');
    const seen = await watchUntil(started.runDir, (s) => s.status === 'stopped', 120_000);
    const stoppedAt = seen.at(-1)?.step ?? 0;
    assert.ok(stoppedAt < steps, `stopped mid-run (step ${stoppedAt})`);
    await m.done;
    assertMirrored(started.runDir, started.remoteDir);
    assert.ok(existsSync(path.join(started.remoteDir, 'checkpoints')), 'a checkpoint was written on the host');
    assert.equal(await stopSshRun(started.runDir), 'not-running');

    const resumed = await resumeSshRun({ runDir: started.runDir, extensionRoot: repoRoot, secrets: { HF_TOKEN: TOKEN } });
    assert.equal(resumed.attempt, 2);
    const again = await mirror(started.runDir);
    const after = await watchUntil(started.runDir, (s) => s.status === 'finished', 240_000);
    assert.equal(after.at(-1)?.attempt, 2);
    await again.done;
    assertMirrored(started.runDir, started.remoteDir);
    // Steps after the checkpoint it resumed from may be trained again; together they cover every step.
    const events = readFileSync(path.join(started.runDir, 'events.jsonl'), 'utf8').split('\n').filter((l) => l.trim() !== '').map((l) => JSON.parse(l) as { type: string; attempt?: number; resume_step?: number | null });
    const second = events.filter((e) => e.type === 'run_started')[1];
    assert.equal(second?.attempt, 2);
    assert.ok(typeof second?.resume_step === 'number' && second.resume_step > 0 && second.resume_step <= stoppedAt, JSON.stringify(second));
    assert.deepEqual([...new Set(trainSteps(started.runDir))].sort((a, b) => a - b), Array.from({ length: steps }, (_, i) => i + 1));
    assert.match(readFileSync(path.join(started.runDir, 'stdout.log'), 'utf8'), /\[medvlm-studio\] attempt 2: resuming from latest/);
    assert.ok(!readFileSync(path.join(started.runDir, 'launch-2.json')).includes(TOKEN), 'the launch record holds no token');
  });

  it('the trainer killed on the host (kill -9) ends the run failed, saying so, with its log mirrored', { timeout: 400_000 }, async () => {
    const configPath = writeConfig('killed.sft.yaml', 100_000);
    const started = await startSshRun({ target, extensionRoot: repoRoot, configPath, runsRoot: runsRoot() });
    const m = await mirror(started.runDir);
    await watchUntil(started.runDir, training, 240_000);
    // The supervisor's child is the trainer: SIGKILL it, as the kernel's OOM killer would.
    const killed = spawnSync('pkill', ['-KILL', '-P', String(started.pid)], { encoding: 'utf8' });
    assert.equal(killed.status, 0, `pkill found the trainer: ${killed.stderr}`);
    const seen = await watchUntil(started.runDir, (s) => TERMINAL_STATUSES.has(s.status), 120_000);
    const last = seen.at(-1);
    assert.equal(last?.status, 'failed');
    assert.match(last?.reason ?? '', /killed by SIGKILL/);
    await m.done;
    assertMirrored(started.runDir, started.remoteDir);
  });
});

function safeRead(file: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch {
    return '';
  }
}
