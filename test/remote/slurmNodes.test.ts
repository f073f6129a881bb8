// A run across two SLURM nodes, against a real two-node SLURM (../unit/helpers/localSlurm.ts: two
// slurmd daemons on this machine, each its own node) reached over a real sshd, with the REAL
// trainer on the tiny model on CPU: the job script starts one `accelerate launch` per node
// with srun, the two ranks meet at the first node's address, rank 0 writes the events, and
// Stop (scancel) ends both with a checkpoint that Resume goes on from, on both nodes again.

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { RemoteRunMirror } from '../../src/core/remote/remoteMirror';
import { closeSsh } from '../../src/core/remote/ssh';
import type { SshHost } from '../../src/core/remote/ssh';
import type { RemoteTarget } from '../../src/core/remote/targets';
import { RunWatch } from '../../src/core/runWatch';
import { resumeSshRun, startSshRun, stopSshRun } from '../../src/launch/sshLauncher';
import type { RunSummary } from '../../src/shared/runStatus';
import { hostConfig, makeHostData } from '../unit/helpers/hostData';
import type { LocalSlurm } from '../unit/helpers/localSlurm';
import { startLocalSlurm } from '../unit/helpers/localSlurm';
import type { LocalSshd } from '../unit/helpers/localSshd';
import { startLocalSshd } from '../unit/helpers/localSshd';
import { repoRoot } from '../unit/testUtil';

interface Event {
  readonly type: string;
  readonly split?: string;
  readonly step?: number;
  readonly loss?: number;
  readonly world_size?: number;
  readonly attempt?: number;
}

describe('a run across two SLURM nodes (real two-node SLURM and sshd on 127.0.0.1, real trainer on CPU)', () => {
  let slurm: LocalSlurm;
  let sshd: LocalSshd;
  let host: SshHost;
  let work = '';

  before(async () => {
    const local = process.env.MEDVLM_PYTHON;
    assert.ok(local, 'MEDVLM_PYTHON must name the trainer environment (npm test sets it)');
    slurm = await startLocalSlurm({ nodes: 2 });
    sshd = await startLocalSshd({ sessionEnv: slurm.env });
    host = { alias: sshd.alias, configFile: sshd.configFile };
    work = mkdtempSync(path.join(os.tmpdir(), 'medvlm-slurm2-work-'));
    makeHostData(local, work);
  }, { timeout: 300_000 });

  after(async () => {
    if (host) await closeSsh(host);
    await sshd?.stop();
    await slurm?.stop();
    if (work) rmSync(work, { recursive: true, force: true });
  });

  const waitFor = async <T>(what: string, check: () => T | undefined | Promise<T | undefined>, timeoutMs: number): Promise<T> => {
    const end = Date.now() + timeoutMs;
    for (;;) {
      const value = await check();
      if (value !== undefined) return value;
      if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
      await new Promise((resolve) => setTimeout(resolve, 300));
    }
  };

  const eventsOf = (dir: string): Event[] => {
    try {
      return readFileSync(path.join(dir, 'events.jsonl'), 'utf8').split('\n').filter((l) => l.trim() !== '').map((l) => JSON.parse(l) as Event);
    } catch {
      return [];
    }
  };

  it('one accelerate launch per node, rank 0 writing the events; Stop ends both ranks with a checkpoint; Resume trains on both nodes to the end', { timeout: 600_000 }, async (t) => {
    const steps = 40;
    const local = mkdtempSync(path.join(os.tmpdir(), 'medvlm-slurm2-local-'));
    t.after(() => rmSync(local, { recursive: true, force: true }));
    const configPath = path.join(local, 'nodes.sft.yaml');
    writeFileSync(configPath, `${hostConfig(steps)}\nlaunch:\n  target: cluster\n  num_processes: 2\n`);
    const target: RemoteTarget = { name: 'cluster', host: sshd.alias, workFolder: work, sshConfigFile: sshd.configFile, slurm: { partition: slurm.partition, time: '30:00', nodes: 2, extraSbatch: ['--cpus-per-task=1'] }, source: 'settings' };
    const started = await startSshRun({ target, extensionRoot: repoRoot, configPath, runsRoot: path.join(local, 'runs') });
    const job = readFileSync(path.join(started.remoteDir, 'job.sh'), 'utf8');
    assert.match(job, /#SBATCH --nodes=2\n#SBATCH --ntasks-per-node=1\n/);
    assert.match(job, /#SBATCH --cpus-per-task=1\n/);
    assert.match(job, /srun --kill-on-bad-exit=1 .*--machine_rank "\$SLURM_NODEID".* --multi_gpu --num_processes 2 --num_machines 2 --main_process_ip "\$head"/);

    const seen: RunSummary[] = [];
    const watch = new RunWatch(started.runDir, { pollMs: 200, livenessMs: 500, onSummary: (s) => seen.push(s) });
    t.after(() => watch.dispose());
    const follow = async (jobId: string): Promise<RemoteRunMirror> => {
      const mirror = await RemoteRunMirror.start({ host, localDir: started.runDir, remoteDir: started.remoteDir, pid: null, startTime: null, jobId, pollMs: 300 });
      assert.ok(mirror);
      t.after(() => mirror.dispose());
      return mirror;
    };
    const first = await follow(started.jobId ?? '');
    const nodesOf = (jobId: string): string => spawnSync('squeue', ['-h', '-j', jobId, '-o', '%N'], { env: { ...process.env, ...slurm.env }, encoding: 'utf8' }).stdout.trim();
    assert.equal(await waitFor('the job to hold both nodes', () => (nodesOf(started.jobId ?? '') === 'n[1-2]' ? 'n[1-2]' : undefined), 60_000), 'n[1-2]');
    await waitFor('training to begin', () => (eventsOf(started.remoteDir).some((e) => e.type === 'metrics' && e.split === 'train') ? true : undefined), 300_000);
    assert.equal(eventsOf(started.remoteDir).find((e) => e.type === 'run_started')?.world_size, 2, 'two ranks, one per node');

    assert.equal(await stopSshRun(started.runDir, { graceMs: 60_000 }), 'terminated');
    await first.done;
    await waitFor('the run to read stopped', () => (seen.at(-1)?.status === 'stopped' ? true : undefined), 60_000);
    const stoppedAt = seen.at(-1)?.step ?? 0;
    assert.ok(stoppedAt < steps, `stopped mid-run (step ${stoppedAt})`);
    assert.ok(existsSync(path.join(started.remoteDir, 'checkpoints')), 'a checkpoint was written before it ended');

    const resumed = await resumeSshRun({ runDir: started.runDir, extensionRoot: repoRoot });
    assert.match(readFileSync(path.join(started.remoteDir, 'job-2.sh'), 'utf8'), /#SBATCH --nodes=2\n/);
    await (await follow(resumed.jobId ?? '')).done;
    await waitFor('the run to finish', () => (seen.at(-1)?.status === 'finished' ? true : undefined), 60_000).catch((err: Error) => {
      throw new Error(`${err.message}: ${JSON.stringify(seen.at(-1))}\n${readFileSync(path.join(started.remoteDir, 'stdout.log'), 'utf8').slice(-4000)}`);
    });
    assert.ok(!seen.some((s) => s.status === 'lost' || s.status === 'failed'), seen.map((s) => s.status).join(' -> '));
    const events = eventsOf(started.runDir);
    assert.deepEqual(events.filter((e) => e.type === 'run_started').map((e) => [e.attempt, e.world_size]), [[1, 2], [2, 2]]);
    // One writer: within each attempt each step once; together they cover every step.
    const trained = events.filter((e) => e.type === 'metrics' && e.split === 'train' && typeof e.loss === 'number').map((e) => e.step ?? -1);
    assert.deepEqual([...new Set(trained)].sort((a, b) => a - b), Array.from({ length: steps }, (_, i) => i + 1));
    assert.ok(readFileSync(path.join(started.runDir, 'events.jsonl')).equals(readFileSync(path.join(started.remoteDir, 'events.jsonl'))));
  });
});
