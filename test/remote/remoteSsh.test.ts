// Remote commands over the system ssh (src/core/remote/ssh.ts) and the one quoting function
// (shellQuote.ts), against a real OpenSSH server on 127.0.0.1 (../unit/helpers/localSshd.ts): hostile
// strings come back byte-equal through a real remote shell, many commands share one
// handshake, secrets go over stdin and never into argv, and each way a connection fails (key
// refused, host key unknown or changed, nothing listening) says so.

import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { spawnSync } from 'node:child_process';
import { appendFileSync, cpSync, existsSync, mkdirSync, readdirSync, readFileSync, realpathSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { shellCommand, shellQuote, ShellQuoteError } from '../../src/core/remote/shellQuote';
import { closeSsh, runSsh, SshError, sshOptions } from '../../src/core/remote/ssh';
import type { SshHost } from '../../src/core/remote/ssh';
import { RemoteEventsTail } from '../../src/core/remote/remoteTail';
import { sshConfigHosts } from '../../src/core/remote/sshConfig';
import { checkTarget, describeReport, gpuFactsOf, parseProbe, readGpuFacts, remotePath, summarizeGpus } from '../../src/core/remote/targetCheck';
import { DEFAULT_WORK_FOLDER, readTargets } from '../../src/core/remote/targets';
import { ensureRemoteEnv, syncTrainer, trainerFiles } from '../../src/core/remote/trainerSync';
import type { LocalSshd } from '../unit/helpers/localSshd';
import { startLocalSshd } from '../unit/helpers/localSshd';
import { repoRoot, tempDir } from '../unit/testUtil';

/** Characters that break naive quoting, and some that do not need it. */
const NASTY = [' ', "'", '"', '$', '(', ')', '`', '\\', '\n', '\t', ';', '&', '|', '<', '>', '*', '?', '[', ']', '{', '}', '~', '#', '!', '=', '%', '-', 'é', '字', '🩻', 'a', 'Z', '0', '.', '/'];

function nastyString(rand: () => number): string {
  const length = Math.floor(rand() * 12);
  let out = '';
  for (let i = 0; i < length; i++) out += NASTY[Math.floor(rand() * NASTY.length)];
  return out;
}

/** A small seeded generator, so a failure can be reproduced. */
function seeded(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state * 1664525 + 1013904223) >>> 0;
    return state / 2 ** 32;
  };
}

describe('remote commands over ssh (real sshd on 127.0.0.1)', () => {
  let sshd: LocalSshd;
  let host: SshHost;
  before(async () => {
    sshd = await startLocalSshd();
    host = { alias: sshd.alias, configFile: sshd.configFile };
  });
  after(async () => {
    for (const alias of [sshd.alias, sshd.unknownKeyAlias, sshd.changedKeyAlias, sshd.wrongKeyAlias]) await closeSsh({ alias, configFile: sshd.configFile });
    await sshd.stop();
  });

  it('quoting: hostile strings come back byte-equal through the remote shell', async () => {
    const rand = seeded(20261127);
    const values = ['', "'", "a'b", '$(touch /tmp/pwned)', '`id`', 'x\ny', ' lead and trail ', '--help', '~', '*', ...Array.from({ length: 300 }, () => nastyString(rand))];
    // One command prints every argument NUL-terminated: the shell saw exactly these words.
    const { stdout } = await runSsh(host, `printf '%s\\0' ${values.map(shellQuote).join(' ')}`);
    assert.deepEqual(stdout.split('\0').slice(0, -1), values);
    assert.throws(() => shellQuote('a\0b'), ShellQuoteError);
    assert.equal(shellCommand(['ls', '-la', 'my runs/r1', 'plain-name.yaml']), "ls -la 'my runs/r1' plain-name.yaml");
    assert.equal(shellQuote('A=b'), "'A=b'", 'never an environment assignment');
  });

  it('many commands share one SSH handshake (a multiplexed connection)', async () => {
    const before = (sshd.log().match(/Accepted publickey/g) ?? []).length;
    for (let i = 0; i < 5; i++) assert.equal((await runSsh(host, shellCommand(['echo', `call ${i}`]))).stdout, `call ${i}\n`);
    const handshakes = (sshd.log().match(/Accepted publickey/g) ?? []).length - before;
    assert.ok(handshakes <= 1, `${handshakes} handshakes for 5 commands`);
  });

  it('a secret goes over stdin into the remote process, never into an argv', async () => {
    const secret = `hf_${randomBytes(12).toString('hex')}`;
    // The remote side reads the secret, then lists every argv on the host while it still runs.
    const command = `read -r TOKEN; export TOKEN; for f in /proc/[0-9]*/cmdline; do tr '\\0' ' ' < "$f" 2>/dev/null; echo; done; printf 'len=%s\\n' "\${#TOKEN}"`;
    const { stdout } = await runSsh(host, command, { stdin: `${secret}\n` });
    assert.match(stdout, new RegExp(`len=${secret.length}\\n$`), 'the remote process got it');
    assert.ok(!stdout.split('\n').slice(0, -2).some((line) => line.includes(secret)), 'no remote command line holds it');
  });

  it('a failing remote command reports its exit status and last line', async () => {
    await assert.rejects(runSsh(host, 'echo "disk full" >&2; exit 3'), (err: unknown) => err instanceof SshError && err.kind === 'command' && err.exitCode === 3 && /exit status 3\): disk full/.test(err.message));
  });

  it('follows a remote events.jsonl across a killed master connection and an sshd restart: every event once, in order', async (t) => {
    const dir = tempDir(t);
    const file = path.join(dir, 'run with spaces', 'events.jsonl');
    mkdirSync(path.dirname(file));
    let n = 0;
    const line = () => `${JSON.stringify({ v: 1, t: 1000 + n, type: 'progress', step: ++n, max_steps: 1000, epoch: 0, samples_per_s: 1, eta_s: 1 })}\n`;
    appendFileSync(file, line() + line() + line());
    const got: number[] = [];
    const states: string[] = [];
    let offset = 0;
    const tail = new RemoteEventsTail({
      host,
      file,
      onEvents: (events, at) => {
        for (const e of events) if (e.type === 'progress') got.push(e.step);
        offset = at;
      },
      onState: (state) => states.push(state.kind),
    });
    t.after(() => tail.dispose());
    const until = async (what: string, check: () => boolean) => {
      const end = Date.now() + 20_000;
      while (!check()) {
        if (Date.now() > end) throw new Error(`timed out waiting for ${what}; got ${JSON.stringify(got)}, states ${states.join(',')}`);
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
    };
    await until('the first three events', () => got.length === 3);
    appendFileSync(file, line() + line());
    await until('appended events', () => got.length === 5);

    // The link drops: the master connection is killed. Events written meanwhile, and a line
    // torn at the moment of the cut, arrive once the follower is back.
    const check = spawnSync('ssh', [...sshOptions(host), '-O', 'check', sshd.alias], { encoding: 'utf8' });
    const master = Number(/pid=(\d+)/.exec(check.stderr)?.[1]);
    assert.ok(master > 0, check.stderr);
    process.kill(master, 'SIGKILL');
    const whole = line();
    const torn = line();
    appendFileSync(file, whole + torn.slice(0, 20));
    await until('the reconnect', () => states.filter((s) => s === 'reconnecting').length >= 1 && states.at(-1) === 'following');
    appendFileSync(file, torn.slice(20) + line());
    await until('the events written across the cut', () => got.length === 8);

    // sshd restarts (every connection it served ends).
    await sshd.restart();
    appendFileSync(file, line() + line());
    await until('the events written across the restart', () => got.length === 10);
    assert.deepEqual(got, Array.from({ length: 10 }, (_, i) => i + 1), 'every event once, in order');
    assert.equal(offset, readFileSync(file).length, 'the offset is the whole file');
    assert.ok(states.filter((s) => s === 'reconnecting').length >= 2, states.join(','));
  });

  it('Check target asks the host in one call: Python, GPUs, free disk in a work folder it creates', async (t) => {
    const dir = tempDir(t);
    const work = path.join(dir, 'work folder $(x)', 'medvlm');
    const report = await checkTarget(host, work);
    // The python3 of an ssh login's PATH, which need not be this process's.
    assert.match(report.python ?? '', /^3\.\d+\.\d+/);
    assert.ok(existsSync(work), 'the work folder was created, its odd name intact');
    assert.ok((report.diskFreeBytes ?? 0) > 0);
    assert.equal(report.workProblem, undefined);
    assert.match(report.os, /^Linux /);
    // This machine has no NVIDIA driver: said, not an error.
    assert.deepEqual(report.gpus, []);
    assert.match(report.gpuProblem ?? '', /nvidia-smi is not installed/);
  });

  it('syncs the trainer by content hash: once, again only when it changed; the synced trainer runs', async (t) => {
    const python = process.env.MEDVLM_PYTHON;
    assert.ok(python, 'MEDVLM_PYTHON must name the trainer environment (npm test sets it)');
    const dir = tempDir(t);
    const work = path.join(dir, 'remote work');
    const trainer = await trainerFiles(repoRoot);
    assert.ok(trainer.files.includes('python/src/medvlm_sft/__main__.py') && trainer.files.includes('python/bootstrap.py'), trainer.files.join(', '));
    assert.ok(!trainer.files.some((f) => f.includes('__pycache__')));
    const first = await syncTrainer(host, work, trainer);
    assert.deepEqual(first, { hash: trainer.hash, folder: `${work}/trainer/${trainer.hash}`, uploaded: true });
    const again = await syncTrainer(host, work, trainer);
    assert.equal(again.uploaded, false, 'the same trainer is not sent twice');
    const help = await runSsh(host, `PYTHONPATH=${shellQuote(`${first.folder}/python/src`)} ${shellQuote(python)} -m medvlm_sft --help`);
    assert.match(help.stdout, /usage: /);

    // The environment: the bootstrap of the synced trainer finds the one this machine built
    // (same requirements, same home: the loopback host is this machine). Building one takes
    // minutes of downloads, so the test only lets it look.
    const lines: string[] = [];
    const env = await ensureRemoteEnv(host, first, { existingOnly: true, onLine: (line) => lines.push(line) });
    assert.equal(realpathSync(env), realpathSync(python));
    const broken = { ...first, folder: path.join(dir, 'no trainer here') };
    await assert.rejects(ensureRemoteEnv(host, broken, { existingOnly: true }), /the trainer's environment on medvlm-test could not be made: .*No such file or directory/);

    // A changed trainer goes to a folder of its own; the old one stays for runs using it.
    const copy = path.join(dir, 'ext');
    cpSync(path.join(repoRoot, 'python'), path.join(copy, 'python'), { recursive: true, filter: (src) => !src.includes('__pycache__') && !src.includes('.venv') });
    appendFileSync(path.join(copy, 'python', 'src', 'medvlm_sft', '__init__.py'), '\n# changed\n');
    const changed = await trainerFiles(copy);
    assert.notEqual(changed.hash, trainer.hash);
    assert.equal((await syncTrainer(host, work, changed)).uploaded, true);
    assert.deepEqual(readdirSync(path.join(work, 'trainer')).sort(), [trainer.hash, changed.hash].sort(), 'no partial folder left');
  });

  it('says why a connection fails: key refused, unknown or changed host key, nothing listening', async () => {
    // The fault aliases reach the same user@127.0.0.1:port, so they would share the running
    // master connection (its socket is named by those); each must make its own.
    await closeSsh(host);
    const fails = (alias: string, kind: SshError['kind'], text: RegExp) =>
      assert.rejects(runSsh({ alias, configFile: sshd.configFile }, 'true', { timeoutMs: 30_000 }), (err: unknown) => {
        assert.ok(err instanceof SshError, String(err));
        assert.equal(err.kind, kind, err.message);
        assert.match(err.message, text);
        return true;
      });
    await fails(sshd.wrongKeyAlias, 'auth', /refused the login .*ssh-add -l/);
    await fails(sshd.unknownKeyAlias, 'host-key-unknown', /is not a known host.*never accepts one unseen.*Run `ssh medvlm-unknown-key` once in a terminal/);
    await fails(sshd.changedKeyAlias, 'host-key-changed', /has CHANGED/);
    await fails(sshd.closedPortAlias, 'unreachable', /cannot reach medvlm-closed-port: .*Connection refused/);
  });
});

it('ssh config hosts: Host names through Includes (globs, ~/.ssh-relative), patterns left out', async (t) => {
  const dir = tempDir(t);
  mkdirSync(path.join(dir, 'conf.d'));
  writeFileSync(path.join(dir, 'conf.d', 'a.conf'), 'Host gpu-a gpu-b\n  HostName 10.0.0.1\n');
  writeFileSync(path.join(dir, 'conf.d', 'b.conf'), 'Host "cluster login"\nHost *.internal\n');
  writeFileSync(path.join(dir, 'conf.d', 'skip.txt'), 'Host not-included\n');
  writeFileSync(
    path.join(dir, 'config'),
    ['# my hosts', 'Host bastion', '  User me', `Include ${path.join(dir, 'conf.d')}/*.conf`, 'Include does-not-exist', 'Host * !bastion', 'Host=gpu-a', 'Host final'].join('\n'),
  );
  assert.deepEqual(await sshConfigHosts(path.join(dir, 'config')), ['bastion', 'gpu-a', 'gpu-b', 'cluster login', 'final']);
  assert.deepEqual(await sshConfigHosts(path.join(os.tmpdir(), 'no-such-ssh-config')), []);
});

it('targets: the setting\'s entries (checked) and the ssh config\'s hosts', () => {
  const { targets, problems } = readTargets(
    [
      { name: 'gpu box', host: 'me@gpu.lab.org', workFolder: '/scratch/me/medvlm' },
      { host: 'cluster' },
      { name: 'local', host: 'x' },
      { host: '-oProxyCommand=evil' },
      { name: 'gpu box', host: 'other' },
      { host: 'h', workFolder: '' },
      'not an object',
      { name: 'lab', host: 'lab', sshConfigFile: '/etc/medvlm/ssh_config' },
      { name: 'rel', host: 'rel', sshConfigFile: 'ssh_config' },
      { name: 'cluster login', host: 'login', slurm: { partition: 'gpu', gpusPerNode: 4, time: '24:00:00', extraSbatch: ['--mem=64G'] } },
      { name: 'bad cluster', host: 'login2', slurm: { partition: 'gpu;reboot' } },
    ],
    ['cluster', 'bastion', 'gpu box'],
  );
  assert.deepEqual(targets, [
    { name: 'gpu box', host: 'me@gpu.lab.org', workFolder: '/scratch/me/medvlm', source: 'settings' },
    { name: 'cluster', host: 'cluster', workFolder: DEFAULT_WORK_FOLDER, source: 'settings' },
    { name: 'lab', host: 'lab', workFolder: DEFAULT_WORK_FOLDER, sshConfigFile: '/etc/medvlm/ssh_config', source: 'settings' },
    { name: 'cluster login', host: 'login', workFolder: DEFAULT_WORK_FOLDER, slurm: { partition: 'gpu', gpusPerNode: 4, time: '24:00:00', extraSbatch: ['--mem=64G'] }, source: 'settings' },
    { name: 'bastion', host: 'bastion', workFolder: DEFAULT_WORK_FOLDER, source: 'ssh-config' },
  ]);
  assert.deepEqual(problems, [
    'medvlm.remote.targets[2]: "local" is this machine; give the target another name',
    'medvlm.remote.targets[3].host must be an ssh destination (a Host of your ssh config, or user@hostname)',
    'medvlm.remote.targets[4]: another target is already called gpu box',
    'medvlm.remote.targets[5].workFolder must be a folder path on the host',
    'medvlm.remote.targets[6] is not an object',
    'medvlm.remote.targets[8].sshConfigFile must be an absolute path',
    'medvlm.remote.targets[10].slurm: the SLURM partition "gpu;reboot" is not a partition name',
  ]);
});

it('the target probe\'s report: GPUs from nvidia-smi\'s CSV, problems named', () => {
  const report = parseProbe(
    ['python=3.11.7', 'uv=1', 'gpu=0, NVIDIA H100 80GB HBM3, 81559, 550.54.15', 'gpu=1, NVIDIA H100 80GB HBM3, 81559, 550.54.15', 'cuda=12.4', 'disk_free_kb=1048576', 'os=Linux x86_64', 'slurm=1', ''].join('\n'),
  );
  assert.deepEqual(report.gpus, [
    { index: 0, name: 'NVIDIA H100 80GB HBM3', memoryMiB: 81559 },
    { index: 1, name: 'NVIDIA H100 80GB HBM3', memoryMiB: 81559 },
  ]);
  assert.equal(report.driver, '550.54.15');
  assert.equal(report.diskFreeBytes, 2 ** 30);
  assert.deepEqual(describeReport('gpu', '~/medvlm', report), [
    'host: gpu (Linux x86_64)',
    'python: 3.11.7, uv available',
    'GPU 0: NVIDIA H100 80GB HBM3, 79.6 GiB',
    'GPU 1: NVIDIA H100 80GB HBM3, 79.6 GiB',
    'driver 550.54.15, CUDA 12.4',
    'free disk in ~/medvlm: 1.0 GiB',
    'SLURM: sbatch available',
  ]);
  const bare = parseProbe('gpu_problem=nvidia-smi is not installed (no NVIDIA driver)\nwork_problem=cannot create the work folder\nos=Linux x86_64\n');
  assert.deepEqual(describeReport('box', '/data/x', bare).slice(0, 3), [
    'problem: no python3 on the PATH; install Python 3.10 or newer',
    'problem: cannot create the work folder /data/x',
    'no GPU: nvidia-smi is not installed (no NVIDIA driver) (runs there need train.use_cpu)',
  ]);
  // What the Runs view shows on the host's group, and what it reads back from the editor's state.
  const now = new Date('2026-11-28T01:02:03Z');
  const facts = gpuFactsOf(report, now);
  assert.equal(summarizeGpus(facts.gpus), '2 × NVIDIA H100 80GB HBM3 (80 GiB)');
  assert.deepEqual(readGpuFacts(JSON.parse(JSON.stringify(facts))), facts);
  assert.deepEqual(gpuFactsOf(bare, now), { gpus: [], gpuProblem: 'nvidia-smi is not installed (no NVIDIA driver)', checked: '2026-11-28T01:02:03.000Z' });
  assert.equal(summarizeGpus([]), 'no GPU');
  assert.equal(
    summarizeGpus([{ index: 1, name: 'Tesla V100', memoryMiB: 16384 }, { index: 0, name: 'A100', memoryMiB: 40960 }, { index: 2, name: 'A100', memoryMiB: 40960 }]),
    '2 × A100 (40 GiB), Tesla V100 (16 GiB)',
  );
  assert.equal(readGpuFacts({ gpus: 'two' }), undefined);
  assert.deepEqual(readGpuFacts({ checked: 'x', gpus: [{ index: 0, name: 'A', memoryMiB: 1 }, { index: 'one' }] })?.gpus, [{ index: 0, name: 'A', memoryMiB: 1 }]);
  assert.equal(remotePath('~/medvlm runs/x'), `"$HOME"/'medvlm runs/x'`);
  assert.equal(remotePath('/abs/it\'s'), `'/abs/it'\\''s'`);
});

it('ssh options: one shared connection per host, except on Windows, whose OpenSSH cannot share one', () => {
  const host = { alias: 'gpu', configFile: '/tmp/cfg' };
  const unix = sshOptions(host, 'linux');
  assert.ok(unix.includes('ControlMaster=auto') && unix.some((o) => o.startsWith('ControlPath=')) && unix.some((o) => o.startsWith('ControlPersist=')));
  const windows = sshOptions(host, 'win32');
  assert.deepEqual(windows.filter((o) => o.startsWith('Control')), []);
  // Everything else is the same: the config file, never a prompt, the timeouts.
  assert.deepEqual(windows, unix.filter((o, i) => !o.startsWith('Control') && !unix[i + 1]?.startsWith('Control')));
  assert.deepEqual(windows.slice(0, 2), ['-F', '/tmp/cfg']);
  assert.ok(windows.includes('BatchMode=yes'));
});
