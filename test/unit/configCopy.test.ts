import assert from 'node:assert/strict';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { configCopyName, configFileStem, writeConfigCopy } from '../../src/core/configCopy';
import { tempDir } from './testUtil';

test('copy names: <stem>-<n>.sft.yaml, the original counting as the first', () => {
  assert.equal(configFileStem('/c/lung.sft.yaml'), 'lung');
  assert.equal(configFileStem('/c/My Config (v2).sft.yml'), 'My Config (v2)');
  assert.equal(configFileStem('/c/plain.yaml'), 'plain');
  assert.equal(configFileStem('/c/.sft.yaml'), 'config');
  assert.equal(configCopyName('/c/lung.sft.yaml', 2), 'lung-2.sft.yaml');
  assert.equal(configCopyName('/c/lung-2.sft.yaml', 2), 'lung-2-2.sft.yaml');
  assert.equal(configCopyName('/runs/r/config.sft.yaml', 3), 'config-3.sft.yaml');
});

test('a copy never overwrites: it takes the first free number', async (t) => {
  const dir = tempDir(t);
  writeFileSync(path.join(dir, 'lung.sft.yaml'), 'original\n');
  writeFileSync(path.join(dir, 'lung-2.sft.yaml'), 'mine\n');
  const copy = await writeConfigCopy(dir, path.join(dir, 'lung.sft.yaml'), 'snapshot\n');
  assert.equal(copy, path.join(dir, 'lung-3.sft.yaml'));
  assert.equal(readFileSync(copy, 'utf8'), 'snapshot\n');
  assert.equal(readFileSync(path.join(dir, 'lung-2.sft.yaml'), 'utf8'), 'mine\n');
  assert.equal(readFileSync(path.join(dir, 'lung.sft.yaml'), 'utf8'), 'original\n');
});

test('copies made at the same time get different files', async (t) => {
  const dir = tempDir(t);
  const copies = await Promise.all(Array.from({ length: 5 }, (_, i) => writeConfigCopy(dir, '/elsewhere/lung.sft.yaml', `copy ${i}\n`)));
  assert.equal(new Set(copies).size, 5);
  assert.deepEqual(readdirSync(dir).sort(), ['lung-2.sft.yaml', 'lung-3.sft.yaml', 'lung-4.sft.yaml', 'lung-5.sft.yaml', 'lung-6.sft.yaml']);
});

test('a folder that cannot be written is an error, not a silent fallback', async (t) => {
  const dir = tempDir(t);
  await assert.rejects(writeConfigCopy(path.join(dir, 'missing'), '/c/lung.sft.yaml', 'x'), /ENOENT/);
});
