// A run on a SLURM cluster through its login host, against a real single-node SLURM
// (../unit/helpers/localSlurm.ts: munged, slurmctld, slurmd on 127.0.0.1; runs across nodes are in
// slurmNodes.test.ts) reached over a real sshd, with the REAL trainer on the tiny model on
// CPU: the job script is generated and submitted with sbatch, the job waits PENDING (with its
// reason) while another job holds the node, runs once that one is cancelled, and its events
// in the run folder reach run_finished; a second run is stopped with scancel, ends `stopped`
// with a checkpoint, and is resumed as a new job in its folder.

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { cancelSlurmRun, jobScript, mergeSlurmOptions, parseQueueLine, slurmJobState, slurmOptionsProblem, submitSlurmRun } from '../../src/core/remote/slurm';
import { hubLoginOnHost, writeHubLoginOnHost } from '../../src/core/remote/hubLogin';
import { RemoteRunMirror } from '../../src/core/remote/remoteMirror';
import { closeSsh } from '../../src/core/remote/ssh';
import type { RemoteTarget } from '../../src/core/remote/targets';
import { readRunInfo, readRunProcess } from '../../src/core/runDir';
import { RunWatch } from '../../src/core/runWatch';
import { resumeSshRun, startSshRun, stopSshRun } from '../../src/launch/sshLauncher';
import type { RunSummary } from '../../src/shared/runStatus';
import type { SshHost } from '../../src/core/remote/ssh';
import { ensureRemoteEnv, syncTrainer, trainerFiles } from '../../src/core/remote/trainerSync';
import type { LocalSlurm } from '../unit/helpers/localSlurm';
import { startLocalSlurm } from '../unit/helpers/localSlurm';
import type { LocalSshd } from '../unit/helpers/localSshd';
import { startLocalSshd } from '../unit/helpers/localSshd';
import { hostConfig, makeHostData } from '../unit/helpers/hostData';
import { repoRoot } from '../unit/testUtil';

describe('the job script and the queue line', () => {
  it('merges the run over the target, checks names, and writes a script that holds no secret', () => {
    const merged = mergeSlurmOptions({ partition: 'gpu', time: '24:00:00', extraSbatch: ['--mem=64G'] }, { time: '2:00:00', extraSbatch: ['#SBATCH --qos=high'] });
    assert.deepEqual(merged, { partition: 'gpu', time: '2:00:00', extraSbatch: ['--mem=64G', '#SBATCH --qos=high'] });
    assert.match(slurmOptionsProblem({ partition: 'gpu; rm -rf ~' }) ?? '', /not a partition name/);
    assert.match(slurmOptionsProblem({ time: 'tomorrow' }) ?? '', /not a time/);
    assert.match(slurmOptionsProblem({ nodes: 0 }) ?? '', /node count 0 is not a whole number of nodes/);
    assert.equal(slurmOptionsProblem({ nodes: 4 }), undefined);
    assert.match(slurmOptionsProblem({ extraSbatch: ['--mem=1G\nrm -rf ~'] }) ?? '', /line break/);
    assert.match(slurmOptionsProblem({ extraSbatch: ['echo hi'] }) ?? '', /not an sbatch option/);
    const script = jobScript({ runId: "r 'x'", python: '/env/bin/python', trainerFolder: '~/medvlm/trainer/abc', workFolder: '~/medvlm', slurm: { ...merged, gpusPerNode: 4 }, numProcesses: 1, attempt: 1 });
    const lines = script.split('\n');
    assert.equal(lines[0], '#!/bin/sh');
    for (const expected of ['#SBATCH --partition=gpu', '#SBATCH --time=2:00:00', '#SBATCH --gpus-per-node=4', '#SBATCH --mem=64G', '#SBATCH --qos=high', '#SBATCH --output=stdout.log', '#SBATCH --open-mode=append']) {
      assert.ok(lines.includes(expected), `${expected} in\n${script}`);
    }
    assert.match(script, /-m accelerate\.commands\.launch --multi_gpu --num_processes 4 --num_machines 1 -m medvlm_sft train/);
    assert.match(script, /--run-id 'r '\\''x'\\'''/);
    assert.ok(lines.includes('#SBATCH --nodes=1') && lines.includes('#SBATCH --ntasks=1'));
    // Across nodes: one task per node, each an accelerate launch with its rank from SLURM.
    const nodes = jobScript({ runId: 'r', python: '/env/bin/python', trainerFolder: '/t', workFolder: '/w', slurm: { nodes: 3, gpusPerNode: 4 }, numProcesses: 1, attempt: 1 }).split('\n');
    assert.ok(nodes.includes('#SBATCH --nodes=3') && nodes.includes('#SBATCH --ntasks-per-node=1') && nodes.includes('#SBATCH --gpus-per-node=4'));
    assert.match(nodes.at(-2) ?? '', /srun .*--machine_rank "\$SLURM_NODEID".* --num_processes 12 --num_machines 3 --main_process_ip "\$head" --main_process_port "\$port" -m medvlm_sft train/);
    assert.deepEqual(parseQueueLine('PENDING|Resources'), { state: 'PENDING', reason: 'Resources' });
    assert.deepEqual(parseQueueLine('RUNNING|None'), { state: 'RUNNING' });
    assert.deepEqual(parseQueueLine('GONE|'), { state: 'GONE' });
    assert.deepEqual(parseQueueLine(''), { state: 'GONE' });
  });
});

describe('a run on a SLURM cluster (real SLURM and sshd on 127.0.0.1, real trainer on CPU)', () => {
  let slurm: LocalSlurm;
  let sshd: LocalSshd;
  let host: SshHost;
  let work = '';
  let python = '';
  let trainerFolder = '';
  let configText = '';
  let hfHome = '';

  before(async () => {
    const local = process.env.MEDVLM_PYTHON;
    assert.ok(local, 'MEDVLM_PYTHON must name the trainer environment (npm test sets it)');
    slurm = await startLocalSlurm();
    hfHome = mkdtempSync(path.join(os.tmpdir(), 'medvlm-slurm-hf-'));
    sshd = await startLocalSshd({ sessionEnv: { ...slurm.env, HF_HOME: hfHome } });
    host = { alias: sshd.alias, configFile: sshd.configFile };
    work = mkdtempSync(path.join(os.tmpdir(), 'medvlm-slurm-work-'));
    makeHostData(local, work);
    configText = hostConfig(6);
    const synced = await syncTrainer(host, work, await trainerFiles(repoRoot));
    trainerFolder = synced.folder;
    python = await ensureRemoteEnv(host, synced, { existingOnly: true });
  }, { timeout: 300_000 });

  after(async () => {
    if (host) await closeSsh(host);
    await sshd?.stop();
    await slurm?.stop();
    if (work) rmSync(work, { recursive: true, force: true });
    if (hfHome) rmSync(hfHome, { recursive: true, force: true });
  });

  const script = (runId: string, steps: number): { script: string; config: string } => ({
    script: jobScript({ runId, python, trainerFolder, workFolder: work, slurm: { partition: slurm.partition, time: '30:00' }, numProcesses: 1, attempt: 1 }),
    config: configText.replace(/max_steps: \d+/, `max_steps: ${steps}`),
  });

  const waitFor = async <T>(what: string, check: () => Promise<T | undefined>, timeoutMs: number): Promise<T> => {
    const end = Date.now() + timeoutMs;
    for (;;) {
      const value = await check();
      if (value !== undefined) return value;
      if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
      await new Promise((resolve) => setTimeout(resolve, 300));
    }
  };

  const eventsOf = (dir: string): Array<{ type: string; status?: string }> => {
    try {
      return readFileSync(path.join(dir, 'events.jsonl'), 'utf8').split('\n').filter((l) => l.trim() !== '').map((l) => JSON.parse(l) as { type: string; status?: string });
    } catch {
      return [];
    }
  };

  it('sbatch: PENDING with its reason while the node is busy, then RUNNING, then finished', { timeout: 400_000 }, async (t) => {
    // Another job holds both CPUs of the node.
    const hog = spawnSync('sbatch', ['--parsable', '--cpus-per-task=2', '--output=/dev/null', '--wrap=sleep 600'], { env: { ...process.env, ...slurm.env }, encoding: 'utf8' });
    assert.equal(hog.status, 0, hog.stderr);
    const hogId = hog.stdout.trim().split(';')[0] ?? '';
    await waitFor('the hog job to run', async () => ((await slurmJobState(host, hogId)).state === 'RUNNING' ? true : undefined), 60_000);

    const { script: job, config } = script('slurm-demo', 6);
    const submitted = await submitSlurmRun(host, path.join(work, 'runs', 'slurm-demo'), config, job);
    assert.match(submitted.jobId, /^\d+$/);
    assert.equal(submitted.runDir, path.join(work, 'runs', 'slurm-demo'));
    t.after(() => spawnSync('scancel', [hogId], { env: { ...process.env, ...slurm.env } }));
    assert.equal(readFileSync(path.join(submitted.runDir, 'job.sh'), 'utf8'), job);
    const pending = await waitFor('the run to be pending', async () => {
      const state = await slurmJobState(host, submitted.jobId);
      return state.state === 'PENDING' && state.reason !== undefined ? state : undefined;
    }, 60_000);
    assert.equal(pending.reason, 'Resources');
    // The same folder cannot be claimed twice.
    await assert.rejects(submitSlurmRun(host, submitted.runDir, config, job), (err: Error) => (err as { exitCode?: number }).exitCode === 17);

    assert.equal(await cancelSlurmRun(host, hogId, 30), 'terminated');
    await waitFor('the run to start', async () => (['RUNNING', 'COMPLETING', 'GONE', 'COMPLETED'].includes((await slurmJobState(host, submitted.jobId)).state) ? true : undefined), 60_000);
    const events = await waitFor('run_finished', async () => {
      const all = eventsOf(submitted.runDir);
      return all.some((e) => e.type === 'run_finished') ? all : undefined;
    }, 300_000);
    assert.equal(events.find((e) => e.type === 'run_finished')?.status, 'finished', readFileSync(path.join(submitted.runDir, 'stdout.log'), 'utf8').slice(-3000));
    await waitFor('the job to leave the queue', async () => (['GONE', 'COMPLETED'].includes((await slurmJobState(host, submitted.jobId)).state) ? true : undefined), 60_000);
    assert.match(readFileSync(path.join(submitted.runDir, 'exit.json'), 'utf8'), /"code":0/);
    assert.equal(await cancelSlurmRun(host, submitted.jobId, 5), 'not-running');
  });

  it('Stop is scancel: the trainer checkpoints and ends stopped; Resume submits the next attempt as a new job that goes on to the end, each step once', { timeout: 500_000 }, async (t) => {
    const steps = 60;
    const local = mkdtempSync(path.join(os.tmpdir(), 'medvlm-slurm-local-'));
    t.after(() => rmSync(local, { recursive: true, force: true }));
    const configPath = path.join(local, 'resumed.sft.yaml');
    writeFileSync(configPath, `${configText.replace(/max_steps: \d+/, `max_steps: ${steps}`)}\nlaunch:\n  target: cluster\n`);
    const target: RemoteTarget = { name: 'cluster', host: sshd.alias, workFolder: work, sshConfigFile: sshd.configFile, slurm: { partition: slurm.partition, time: '30:00' }, source: 'settings' };
    const started = await startSshRun({ target, extensionRoot: repoRoot, configPath, runsRoot: path.join(local, 'runs') });
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
    await waitFor('training to begin', async () => (eventsOf(started.remoteDir).some((e) => e.type === 'progress') ? true : undefined), 300_000);
    await assert.rejects(resumeSshRun({ runDir: started.runDir, extensionRoot: repoRoot }), /is still running as SLURM job \d+ on cluster/);

    assert.equal(await stopSshRun(started.runDir, { graceMs: 60_000 }), 'terminated');
    await first.done;
    await waitFor('the run to read stopped', async () => (seen.at(-1)?.status === 'stopped' ? true : undefined), 60_000);
    const stoppedAt = seen.at(-1)?.step ?? 0;
    assert.ok(stoppedAt < steps, `stopped mid-run (step ${stoppedAt})`);
    assert.ok(existsSync(path.join(started.remoteDir, 'checkpoints')), 'a checkpoint was written before it ended');

    const resumed = await resumeSshRun({ runDir: started.runDir, extensionRoot: repoRoot, secrets: { HF_TOKEN: 'hf_neverSentToSlurm' } });
    assert.equal(resumed.attempt, 2);
    assert.match(resumed.jobId ?? '', /^\d+$/);
    assert.notEqual(resumed.jobId, started.jobId);
    assert.equal((await readRunProcess(started.runDir))?.jobId, resumed.jobId, 'the run follows the new job');
    const second = readFileSync(path.join(started.remoteDir, 'job-2.sh'), 'utf8');
    assert.match(second, /#SBATCH --partition=.*\n[^]*#SBATCH --time=30:00/, 'the resumed job keeps the options the run was submitted with');
    assert.match(second, /--resume-from latest --attempt 2/);
    assert.ok(!second.includes('hf_neverSentToSlurm'), 'no token in the job script');
    await (await follow(resumed.jobId ?? '')).done;
    await waitFor('the run to finish', async () => (seen.at(-1)?.status === 'finished' ? true : undefined), 60_000);
    assert.equal(seen.at(-1)?.attempt, 2);
    assert.ok(!seen.some((s) => s.status === 'lost' || s.status === 'failed'), seen.map((s) => s.status).join(' -> '));
    assert.ok(readFileSync(path.join(started.runDir, 'events.jsonl')).equals(readFileSync(path.join(started.remoteDir, 'events.jsonl'))));
    // Steps after the checkpoint it resumed from may be trained again; together they cover every step.
    const trained = (eventsOf(started.runDir) as Array<{ type: string; split?: string; step?: number; loss?: number }>).flatMap((e) =>
      e.type === 'metrics' && e.split === 'train' && typeof e.loss === 'number' ? [e.step ?? -1] : [],
    );
    assert.deepEqual([...new Set(trained)].sort((a, b) => a - b), Array.from({ length: steps }, (_, i) => i + 1));
    assert.match(readFileSync(path.join(started.runDir, 'stdout.log'), 'utf8'), /\[medvlm-studio\] attempt 2: resuming from latest/);
    assert.equal(await stopSshRun(started.runDir), 'not-running');
  });

  it('as the extension starts it: startSshRun submits to the SLURM target, the mirror reads queued (Resources), then the run to its end', { timeout: 400_000 }, async (t) => {
    const hog = spawnSync('sbatch', ['--parsable', '--cpus-per-task=2', '--output=/dev/null', '--wrap=sleep 600'], { env: { ...process.env, ...slurm.env }, encoding: 'utf8' });
    assert.equal(hog.status, 0, hog.stderr);
    const hogId = hog.stdout.trim().split(';')[0] ?? '';
    t.after(() => spawnSync('scancel', [hogId], { env: { ...process.env, ...slurm.env } }));
    await waitFor('the hog job to run', async () => ((await slurmJobState(host, hogId)).state === 'RUNNING' ? true : undefined), 60_000);

    const local = mkdtempSync(path.join(os.tmpdir(), 'medvlm-slurm-local-'));
    t.after(() => rmSync(local, { recursive: true, force: true }));
    const configPath = path.join(local, 'cluster.sft.yaml');
    writeFileSync(configPath, `${configText.replace(/max_steps: \d+/, 'max_steps: 6')}\nlaunch:\n  target: cluster\n  slurm:\n    time: "20:00"\n`);
    const target: RemoteTarget = { name: 'cluster', host: sshd.alias, workFolder: work, sshConfigFile: sshd.configFile, slurm: { partition: slurm.partition, time: '30:00' }, source: 'settings' };
    const started = await startSshRun({ target, extensionRoot: repoRoot, configPath, runsRoot: path.join(local, 'runs'), secrets: { HF_TOKEN: 'hf_neverSentToSlurm' } });
    assert.match(started.jobId ?? '', /^\d+$/);
    assert.equal(started.pid, null);
    const jobText = readFileSync(path.join(started.remoteDir, 'job.sh'), 'utf8');
    assert.match(jobText, /#SBATCH --time=20:00/, 'the run config overrides the target');
    assert.ok(!jobText.includes('hf_neverSentToSlurm'));
    const info = await readRunInfo(started.runDir);
    assert.ok(info?.target.kind === 'ssh' && info.target.job_id === started.jobId);

    const mirror = await RemoteRunMirror.start({ host, localDir: started.runDir, remoteDir: started.remoteDir, pid: null, startTime: null, jobId: started.jobId, pollMs: 300 });
    assert.ok(mirror);
    t.after(() => mirror.dispose());
    const seen: RunSummary[] = [];
    const watch = new RunWatch(started.runDir, { pollMs: 200, livenessMs: 500, onSummary: (s) => seen.push(s) });
    t.after(() => watch.dispose());
    await waitFor('the run to read queued', async () => (seen.some((s) => s.status === 'queued' && s.queued === 'Resources') ? true : undefined), 60_000);
    assert.equal(await cancelSlurmRun(host, hogId, 30), 'terminated');
    await waitFor('the run to finish', async () => (seen.some((s) => s.status === 'finished') ? true : undefined), 300_000);
    await mirror.done;
    assert.ok(readFileSync(path.join(started.runDir, 'events.jsonl')).equals(readFileSync(path.join(started.remoteDir, 'events.jsonl'))));
    assert.ok(!seen.some((s) => s.status === 'lost' || s.status === 'failed'), seen.map((s) => s.status).join(' -> '));
    assert.ok(!readFileSync(path.join(started.runDir, 'events.jsonl'), 'utf8').includes('hf_neverSentToSlurm'));
    assert.equal(await stopSshRun(started.runDir), 'not-running');
  });

  it('sbatch refusing the job (an unknown partition) says so', { timeout: 60_000 }, async () => {
    const job = jobScript({ runId: 'bad', python, trainerFolder, workFolder: work, slurm: { partition: 'nosuchpartition' }, numProcesses: 1, attempt: 1 });
    await assert.rejects(submitSlurmRun(host, path.join(work, 'runs', 'bad'), configText, job), /sbatch on .* refused the job: .*(invalid partition|nosuchpartition)/i);
  });
  it('the Hugging Face login set up over ssh (0600, the token on stdin only) is the one a job on the cluster reads', { timeout: 120_000 }, async () => {
    const token = 'hf_clusterLoginTokenWrittenOverStdin';
    const file = path.join(hfHome, 'token');
    assert.deepEqual(await hubLoginOnHost(host), { file, state: 'missing' });
    const base = path.relative(work, path.join(work, 'data', 'tiny-qwen2_5_vl'));
    assert.equal((await hubLoginOnHost(host, { workFolder: work, base })).baseIsFolder, true, 'a model folder on the host needs no login');
    assert.equal((await hubLoginOnHost(host, { workFolder: work, base: 'google/medgemma-4b-it' })).baseIsFolder, false);

    assert.deepEqual(await writeHubLoginOnHost(host, token), { file, state: 'same', mode: '600' });
    assert.equal(readFileSync(file, 'utf8'), token);
    assert.equal(statSync(file).mode & 0o777, 0o600);
    assert.deepEqual(readdirSync(hfHome), ['token'], 'no temporary file left');
    assert.equal((await hubLoginOnHost(host, { token })).state, 'same');
    assert.equal((await hubLoginOnHost(host, { token: 'hf_someoneElse' })).state, 'other');
    assert.equal((await hubLoginOnHost(host)).state, 'present');
    await assert.rejects(writeHubLoginOnHost(host, 'hf_two\nlines'), /line break/);

    // A job reads it through huggingface_hub, as the trainer's downloads and pushes do.
    const out = path.join(work, 'hf-login-job.out');
    const job = spawnSync('ssh', ['-F', sshd.configFile, sshd.alias, `sbatch --parsable --wait --output=${out} --wrap="${python} -c 'import huggingface_hub; print(huggingface_hub.get_token())'"`], { encoding: 'utf8', timeout: 110_000 });
    assert.equal(job.status, 0, job.stderr);
    assert.equal(readFileSync(out, 'utf8').trim(), token);
  });
});
