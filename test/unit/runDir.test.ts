import assert from 'node:assert/strict';
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import {
  claimLaunch,
  configStem,
  createRunDir,
  launchFileName,
  listLaunches,
  listRuns,
  parseLaunchRecord,
  parseRunInfo,
  readRunInfo,
  readRunProcess,
  releaseLaunch,
  runIdBase,
  writeLaunchRecord,
  writeRunInfo,
} from '../../src/core/runDir';
import type { LaunchRecord, RunInfo } from '../../src/core/runDir';
import { parseExitRecord, readExitRecord } from '../../src/core/runEnd';
import { tempDir } from './testUtil';

const info = (runId: string, pid = 1234): RunInfo => ({
  version: 1,
  run_id: runId,
  created: new Date(0).toISOString(),
  config_path: '/work/configs/lung.sft.yaml',
  config_file: 'config.sft.yaml',
  target: { kind: 'local' },
  pid,
  pid_start_time: 98765,
  trainer_version: '0.1.0',
  python: '/envs/x/bin/python',
  argv: ['/envs/x/bin/python', '-m', 'medvlm_sft', 'train'],
});

test('run ids: timestamp plus a sanitized config stem', () => {
  const now = new Date(2026, 10, 27, 9, 5, 7);
  assert.equal(runIdBase('/a/b/lung.sft.yaml', now), '20261127-090507-lung');
  assert.equal(configStem('/x/My Config (v2).sft.yaml'), 'My-Config-v2');
  assert.equal(configStem('/x/../weird$$name.yaml'), 'weird-name');
  assert.equal(configStem('/x/.sft.yaml'), 'run');
  assert.equal(configStem(`/x/${'a'.repeat(80)}.sft.yaml`).length, 48);
});

test('run ids stay unique within the same second, even when claimed concurrently', async (t) => {
  const root = path.join(tempDir(t), 'runs');
  const now = new Date(2026, 10, 27, 12, 0, 0);
  const ids = await Promise.all(Array.from({ length: 5 }, () => createRunDir(root, '/c/demo.sft.yaml', now)));
  const names = ids.map((r) => r.runId).sort();
  assert.deepEqual(names, [
    '20261127-120000-demo',
    '20261127-120000-demo-2',
    '20261127-120000-demo-3',
    '20261127-120000-demo-4',
    '20261127-120000-demo-5',
  ]);
  assert.deepEqual(readdirSync(root).sort(), names);
});

test('run.json is written atomically: readers see all of it or nothing', async (t) => {
  const dir = tempDir(t);
  const runId = 'r'.repeat(2000); // a large file makes a torn write likely if it were possible
  let stop = false;
  let reads = 0;
  const reader = (async () => {
    while (!stop) {
      let text: string | undefined;
      try {
        text = readFileSync(path.join(dir, 'run.json'), 'utf8');
      } catch {
        text = undefined;
      }
      if (text !== undefined) {
        assert.ok(parseRunInfo(JSON.parse(text)), 'every read parses as a whole run.json');
        reads += 1;
      }
      await new Promise((resolve) => setImmediate(resolve));
    }
  })();
  for (let i = 0; i < 50; i += 1) {
    await writeRunInfo(dir, info(runId, i + 1));
  }
  stop = true;
  await reader;
  assert.ok(reads > 0);
  assert.deepEqual(readdirSync(dir), ['run.json'], 'no temporary files are left behind');
  assert.deepEqual(await readRunInfo(dir), info(runId, 50));
});

test('parseRunInfo rejects other versions and malformed files', () => {
  assert.equal(parseRunInfo({ ...info('x'), version: 2 }), undefined);
  assert.equal(parseRunInfo({ ...info('x'), argv: 'python train' }), undefined);
  assert.equal(parseRunInfo({ ...info('x'), target: { kind: 'ssh' } }), undefined);
  assert.deepEqual(parseRunInfo({ ...info('x'), pid: null, pid_start_time: null }), { ...info('x'), pid: null, pid_start_time: null });
  // A run on a host: its target names the host and the run folder there, absolute.
  const ssh = { kind: 'ssh', name: 'gpu box', host: 'me@gpu', run_dir: '/home/me/medvlm/runs/x', work_folder: '~/medvlm' };
  assert.deepEqual(parseRunInfo({ ...info('x'), target: ssh })?.target, ssh);
  assert.deepEqual(parseRunInfo({ ...info('x'), target: { ...ssh, ssh_config: '/etc/ssh/other' } })?.target, { ...ssh, ssh_config: '/etc/ssh/other' });
  assert.equal(parseRunInfo({ ...info('x'), target: { ...ssh, run_dir: '~/medvlm/runs/x' } }), undefined);
  assert.equal(parseRunInfo({ ...info('x'), target: { ...ssh, host: '' } }), undefined);
});

test('listing includes half-written run folders, newest first, and ignores the rest', async (t) => {
  const root = tempDir(t);
  const make = (name: string, files: Record<string, string>): void => {
    mkdirSync(path.join(root, name));
    for (const [file, text] of Object.entries(files)) {
      writeFileSync(path.join(root, name, file), text);
    }
  };
  make('20261127-100000-complete', { 'run.json': JSON.stringify(info('20261127-100000-complete')), 'events.jsonl': '' });
  await new Promise((resolve) => setTimeout(resolve, 20));
  make('20261127-110000-events-only', { 'events.jsonl': '{}\n' });
  await new Promise((resolve) => setTimeout(resolve, 20));
  make('20261127-120000-empty', {});
  await new Promise((resolve) => setTimeout(resolve, 20));
  make('20261127-130000-torn-run-json', { 'run.json': '{"version": 1, "run_' });
  make('.hidden', {});
  writeFileSync(path.join(root, 'stray-file.txt'), 'not a run');

  const runs = await listRuns(root);
  assert.deepEqual(
    runs.map((r) => [r.runId, r.info !== undefined, r.hasEvents]),
    [
      ['20261127-130000-torn-run-json', false, false],
      ['20261127-120000-empty', false, false],
      ['20261127-110000-events-only', false, true],
      ['20261127-100000-complete', true, true],
    ],
  );
  assert.deepEqual(await listRuns(path.join(root, 'missing')), []);
});

test('launch records: one claim per attempt, the newest complete one is the current process', async (t) => {
  const dir = tempDir(t);
  assert.equal(await readRunProcess(dir), undefined, 'nothing before run.json');
  await writeRunInfo(dir, info('r', 100));
  assert.deepEqual(await readRunProcess(dir), { attempt: 1, pid: 100, pid_start_time: 98765, eventsOffset: 0 });

  await claimLaunch(dir, 2);
  await assert.rejects(claimLaunch(dir, 2), { code: 'EEXIST' }, 'a second window cannot take the same attempt');
  const claimed = await readRunProcess(dir);
  assert.equal(claimed?.attempt, 1, 'a claim alone starts nothing yet');
  assert.equal(claimed?.pending?.attempt, 2);

  const record: LaunchRecord = {
    version: 1,
    attempt: 2,
    created: new Date(0).toISOString(),
    pid: 200,
    pid_start_time: 5,
    resume_from: 'latest',
    events_offset: 1234,
    python: '/envs/x/bin/python',
    argv: ['/bin/sh', '-c', '...'],
  };
  await writeLaunchRecord(dir, record);
  assert.deepEqual(parseLaunchRecord(JSON.parse(readFileSync(path.join(dir, launchFileName(2)), 'utf8'))), record);
  assert.deepEqual(await readRunProcess(dir), { attempt: 2, pid: 200, pid_start_time: 5, eventsOffset: 1234 });
  assert.equal((await readRunInfo(dir))?.pid, 100, 'run.json is never rewritten');

  await claimLaunch(dir, 3);
  await releaseLaunch(dir, 3);
  assert.deepEqual(
    (await listLaunches(dir)).map((l) => l.attempt),
    [2],
  );
  assert.equal(parseLaunchRecord({ ...record, attempt: 1 }), undefined, 'attempt 1 lives in run.json');
  assert.equal(parseLaunchRecord({ ...record, pid: 'x' }), undefined);
});

test('exit records: the padded first line, only once the attempt has ended', async (t) => {
  const dir = tempDir(t);
  assert.equal(await readExitRecord(dir), undefined);
  const pad = (line: string): string => `${line.padEnd(240)}\n`;
  writeFileSync(path.join(dir, 'exit.json'), pad('{"v":1,"attempt":2,"pid":7,"running":true}'));
  assert.equal(await readExitRecord(dir), undefined, 'still running');
  writeFileSync(path.join(dir, 'exit.json'), pad('{"v":1,"attempt":2,"pid":7,"code":null,"signal":"SIGKILL","t":12}'));
  assert.deepEqual(await readExitRecord(dir), { attempt: 2, pid: 7, code: null, signal: 'SIGKILL', t: 12 });
  assert.deepEqual(parseExitRecord(pad('{"v":1,"attempt":1,"pid":7,"code":0,"signal":null,"t":1}')), { attempt: 1, pid: 7, code: 0, signal: null, t: 1 });
  assert.equal(parseExitRecord('{"v":1,"attempt":1,"pid":7,"co'), undefined, 'read mid-rewrite');
  assert.equal(parseExitRecord('{"v":1,"attempt":1,"pid":7,"code":null,"signal":null,"t":1}'), undefined);
});
