import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { appendFileSync, mkdirSync, readFileSync, rmSync, statSync, truncateSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { followEvents, parseEventLines, readEventsFrom } from '../../src/core/eventsTail';
import type { TrainerEvent } from '../../src/shared/events';
import { tempDir, waitFor } from './testUtil';

const line = (fields: Record<string, unknown>): string => `${JSON.stringify({ v: 1, t: 1, ...fields })}\n`;
const progress = (step: number): string => line({ type: 'progress', step, max_steps: 10, epoch: step / 10, samples_per_s: 1, eta_s: 1 });
const steps = (events: readonly TrainerEvent[]): number[] => events.map((e) => (e.type === 'progress' ? e.step : -1));

test('parseEventLines leaves a torn last line unconsumed and skips malformed lines', () => {
  const text = `${progress(1)}not json\n\n{"v":1,"t":1,"type":"progress"}\n${progress(2)}{"v":1,"t":1,"ty`;
  const parsed = parseEventLines(Buffer.from(text));
  assert.deepEqual(steps(parsed.events), [1, 2]);
  assert.equal(parsed.consumed, text.lastIndexOf('\n') + 1);
  assert.equal(parsed.skipped, 2);
});

test('a torn last line is read whole once completed, and offsets never double-count', async (t) => {
  const file = path.join(tempDir(t), 'events.jsonl');
  const third = progress(3);
  writeFileSync(file, progress(1) + progress(2) + third.slice(0, 10));
  const first = await readEventsFrom(file, 0);
  assert.deepEqual(steps(first.events), [1, 2]);
  assert.equal(first.cursor.offset, Buffer.byteLength(progress(1) + progress(2)));
  assert.equal(first.reset, false);

  const again = await readEventsFrom(file, first.cursor);
  assert.deepEqual(again.events, [], 'nothing new until the line is complete');
  assert.equal(again.cursor.offset, first.cursor.offset);

  appendFileSync(file, third.slice(10) + progress(4));
  const second = await readEventsFrom(file, again.cursor);
  assert.deepEqual(steps(second.events), [3, 4]);
  assert.equal(second.cursor.offset, statSync(file).size);
  const last = await readEventsFrom(file, second.cursor);
  assert.deepEqual([last.events, last.cursor.offset, last.reset], [[], second.cursor.offset, false]);
  // A plain byte offset resumes the same way.
  assert.deepEqual(steps((await readEventsFrom(file, first.cursor.offset)).events), [3, 4]);
});

test('multi-byte characters split across reads stay intact', async (t) => {
  const file = path.join(tempDir(t), 'events.jsonl');
  const log = line({ type: 'log', level: 'info', message: 'Läsion größe — 肺' });
  const bytes = Buffer.from(log);
  writeFileSync(file, bytes.subarray(0, 30));
  const first = await readEventsFrom(file, 0);
  appendFileSync(file, bytes.subarray(30));
  const second = await readEventsFrom(file, first.cursor);
  assert.deepEqual(
    second.events.map((e) => (e.type === 'log' ? e.message : '')),
    ['Läsion größe — 肺'],
  );
});

test('truncation or replacement restarts from byte 0 and says so', async (t) => {
  const file = path.join(tempDir(t), 'events.jsonl');
  writeFileSync(file, progress(1) + progress(2) + progress(3));
  const first = await readEventsFrom(file, 0);

  truncateSync(file, 0);
  writeFileSync(file, progress(7));
  const shrunk = await readEventsFrom(file, first.cursor);
  assert.equal(shrunk.reset, true);
  assert.deepEqual(steps(shrunk.events), [7]);

  // Rewritten with other content longer than the old offset: the byte before the offset is
  // no longer the newline that ended the last line read.
  writeFileSync(file, line({ type: 'log', level: 'info', message: 'x'.repeat(300) }) + progress(8));
  const replaced = await readEventsFrom(file, shrunk.cursor);
  assert.equal(replaced.reset, true);
  assert.deepEqual(replaced.events.map((e) => e.type), ['log', 'progress']);

  // Rewritten with lines of exactly the same lengths: only the changed first bytes tell.
  const sameLength = readFileSync(file, 'utf8').replace('"t":1', '"t":2');
  writeFileSync(file, sameLength);
  const rewritten = await readEventsFrom(file, replaced.cursor);
  assert.equal(rewritten.reset, true);
  assert.equal(rewritten.events.length, 2);
});

test('a missing file reads as empty; deleting a read file is a reset', async (t) => {
  const dir = tempDir(t);
  const file = path.join(dir, 'nope', 'events.jsonl');
  const missing = await readEventsFrom(file, 0);
  assert.deepEqual([missing.events, missing.cursor.offset, missing.reset], [[], 0, false]);
  assert.equal((await readEventsFrom(file, 120)).reset, true);
});

test('the follower survives a missing file, a deleted folder and truncation', async (t) => {
  const dir = path.join(tempDir(t), 'run');
  const file = path.join(dir, 'events.jsonl');
  const seen: number[] = [];
  let resets = 0;
  const follower = followEvents(file, {
    pollMs: 50,
    onEvents: (events) => seen.push(...steps(events)),
    onReset: () => {
      resets += 1;
      seen.length = 0;
    },
  });
  t.after(() => follower.dispose());

  await waitFor('a few polls without the folder', () => follower.settled().then(() => true));
  mkdirSync(dir);
  writeFileSync(file, progress(1) + progress(2));
  await waitFor('the first events', () => seen.length === 2);

  rmSync(dir, { recursive: true });
  await waitFor('the reset after the folder went away', () => resets === 1);
  mkdirSync(dir);
  writeFileSync(file, progress(5));
  await waitFor('events from the new folder', () => seen.join() === '5');

  truncateSync(file, 0);
  appendFileSync(file, progress(9));
  await waitFor('events after truncation', () => seen.join() === '9');
  assert.equal(resets, 2);
});

test('the follower reads a file written by a real child process in torn pieces, each event once', async (t) => {
  const dir = tempDir(t);
  const file = path.join(dir, 'events.jsonl');
  const count = 60;
  // Writes each line in two flushed halves with pauses between, like a trainer caught mid-write.
  const script = [
    'import json, sys, time',
    'path, count = sys.argv[1], int(sys.argv[2])',
    'with open(path, "a", encoding="utf-8") as f:',
    '    for step in range(1, count + 1):',
    '        line = json.dumps({"v": 1, "t": time.time(), "type": "progress", "step": step, "max_steps": count,',
    '                           "epoch": step / count, "samples_per_s": None, "eta_s": None}) + "\\n"',
    '        half = len(line) // 2',
    '        f.write(line[:half]); f.flush(); time.sleep(0.002)',
    '        f.write(line[half:]); f.flush()',
    '        if step % 7 == 0:',
    '            f.write("garbage that is not json\\n"); f.flush()',
  ].join('\n');
  const received: number[] = [];
  const follower = followEvents(file, { pollMs: 20, onEvents: (events) => received.push(...steps(events)) });
  t.after(() => follower.dispose());
  const child = spawn('python3', ['-c', script, file, String(count)], { stdio: 'inherit' });
  const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));
  assert.equal(code, 0);
  await waitFor('every event', () => received.length >= count);
  await follower.settled();
  assert.deepEqual(received, Array.from({ length: count }, (_, i) => i + 1));
  assert.equal(follower.offset, statSync(file).size);
});
