// Tools for the fault tests: find a run's trainer under its supervisor, limit its memory,
// mount a small tmpfs. Linux only, like the faults they make.

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync } from 'node:fs';

/** Direct children of `pid`, from /proc/<n>/stat (field 4 is the parent's pid). */
export function childPids(pid: number): number[] {
  const children: number[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) {
      continue;
    }
    try {
      const stat = readFileSync(`/proc/${name}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      if (Number(fields[1]) === pid) {
        children.push(Number(name));
      }
    } catch {
      // Gone meanwhile.
    }
  }
  return children;
}

/** The environment a process was started with, as KEY=VALUE strings. */
export function processEnviron(pid: number): string[] {
  return readFileSync(`/proc/${pid}/environ`, 'utf8').split('\0').filter((entry) => entry.length > 0);
}

/** Virtual memory size of a process in bytes (VmSize in /proc/<pid>/status). */
export function virtualMemoryBytes(pid: number): number {
  const kib = /^VmSize:\s+(\d+) kB$/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1];
  assert.ok(kib, `no VmSize for pid ${pid}`);
  return Number(kib) * 1024;
}

/** Sets RLIMIT_AS (soft and hard) of a running process: its next allocations past it fail. */
export function limitAddressSpace(pid: number, bytes: number): void {
  const result = spawnSync('prlimit', ['--pid', String(pid), `--as=${bytes}`], { encoding: 'utf8' });
  assert.equal(result.status, 0, `prlimit failed (it needs util-linux): ${result.stderr || result.error?.message}`);
}

/** Mounts a tmpfs of `size` (e.g. `1000k`) at `dir`; fails saying why when it is not allowed. */
export function mountTmpfs(dir: string, size: string): void {
  mkdirSync(dir, { recursive: true });
  const result = spawnSync('mount', ['-t', 'tmpfs', '-o', `size=${size},mode=0755`, 'tmpfs', dir], { encoding: 'utf8' });
  assert.equal(
    result.status,
    0,
    `this test needs root (or CAP_SYS_ADMIN) to mount a small tmpfs as a full disk; mount said: ${result.stderr || result.error?.message}`,
  );
}

export function resizeTmpfs(dir: string, size: string): void {
  const result = spawnSync('mount', ['-o', `remount,size=${size}`, dir], { encoding: 'utf8' });
  assert.equal(result.status, 0, `could not resize the tmpfs at ${dir}: ${result.stderr}`);
}

/** Unmounts `dir` if something is mounted there; lazily when it is still busy. */
export function unmount(dir: string): void {
  if (!existsSync(dir) || !isMountPoint(dir)) {
    return;
  }
  if (spawnSync('umount', [dir]).status !== 0) {
    spawnSync('umount', ['-l', dir]);
  }
}

function isMountPoint(dir: string): boolean {
  return readFileSync('/proc/self/mounts', 'utf8')
    .split('\n')
    .some((line) => line.split(' ')[1] === dir.replace(/ /g, '\\040'));
}
