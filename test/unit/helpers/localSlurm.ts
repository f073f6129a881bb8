// A real single-node SLURM cluster on 127.0.0.1 for tests (../shared/notes/environment.md):
// munged with its own key and socket, slurmctld and slurmd with a slurm.conf in a temp
// folder, on free ports, accounting off. Commands reach it with SLURM_CONF set, which the test
// sshd passes on to its sessions (see `env`). Every daemon is stopped by its pid file.

import { execFileSync, spawnSync } from 'node:child_process';
import { randomFillSync } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { freePort } from './localSshd';

export interface LocalSlurm {
  readonly dir: string;
  readonly conf: string;
  /** The environment SLURM commands need (SLURM_CONF). */
  readonly env: Readonly<Record<string, string>>;
  readonly partition: string;
  stop(): Promise<void>;
}

export function slurmAvailable(): boolean {
  return ['/usr/sbin/slurmctld', '/usr/sbin/slurmd', '/usr/sbin/munged', '/usr/bin/sbatch'].every((f) => existsSync(f));
}

function readPid(file: string): number | undefined {
  try {
    const pid = Number(readFileSync(file, 'utf8').trim());
    return Number.isInteger(pid) && pid > 0 ? pid : undefined;
  } catch {
    return undefined;
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

export async function startLocalSlurm(): Promise<LocalSlurm> {
  if (!slurmAvailable()) throw new Error('SLURM is not installed: apt-get install -y slurm-wlm munge (.ci/run does)');
  const dir = mkdtempSync(path.join(os.tmpdir(), 'medvlm-slurm-'));
  for (const sub of ['state', 'spool', 'log', 'munge']) mkdirSync(path.join(dir, sub));
  const key = Buffer.alloc(1024);
  randomFillSync(key);
  writeFileSync(path.join(dir, 'munge', 'munge.key'), key);
  chmodSync(path.join(dir, 'munge', 'munge.key'), 0o600);
  chmodSync(path.join(dir, 'munge'), 0o700);
  const socket = path.join(dir, 'munge', 'munge.sock');
  execFileSync('/usr/sbin/munged', ['--force', `--socket=${socket}`, `--key-file=${path.join(dir, 'munge', 'munge.key')}`, `--pid-file=${path.join(dir, 'munge', 'munged.pid')}`, `--log-file=${path.join(dir, 'munge', 'munged.log')}`, `--seed-file=${path.join(dir, 'munge', 'seed')}`]);
  const host = os.hostname();
  const [ctldPort, slurmdPort] = [await freePort(), await freePort()];
  const conf = path.join(dir, 'slurm.conf');
  writeFileSync(
    conf,
    [
      'ClusterName=medvlmtest',
      `SlurmctldHost=${host}(127.0.0.1)`,
      `SlurmctldPort=${ctldPort}`,
      `SlurmdPort=${slurmdPort}`,
      'SlurmUser=root',
      'SlurmdUser=root',
      'AuthType=auth/munge',
      `AuthInfo=socket=${socket}`,
      'CredType=cred/munge',
      `StateSaveLocation=${path.join(dir, 'state')}`,
      `SlurmdSpoolDir=${path.join(dir, 'spool')}`,
      `SlurmctldPidFile=${path.join(dir, 'slurmctld.pid')}`,
      `SlurmdPidFile=${path.join(dir, 'slurmd.pid')}`,
      `SlurmctldLogFile=${path.join(dir, 'log', 'slurmctld.log')}`,
      `SlurmdLogFile=${path.join(dir, 'log', 'slurmd.log')}`,
      'ProctrackType=proctrack/linuxproc',
      'TaskPlugin=task/none',
      'SelectType=select/cons_tres',
      'SchedulerType=sched/backfill',
      'ReturnToService=2',
      'MpiDefault=none',
      'JobCompType=jobcomp/none',
      'AccountingStorageType=accounting_storage/none',
      // A cancelled job's processes get SIGTERM, then SIGKILL this many seconds later.
      'KillWait=30',
      `NodeName=${host} NodeAddr=127.0.0.1 CPUs=2 RealMemory=2000 State=UNKNOWN`,
      'PartitionName=debug Nodes=ALL Default=YES MaxTime=INFINITE State=UP',
      '',
    ].join('\n'),
  );
  const env = { SLURM_CONF: conf };
  const slurm = {
    dir,
    conf,
    env,
    partition: 'debug',
    stop: async (): Promise<void> => {
      spawnSync('scancel', ['--full', '--user=root'], { env: { ...process.env, ...env } });
      for (const file of ['slurmd.pid', 'slurmctld.pid', 'munge/munged.pid']) {
        const pid = readPid(path.join(dir, file));
        if (pid === undefined) continue;
        try {
          process.kill(pid, 'SIGTERM');
        } catch {
          continue;
        }
        const end = Date.now() + 10_000;
        while (alive(pid) && Date.now() < end) await new Promise((resolve) => setTimeout(resolve, 100));
        if (alive(pid)) process.kill(pid, 'SIGKILL');
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
  try {
    execFileSync('/usr/sbin/slurmctld', ['-f', conf], { env: { ...process.env, ...env } });
    execFileSync('/usr/sbin/slurmd', ['-f', conf], { env: { ...process.env, ...env } });
    const end = Date.now() + 30_000;
    for (;;) {
      const info = spawnSync('sinfo', ['-h', '-o', '%t'], { env: { ...process.env, ...env }, encoding: 'utf8' });
      if (info.status === 0 && /^idle/m.test(info.stdout)) break;
      if (Date.now() > end) throw new Error(`the test SLURM node did not come up idle: ${info.stdout}${info.stderr}\n${readFileSync(path.join(dir, 'log', 'slurmctld.log'), 'utf8').slice(-2000)}`);
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
  } catch (err) {
    await slurm.stop();
    throw err;
  }
  return slurm;
}
