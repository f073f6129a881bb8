// A real SLURM cluster on 127.0.0.1 for tests (../shared/notes/environment.md): munged with
// its own key and socket, slurmctld and slurmd with a slurm.conf in a temp folder, on free
// ports, accounting off. One node by default; with `nodes`, that many slurmd daemons on this
// machine, each a node of its own (`slurmd -N`, its own port, spool and pid file), sharing the
// CPUs, so a job can span nodes. Commands reach it with SLURM_CONF set, which the test
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

export async function startLocalSlurm(options: { readonly nodes?: number } = {}): Promise<LocalSlurm> {
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
  const count = options.nodes ?? 1;
  const names = count === 1 ? [host] : Array.from({ length: count }, (_, i) => `n${i + 1}`);
  const nodeLines: string[] = [];
  for (const name of names) {
    const cpus = Math.max(1, Math.floor(2 / count));
    nodeLines.push(count === 1 ? `NodeName=${name} NodeAddr=127.0.0.1 CPUs=2 RealMemory=2000 State=UNKNOWN` : `NodeName=${name} NodeAddr=127.0.0.1 NodeHostname=${host} Port=${await freePort()} CPUs=${cpus} RealMemory=1000 State=UNKNOWN`);
  }
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
      `SlurmdSpoolDir=${path.join(dir, 'spool', '%n')}`,
      `SlurmctldPidFile=${path.join(dir, 'slurmctld.pid')}`,
      `SlurmdPidFile=${path.join(dir, 'slurmd-%n.pid')}`,
      `SlurmctldLogFile=${path.join(dir, 'log', 'slurmctld.log')}`,
      `SlurmdLogFile=${path.join(dir, 'log', 'slurmd-%n.log')}`,
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
      ...nodeLines,
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
      for (const file of [...names.map((name) => `slurmd-${name}.pid`), 'slurmctld.pid', 'munge/munged.pid']) {
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
    for (const name of names) execFileSync('/usr/sbin/slurmd', ['-f', conf, ...(count === 1 ? [] : ['-N', name])], { env: { ...process.env, ...env } });
    const end = Date.now() + 30_000;
    for (;;) {
      // One line per node: every node up and idle.
      const info = spawnSync('sinfo', ['-h', '-N', '-o', '%t'], { env: { ...process.env, ...env }, encoding: 'utf8' });
      const states = info.stdout.trim().split('\n');
      if (info.status === 0 && states.length === names.length && states.every((state) => state.startsWith('idle'))) break;
      if (Date.now() > end) throw new Error(`the test SLURM node did not come up idle: ${info.stdout}${info.stderr}\n${readFileSync(path.join(dir, 'log', 'slurmctld.log'), 'utf8').slice(-2000)}`);
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
  } catch (err) {
    await slurm.stop();
    throw err;
  }
  return slurm;
}
