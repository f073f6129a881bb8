// A run on a remote host end to end, against a real sshd on 127.0.0.1 (../unit/helpers/localSshd.ts)
// with the REAL trainer on the tiny model on CPU: the trainer synced by hash, its environment
// found by the synced bootstrap, the run started detached with a token over stdin, its events
// followed over ssh to run_finished; a second run stopped (SIGTERM to its group) ends
// `stopped` with a checkpoint. The token is in the trainer's environment and nowhere else:
// not in any argv on the host, not in a run file.

import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { remoteRunAlive, startRemoteRun, stopRemoteRun } from '../../src/core/remote/remoteLaunch';
import { RemoteEventsTail } from '../../src/core/remote/remoteTail';
import { closeSsh } from '../../src/core/remote/ssh';
import type { SshHost } from '../../src/core/remote/ssh';
import { ensureRemoteEnv, syncTrainer, trainerFiles } from '../../src/core/remote/trainerSync';
import type { TrainerEvent } from '../../src/shared/events';
import type { LocalSshd } from '../unit/helpers/localSshd';
import { startLocalSshd } from '../unit/helpers/localSshd';
import { makeHostData } from '../unit/helpers/hostData';
import { repoRoot } from '../unit/testUtil';

const TOKEN = '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';

describe('a run on a remote host (real sshd, real trainer on CPU)', () => {
  let sshd: LocalSshd;
  let host: SshHost;
  let work = '';
  let python = '';
  let trainerFolder = '';
  let configText = '';

  before(async () => {
    const local = process.env.MEDVLM_PYTHON;
    assert.ok(local, 'MEDVLM_PYTHON must name the trainer environment (npm test sets it)');
    sshd = await startLocalSshd();
    host = { alias: sshd.alias, configFile: sshd.configFile };
    work = mkdtempSync(path.join(os.tmpdir(), 'medvlm-remote-work-'));
    // The "remote" data: on the loopback host, a folder of this machine, named by absolute paths.
    const data = path.join(work, 'data');
    makeHostData(local, work);
    configText = readFileSync(path.join(repoRoot, 'python', 'configs', 'demo.sft.yaml'), 'utf8')
      .replace(/base: tiny-qwen2_5_vl/, `base: ${path.join(data, 'tiny-qwen2_5_vl')}`)
      .replace(/demo-data\//g, `${path.join(data, 'demo-data')}/`)
      .replace(/max_steps: \d+/, 'max_steps: 4')
      .replace(/save_steps: \d+/, 'save_steps: 2');
    const synced = await syncTrainer(host, work, await trainerFiles(repoRoot));
    trainerFolder = synced.folder;
    python = await ensureRemoteEnv(host, synced, { existingOnly: true });
  }, { timeout: 300_000 });
  after(async () => {
    await closeSsh(host);
    await sshd?.stop();
    if (work) rmSync(work, { recursive: true, force: true });
  });

  const follow = (runDir: string, until: (events: TrainerEvent[]) => boolean, timeoutMs: number): Promise<TrainerEvent[]> =>
    new Promise((resolve, reject) => {
      const events: TrainerEvent[] = [];
      const timer = setTimeout(() => {
        tail.dispose();
        reject(new Error(`the run did not get there in ${timeoutMs / 1000} s: ${JSON.stringify(events.map((e) => e.type))}\n${safeRead(path.join(runDir, 'stdout.log'))}`));
      }, timeoutMs);
      const tail = new RemoteEventsTail({
        host,
        file: path.join(runDir, 'events.jsonl'),
        onEvents: (batch) => {
          events.push(...batch);
          if (until(events)) {
            clearTimeout(timer);
            tail.dispose();
            resolve(events);
          }
        },
      });
    });

  it('starts detached with the token over stdin, and its events arrive over ssh to run_finished', { timeout: 300_000 }, async () => {
    const run = await startRemoteRun({ host, workFolder: work, python, trainerFolder, configText, configName: 'demo ct.sft.yaml', secrets: { HF_TOKEN: TOKEN } });
    assert.match(run.runId, /^\d{8}-\d{6}-demo-ct$/);
    assert.equal(run.runDir, path.join(work, 'runs', run.runId));
    // While it runs: the token is in the trainer's environment, in no argv on the host.
    const environ = readFileSync(`/proc/${run.pid}/environ`, 'utf8').split('\0');
    assert.ok(environ.includes(`HF_TOKEN=${TOKEN}`), 'the supervisor has the token in its environment');
    for (const entry of readdirSync('/proc').filter((e) => /^\d+$/.test(e))) {
      const cmdline = safeRead(`/proc/${entry}/cmdline`);
      assert.ok(!cmdline.includes(TOKEN), `no command line holds the token (pid ${entry}: ${cmdline.replace(/\0/g, ' ').slice(0, 200)})`);
    }
    const events = await follow(run.runDir, (all) => all.some((e) => e.type === 'run_finished'), 240_000);
    const finished = events.find((e) => e.type === 'run_finished');
    assert.equal(finished?.type === 'run_finished' ? finished.status : undefined, 'finished', safeRead(path.join(run.runDir, 'stdout.log')));
    assert.ok(events.filter((e) => e.type === 'progress').length >= 4);
    assert.equal(readFileSync(path.join(run.runDir, 'config.sft.yaml'), 'utf8'), configText, 'the snapshot is the text sent');
    // The supervisor records the exit just after the trainer's last event.
    const end = Date.now() + 15_000;
    while ((await remoteRunAlive(host, run.pid)) && Date.now() < end) await new Promise((resolve) => setTimeout(resolve, 200));
    assert.equal(await remoteRunAlive(host, run.pid), false);
    assert.match(safeRead(path.join(run.runDir, 'exit.json')), /"code":0/);
    for (const file of readdirSync(run.runDir, { recursive: true }) as string[]) {
      const full = path.join(run.runDir, file);
      if (statSync(full).isFile()) assert.ok(!readFileSync(full).includes(TOKEN), `no token in ${file}`);
    }
  });

  it('a stop (SIGTERM to its group) ends the run stopped, with a checkpoint', { timeout: 300_000 }, async () => {
    const long = configText.replace(/max_steps: \d+/, 'max_steps: 100000');
    const run = await startRemoteRun({ host, workFolder: work, python, trainerFolder, configText: long, configName: 'long.sft.yaml' });
    await follow(run.runDir, (all) => all.some((e) => e.type === 'progress' || e.type === 'run_finished'), 240_000);
    assert.equal(await remoteRunAlive(host, run.pid), true);
    assert.equal(await stopRemoteRun(host, run.pid, 60), 'terminated');
    const events = await follow(run.runDir, (all) => all.some((e) => e.type === 'run_finished'), 60_000);
    const finished = events.find((e) => e.type === 'run_finished');
    assert.equal(finished?.type === 'run_finished' ? finished.status : undefined, 'stopped');
    assert.ok(events.some((e) => e.type === 'checkpoint'), 'a checkpoint was written before it ended');
    assert.equal(await stopRemoteRun(host, run.pid, 1), 'not-running');
  });
});

function safeRead(file: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch {
    return '';
  }
}
