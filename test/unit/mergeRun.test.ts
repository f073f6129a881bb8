// The merge command's process handling, with a stand-in interpreter (a shell script) that
// behaves like `python -m medvlm_sft merge RUN_DIR`: prints, writes a partial folder, renames it.

import assert from 'node:assert/strict';
import { chmodSync, existsSync, mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { mergeArgs, mergeRun } from '../../src/core/mergeRun';
import { tempDir } from './testUtil';

const FAKE_PYTHON = `#!/bin/sh
[ "$1 $2 $3" = "-m medvlm_sft merge" ] || { echo "unexpected arguments: $*" >&2; exit 64; }
echo "PYTHONPATH=$PYTHONPATH"
echo "loading the base model" >&2
case "$FAKE_MERGE" in
  ok) mkdir -p "$4/.merged.partial" && mv "$4/.merged.partial" "$4/merged" && printf 'merged: %s/merged' "$4" ;;
  fail) echo "[medvlm-sft] merge failed: no LoRA adapter in $4" >&2; echo "stdout noise"; exit 1 ;;
  hang) mkdir -p "$4/.merged.partial"; echo "saving shards"; exec sleep 60 ;;
esac
`;

function setup(t: { after: (fn: () => void) => void }): { python: string; runDir: string; extensionRoot: string } {
  const dir = tempDir(t);
  const python = path.join(dir, 'python');
  writeFileSync(python, FAKE_PYTHON);
  chmodSync(python, 0o755);
  const runDir = path.join(dir, 'runs', 'r');
  mkdirSync(runDir, { recursive: true });
  return { python, runDir, extensionRoot: path.join(dir, 'ext') };
}

test('merge args: the trainer module on the run folder', () => {
  assert.deepEqual(mergeArgs('/runs/r'), ['-m', 'medvlm_sft', 'merge', '/runs/r']);
});

test('a merge that succeeds streams every line and reports RUN_DIR/merged', { skip: process.platform === 'win32' }, async (t) => {
  const { python, runDir, extensionRoot } = setup(t);
  const lines: string[] = [];
  const outcome = await mergeRun({ python, extensionRoot, runDir, onLine: (l) => lines.push(l), baseEnv: { ...process.env, FAKE_MERGE: 'ok' } });
  assert.deepEqual(outcome, { kind: 'merged', out: path.join(runDir, 'merged') });
  assert.ok(existsSync(path.join(runDir, 'merged')));
  assert.match(lines[0] ?? '', new RegExp(`^PYTHONPATH=${path.join(extensionRoot, 'python', 'src')}`));
  assert.ok(lines.includes('loading the base model'), JSON.stringify(lines));
  // The last line had no newline; it still arrives.
  assert.equal(lines.at(-1), `merged: ${runDir}/merged`);
});

test('a failed merge reports the trainer\'s last line on stderr', { skip: process.platform === 'win32' }, async (t) => {
  const { python, runDir, extensionRoot } = setup(t);
  const outcome = await mergeRun({ python, extensionRoot, runDir, baseEnv: { ...process.env, FAKE_MERGE: 'fail' } });
  assert.deepEqual(outcome, { kind: 'failed', message: `no LoRA adapter in ${runDir}` });
});

test('cancelling ends the merge and removes its partial output', { skip: process.platform === 'win32' }, async (t) => {
  const { python, runDir, extensionRoot } = setup(t);
  const abort = new AbortController();
  const outcome = await mergeRun({
    python,
    extensionRoot,
    runDir,
    signal: abort.signal,
    onLine: (line) => {
      if (line === 'saving shards') {
        abort.abort();
      }
    },
    baseEnv: { ...process.env, FAKE_MERGE: 'hang' },
  });
  assert.deepEqual(outcome, { kind: 'cancelled' });
  assert.equal(existsSync(path.join(runDir, '.merged.partial')), false);
  assert.equal(existsSync(path.join(runDir, 'merged')), false);
});
