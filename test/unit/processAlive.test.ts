import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { test } from 'node:test';
import { isProcessAlive, parseProcStat, processStartTime, readCommandLine } from '../../src/core/processAlive';

test('/proc/<pid>/stat parsing copes with spaces and parentheses in the command name', () => {
  const fields = Array.from({ length: 50 }, (_, i) => String(i + 3));
  fields[0] = 'S';
  fields[19] = '123456';
  assert.deepEqual(parseProcStat(`4242 (python (a) b) ${fields.join(' ')}`), { state: 'S', startTime: 123456 });
  assert.equal(parseProcStat('garbage'), undefined);
});

test('liveness checks the start time and treats exited processes as dead', { skip: process.platform !== 'linux' }, async () => {
  assert.equal(isProcessAlive(process.pid, processStartTime(process.pid)), true);
  assert.equal(isProcessAlive(process.pid, (processStartTime(process.pid) ?? 0) + 1), false, 'a reused pid is not the run');
  assert.ok(readCommandLine(process.pid)?.includes(process.execPath) || readCommandLine(process.pid)?.[0]?.endsWith('node'));
  const child = spawn('sleep', ['0.05']);
  const pid = child.pid ?? 0;
  const started = processStartTime(pid);
  assert.equal(isProcessAlive(pid, started), true);
  await new Promise((resolve) => child.on('exit', resolve));
  assert.equal(isProcessAlive(pid, started), false);
  assert.equal(isProcessAlive(-1), false);
  assert.equal(isProcessAlive(0), false);
});
