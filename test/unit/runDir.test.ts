import assert from 'node:assert/strict';
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { configStem, createRunDir, listRuns, parseRunInfo, readRunInfo, runIdBase, writeRunInfo } from '../../src/core/runDir';
import type { RunInfo } from '../../src/core/runDir';
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
