// Faults on a remote target made for real, against a real sshd on 127.0.0.1
// (../unit/helpers/localSshd.ts) with the REAL trainer on the tiny model on CPU, started and followed
// as the extension does (startSshRun, RemoteRunMirror, RunWatch): the host's disk full (a small
// tmpfs as the target's work folder; the trainer's environment lives in ~/.cache, where the
// sshd's user, this one, finds it built) while the trainer is synced, mid-run while a
// checkpoint is written, to the last byte, and so full that not even the exit record fits; an
// events file whose last line was cut short; and the trainer's environment failing to build on
// the host (its package index unreachable). Each ends in a clear state, saying what happened
// and where, with nothing lost. Needs root for the tmpfs;
// without it (or without MEDVLM_PYTHON) these tests fail rather than skip.

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import {
  appendFileSync,
  closeSync,
  cpSync,
  existsSync,
  fstatSync,
  ftruncateSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readdirSync,
  readFileSync,
  rmSync,
  statfsSync,
  statSync,
  truncateSync,
  writeFileSync,
  writeSync,
} from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { listHostArtifacts } from '../../src/core/remote/fetchFromHost';
import { shellQuote } from '../../src/core/remote/shellQuote';
import { closeSsh, runSsh } from '../../src/core/remote/ssh';
import type { SshHost } from '../../src/core/remote/ssh';
import type { RemoteTarget } from '../../src/core/remote/targets';
import { buildFailure, ensureRemoteEnv, syncTrainer, trainerFiles } from '../../src/core/remote/trainerSync';
import { resumeSshRun, startSshRun } from '../../src/launch/sshLauncher';
import { isProcessAlive, processStartTime } from '../../src/core/processAlive';
import { TERMINAL_STATUSES } from '../../src/shared/runStatus';
import { mountTmpfs, unmount } from '../unit/helpers/faultTools';
import { hostConfig, makeHostData } from '../unit/helpers/hostData';
import { freePort, startLocalSshd } from '../unit/helpers/localSshd';
import type { LocalSshd } from '../unit/helpers/localSshd';
import { assertMirrored, mirrorRun, readEvents, readText, trainSteps, watchUntil } from '../unit/helpers/remoteRunWatch';
import { repoRoot, waitFor } from '../unit/testUtil';

const RUN_TIMEOUT_MS = 300_000;
let base = '';
/** Supervisors of runs started here (pid, start time): their process groups are killed after the tests. */
const started: Array<[number, number | null]> = [];

function track(pid: number | null): void {
  if (pid !== null && pid > 0) started.push([pid, processStartTime(pid)]);
}

/** Kills the process groups of the runs still going (the same processes, not reused pids). */
function killRuns(): void {
  for (const [pid, start] of started.splice(0)) {
    if (!isProcessAlive(pid, start)) continue;
    try {
      process.kill(-pid, 'SIGKILL');
    } catch {
      // Ended meanwhile.
    }
  }
}

before(() => {
  const python = process.env.MEDVLM_PYTHON;
  assert.ok(python, 'MEDVLM_PYTHON must name the trainer environment (npm test sets it)');
  base = mkdtempSync(path.join(os.tmpdir(), 'medvlm-remote-faults-'));
  // The data stays off the small disks: the config names it by absolute paths on the host.
  makeHostData(python, base);
  mkdirSync(path.join(base, 'configs'));
});

after(() => {
  killRuns();
  if (base) rmSync(base, { recursive: true, force: true, maxRetries: 5, retryDelay: 100 });
});

/** The demo config for the host: data by absolute path, evaluation off, a checkpoint every `saveSteps`. */
function writeConfig(name: string, maxSteps: number, saveSteps = 2): string {
  const file = path.join(base, 'configs', `${name}.sft.yaml`);
  const text = hostConfig(maxSteps)
    .replace(/: data\//g, `: ${base}/data/`)
    .replace('strategy: steps', 'strategy: "no"')
    .replace('save_steps: 4', `save_steps: ${saveSteps}`);
  assert.ok(text.includes(`save_steps: ${saveSteps}`) && text.includes('strategy: "no"'), text);
  writeFileSync(file, text);
  return file;
}

/**
 * Fills the tmpfs at `dir` with one file, so that `leave` bytes stay free (whole pages). The
 * trainer may write meanwhile (a checkpoint between the statfs and the filler's last page):
 * then the disk fills up first, and the filler gives `leave` bytes back from its end.
 */
function fill(dir: string, leave: number): string {
  const stats = statfsSync(dir);
  const file = path.join(dir, 'filler');
  const chunk = Buffer.alloc(1 << 20);
  let left = Math.max(0, stats.bavail * stats.bsize - leave);
  const fd = openSync(file, 'w');
  try {
    while (left > 0) left -= writeSync(fd, chunk, 0, Math.min(left, chunk.length));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOSPC') throw err;
    ftruncateSync(fd, Math.max(0, fstatSync(fd).size - leave));
  } finally {
    closeSync(fd);
  }
  return file;
}

const runsIn = (root: string): string[] => (existsSync(root) ? readdirSync(root) : []);

describe('the disk on the host full (a tmpfs as the target\'s work folder)', () => {
  let sshd: LocalSshd;
  let small = '';
  let disk = '';
  const runsRoot = (): string => path.join(base, 'local-runs');
  const target = (work: string): RemoteTarget => ({ name: 'full box', host: sshd.alias, workFolder: work, sshConfigFile: sshd.configFile, source: 'settings' });

  before(async () => {
    sshd = await startLocalSshd();
    small = path.join(base, 'small disk');
    disk = path.join(base, 'disk');
    // Too small for the trainer (about 450 KiB); room for it and a few checkpoints (470 KiB each).
    mountTmpfs(small, '64k');
    mountTmpfs(disk, '16m');
  });

  after(async () => {
    // Before the unmount: a run left going would hold its files there.
    killRuns();
    if (sshd) {
      await closeSsh({ alias: sshd.alias, configFile: sshd.configFile });
      await sshd.stop();
    }
    // Unmounted even when a test failed: lazily when a process still holds a file there.
    for (const dir of [small, disk]) if (dir) unmount(dir);
  });

  it('a trainer that does not fit: the start fails naming the host and "no space left", leaving nothing here or there', { timeout: 120_000 }, async () => {
    const configPath = writeConfig('no room', 4);
    await assert.rejects(
      startSshRun({ target: target(small), extensionRoot: repoRoot, configPath, runsRoot: runsRoot() }),
      (err: Error) => {
        assert.match(err.message, /^could not sync the trainer to medvlm-test: no space left on the device holding .*small disk \(.*No space left on device\); free some space there/);
        return true;
      },
    );
    assert.deepEqual(runsIn(runsRoot()), [], 'no run folder here');
    assert.deepEqual(readdirSync(path.join(small, 'trainer')), [], 'no half-unpacked trainer on the host to keep its disk full');
  });

  it('full mid-run while a checkpoint is written: failed, saying so; every event kept, the torn checkpoint never listed; resumed once there is room', { timeout: 600_000 }, async () => {
    const configPath = writeConfig('fills up', 40);
    const run = await startSshRun({ target: target(disk), extensionRoot: repoRoot, configPath, runsRoot: runsRoot() });
    track(run.pid);
    const mirror = await mirrorRun(run.runDir);
    await watchUntil(run.runDir, 'a first checkpoint', (w) => w.state.checkpoints.length > 0, RUN_TIMEOUT_MS);
    // Room for a few steps' events and log lines, not for a checkpoint.
    const filler = fill(disk, 160 << 10);
    const failed = await watchUntil(run.runDir, 'the run to end', (w) => w.isTerminal && w.summary, RUN_TIMEOUT_MS);
    await mirror.done;

    assert.equal(failed.status, 'failed');
    const cut = new RegExp(`^disk full: no space left on the device holding ${escape(run.remoteDir)}/checkpoints/(checkpoint-\\d+) \\(.* free of 16\\.0 MiB\\) while saving checkpoint-\\d+: free some space there`).exec(failed.error ?? '');
    assert.ok(cut, `the error says the disk on the host is full, and where: ${failed.error}`);
    const torn = cut[1] ?? '';
    assert.match(failed.error ?? '', new RegExp(`then resume the run \\(--resume-from latest continues from checkpoint-\\d+, the last complete one; the incomplete ${torn} is skipped\\)$`));
    // Nothing lost: the mirror holds every byte the host wrote, the report last, each step once.
    assertMirrored(run.runDir, run.remoteDir);
    const events = readEvents(path.join(run.runDir, 'events.jsonl'));
    assert.deepEqual(events.slice(-2).map((e) => e.type), ['error', 'run_finished']);
    const steps = trainSteps(events);
    assert.deepEqual(steps, Array.from({ length: steps.length }, (_, i) => i + 1));
    // The torn checkpoint is on the host, but neither announced nor offered for fetching.
    assert.ok(existsSync(path.join(run.remoteDir, 'checkpoints', torn)), `${torn} was begun on the host`);
    const announced = events.filter((e) => e.type === 'checkpoint').map((e) => e.path);
    assert.ok(!announced.includes(`checkpoints/${torn}`), announced.join(', '));
    const host: SshHost = { alias: sshd.alias, configFile: sshd.configFile };
    const listed = (await listHostArtifacts(host, run.remoteDir)).map((a) => a.path);
    assert.ok(listed.length > 0 && !listed.includes(`checkpoints/${torn}`), `listed: ${listed.join(', ')}`);
    for (const folder of listed) {
      assert.ok(announced.includes(folder), `${folder} was announced`);
      JSON.parse(readFileSync(path.join(run.remoteDir, folder, 'trainer_state.json'), 'utf8'));
    }

    // Room again: the run resumes on the host from its last complete checkpoint and ends.
    rmSync(filler);
    const resumed = await resumeSshRun({ runDir: run.runDir, extensionRoot: repoRoot });
    track(resumed.pid);
    const again = await mirrorRun(run.runDir);
    const done = await watchUntil(run.runDir, 'the resumed run to end', (w) => w.isTerminal && w.summary.attempt === 2 && w.summary, RUN_TIMEOUT_MS);
    await again.done;
    assert.equal(done.status, 'finished');
    assertMirrored(run.runDir, run.remoteDir);
    const all = readEvents(path.join(run.runDir, 'events.jsonl'));
    const second = all.slice(all.findIndex((e) => e.type === 'run_started' && e.attempt === 2));
    assert.ok(second.some((e) => e.type === 'log' && e.message?.startsWith(`skipping ${torn}: it was not completely written`)), 'the resume skips the torn checkpoint');
    assert.deepEqual([...new Set(trainSteps(all))].sort((a, b) => a - b), Array.from({ length: 40 }, (_, i) => i + 1), 'every step trained');
  });

  it('full to the last byte mid-run: the trainer stops at the next line it writes, and its report still fits', { timeout: 300_000 }, async () => {
    // No checkpoint: only event and log lines find the disk full.
    const configPath = writeConfig('to the last byte', 200, 1000);
    const run = await startSshRun({ target: target(disk), extensionRoot: repoRoot, configPath, runsRoot: runsRoot() });
    track(run.pid);
    const mirror = await mirrorRun(run.runDir);
    await watchUntil(run.runDir, 'training', (w) => (w.summary.step ?? 0) >= 1, RUN_TIMEOUT_MS);
    const filler = fill(disk, 0);
    const filledAt = trainSteps(readEvents(path.join(run.remoteDir, 'events.jsonl'))).at(-1) ?? 0;
    const failed = await watchUntil(run.runDir, 'the run to end', (w) => w.isTerminal && w.summary, RUN_TIMEOUT_MS);
    await mirror.done;
    rmSync(filler);
    assert.equal(failed.status, 'failed');
    // Whichever line found the disk full (an event, a log line), the error event says so: the
    // reserve beside the events was kept for it.
    assert.ok(failed.error?.startsWith(`disk full: no space left on the device holding ${run.remoteDir}`), `the error says the disk on the host is full: ${failed.error}`);
    assertMirrored(run.runDir, run.remoteDir);
    const events = readEvents(path.join(run.runDir, 'events.jsonl'));
    assert.deepEqual(events.slice(-2).map((e) => [e.type, e.status]), [['error', undefined], ['run_finished', 'failed']]);
    const steps = trainSteps(events);
    // The lines already begun (a page of events, one of log) hold a few steps more, no more:
    // a reserve spent on them would have let it train on, and fail later with no room to say why.
    assert.ok(steps.length <= filledAt + 10, `it stopped soon after the disk filled at step ${filledAt}, not at ${steps.length}`);
    assert.deepEqual(steps, Array.from({ length: steps.length }, (_, i) => i + 1));
  });

  it('a last line cut short (the trainer killed mid-write, or a full disk with nothing in reserve): the mirror keeps every whole line and ends', { timeout: 300_000 }, async () => {
    const work = path.join(base, 'work');
    mkdirSync(work, { recursive: true });
    const configPath = writeConfig('cut short', 100_000);
    const run = await startSshRun({ target: target(work), extensionRoot: repoRoot, configPath, runsRoot: runsRoot() });
    track(run.pid);
    const first = await mirrorRun(run.runDir);
    await watchUntil(run.runDir, 'training', (w) => (w.summary.step ?? 0) >= 1, RUN_TIMEOUT_MS);
    // The window closes; meanwhile the trainer (the supervisor's child) dies by SIGKILL.
    await first.dispose();
    const killed = spawnSync('pkill', ['-KILL', '-P', String(run.pid)], { encoding: 'utf8' });
    assert.equal(killed.status, 0, `pkill found the trainer: ${killed.stderr}`);
    const hostEvents = path.join(run.remoteDir, 'events.jsonl');
    await waitFor('the supervisor to record the end', () => readText(path.join(run.remoteDir, 'exit.json')).includes('"signal":"SIGKILL"'), 60_000);
    // What its last write, cut short, leaves: the start of a line, never to be finished.
    appendFileSync(hostEvents, '{"v":1,"t":1795000000.5,"type":"metr');
    const whole = readFileSync(hostEvents);
    const again = await mirrorRun(run.runDir);
    const ended = await watchUntil(run.runDir, 'the run to end', (w) => w.isTerminal && w.summary, 60_000);
    await again.done;
    assert.equal(ended.status, 'failed');
    assert.match(ended.reason ?? '', /killed by SIGKILL/);
    assert.ok(readFileSync(path.join(run.runDir, 'events.jsonl')).equals(whole.subarray(0, whole.lastIndexOf(0x0a) + 1)), 'every whole line is here, the torn one is not');
  });

  it('so full that not even the exit record fits: the start is refused while the config does not fit; then the run ends failed, "disk full on" the host', { timeout: 300_000 }, async () => {
    const configPath = writeConfig('no exit record', 8);
    // Not a page free: the launch cannot write the config, and says so; its folder goes.
    const filler = fill(disk, 0);
    const hostRuns = readdirSync(path.join(disk, 'runs'));
    await assert.rejects(startSshRun({ target: target(disk), extensionRoot: repoRoot, configPath, runsRoot: runsRoot() }), /the command on medvlm-test failed .*No space left on device/);
    assert.deepEqual(readdirSync(path.join(disk, 'runs')), hostRuns, 'no empty run folder left on the host');
    const here = runsIn(runsRoot());

    // One page: the config takes it; the supervisor cannot write its exit record, the trainer
    // not a line of events or log.
    truncateSync(filler, Math.max(0, statSync(filler).size - statfsSync(disk).bsize));
    const run = await startSshRun({ target: target(disk), extensionRoot: repoRoot, configPath, runsRoot: runsRoot() });
    track(run.pid);
    assert.deepEqual(runsIn(runsRoot()).filter((n) => !here.includes(n)), [run.runId]);
    const mirror = await mirrorRun(run.runDir);
    const ended = await watchUntil(run.runDir, 'the run to end', (w) => w.isTerminal && w.summary, RUN_TIMEOUT_MS);
    await mirror.done;
    assert.equal(readFileSync(path.join(run.remoteDir, 'exit.json'), 'utf8'), '', 'the supervisor could not record the end');
    assert.equal(ended.status, 'failed', 'not lost: the disk was full');
    assert.match(ended.reason ?? '', /^disk full on full box: no space was left where the run folder is; free some space, then resume the run \(not even its exit status could be written\)$/);
    rmSync(filler);
  });
});

describe('the trainer\'s environment failing to build on the host (its package index unreachable)', () => {
  let sshd: LocalSshd;
  let host: SshHost;
  let ext = '';
  let work = '';
  let envKey = '';
  const envs = path.join(os.homedir(), '.cache', 'medvlm-studio', 'envs');
  const runsRoot = (): string => path.join(base, 'env-runs');

  before(async () => {
    // pip on the host reads no config (so not this machine's local wheel mirror) and an index
    // where nothing listens.
    sshd = await startLocalSshd({ sessionEnv: { PIP_CONFIG_FILE: '/dev/null', PIP_INDEX_URL: `http://127.0.0.1:${await freePort()}/simple` } });
    host = { alias: sshd.alias, configFile: sshd.configFile };
    // A trainer whose requirements differ by a comment: another environment key, none built.
    ext = path.join(base, 'ext');
    cpSync(path.join(repoRoot, 'python'), path.join(ext, 'python'), { recursive: true, filter: (src) => !src.includes('__pycache__') && !src.includes('.venv') });
    appendFileSync(path.join(ext, 'python', 'requirements.txt'), '# pinned anew\n');
    work = path.join(base, 'env work');
  });

  after(async () => {
    if (sshd) {
      await closeSsh(host);
      await sshd.stop();
    }
    // The failed build's lock file; never an environment that is there.
    if (envKey && !existsSync(path.join(envs, envKey))) rmSync(path.join(envs, `${envKey}.lock`), { force: true });
  });

  it('the start fails naming the host and pip\'s reason, with the bootstrap\'s lines as progress; nothing half-made is left; the next start works', { timeout: 400_000 }, async () => {
    const configPath = writeConfig('env fails', 4);
    const progress: string[] = [];
    const target: RemoteTarget = { name: 'env box', host: sshd.alias, workFolder: work, sshConfigFile: sshd.configFile, source: 'settings' };
    await assert.rejects(startSshRun({ target, extensionRoot: ext, configPath, runsRoot: runsRoot(), onProgress: (m) => progress.push(m) }), (err: Error) => {
      assert.match(err.message, /^the trainer's environment on medvlm-test could not be made: ERROR: No matching distribution found for \S+ \(command failed with exit code 1: \S+ -m pip install /);
      return true;
    });
    assert.ok(progress.includes("preparing the trainer's environment on env box"), progress.join('\n'));
    assert.ok(progress.some((m) => m.startsWith('creating the trainer environment ')), `the bootstrap's own lines: ${progress.join('\n')}`);
    assert.ok(progress.some((m) => m.startsWith('ERROR: ')), `pip's lines: ${progress.join('\n')}`);
    assert.deepEqual(runsIn(runsRoot()), [], 'no run folder here');

    // Nothing a later start could take for a built environment: no folder, and the bootstrap
    // (asked on the host) finds none.
    const synced = await syncTrainer(host, work, await trainerFiles(ext));
    envKey = (await runSsh(host, `python3 ${shellQuote(`${synced.folder}/python/bootstrap.py`)} --print-key`)).stdout.trim();
    assert.match(envKey, /^[0-9a-f]{16}$/);
    assert.ok(!existsSync(path.join(envs, envKey)), `no half-made environment at ${path.join(envs, envKey)}`);
    await assert.rejects(ensureRemoteEnv(host, synced, { existingOnly: true }), /medvlm-test has no environment for this trainer yet/);

    // The trainer whose environment is built starts on the same host and runs to the end:
    // the failed build left nothing in its way. (Building an environment anew takes minutes
    // and gigabytes of downloads, more than a unit test may.)
    const run = await startSshRun({ target, extensionRoot: repoRoot, configPath, runsRoot: runsRoot() });
    track(run.pid);
    const mirror = await mirrorRun(run.runDir);
    const done = await watchUntil(run.runDir, 'the run to end', (w) => TERMINAL_STATUSES.has(w.summary.status) && w.summary, RUN_TIMEOUT_MS);
    await mirror.done;
    assert.equal(done.status, 'finished');
    assert.deepEqual(runsIn(runsRoot()), [run.runId]);
  });
});

it('a failed build says the cause (the tool\'s last error, or a traceback of the bootstrap\'s own) beside the step', () => {
  const pip = ['bootstrap: $ /e/bin/python -m pip install -r r.txt', 'ERROR: Could not find a version that satisfies the requirement x==1', 'ERROR: No matching distribution found for x==1', 'bootstrap: command failed with exit code 1: /e/bin/python -m pip install -r r.txt'];
  assert.equal(buildFailure(pip), 'ERROR: No matching distribution found for x==1 (command failed with exit code 1: /e/bin/python -m pip install -r r.txt)');
  const own = ['bootstrap: creating the trainer environment /e', 'Traceback (most recent call last):', '  File "bootstrap.py", line 1', 'PermissionError: [Errno 13] Permission denied: \'/e\''];
  assert.equal(buildFailure(own), "PermissionError: [Errno 13] Permission denied: '/e'");
  assert.equal(buildFailure(['bootstrap: python3 is not on the PATH of an ssh login']), 'python3 is not on the PATH of an ssh login');
  assert.equal(buildFailure([]), undefined);
});

function escape(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
