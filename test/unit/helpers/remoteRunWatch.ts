// Following a remote run as the extension does, for the remote fault tests: its mirror
// (RemoteRunMirror, as RemoteMirrors starts it) copying the host's run folder here, and a
// RunWatch reading that folder as the registry does; then the mirror compared with the host's.

import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { RemoteRunMirror } from '../../../src/core/remote/remoteMirror';
import { readRunInfo, readRunProcess } from '../../../src/core/runDir';
import { RunWatch } from '../../../src/core/runWatch';
import { sshHostOf } from '../../../src/launch/sshLauncher';
import { waitFor } from '../testUtil';

/** Mirrors the run's latest attempt, as RemoteMirrors does. */
export async function mirrorRun(runDir: string): Promise<RemoteRunMirror> {
  const info = await readRunInfo(runDir);
  assert.ok(info && info.target.kind === 'ssh');
  const proc = await readRunProcess(runDir, info);
  assert.ok(proc && proc.pid !== null);
  const started = await RemoteRunMirror.start({ host: sshHostOf(info.target), localDir: runDir, remoteDir: info.target.run_dir, pid: proc.pid, startTime: proc.pid_start_time, pollMs: 300 });
  assert.ok(started, 'the mirror started');
  return started;
}

/** A RunWatch of the mirror folder until `until` holds of it; it is disposed either way. */
export async function watchUntil<T>(runDir: string, what: string, until: (w: RunWatch) => T | undefined | false, timeoutMs: number): Promise<T> {
  const watch = new RunWatch(runDir, { pollMs: 200, livenessMs: 500 });
  try {
    await watch.ready;
    return await waitFor(what, () => until(watch), timeoutMs).catch((err: unknown) => {
      throw new Error(`${String(err)}; status ${watch.summary.status}\n${readText(path.join(runDir, 'stdout.log')).slice(-3000)}`);
    });
  } finally {
    watch.dispose();
  }
}

/** The mirror's events and log are byte-equal to the host's, and its exit record says the same. */
export function assertMirrored(runDir: string, remoteDir: string): void {
  for (const file of ['events.jsonl', 'stdout.log']) {
    assert.ok(readFileSync(path.join(runDir, file)).equals(readFileSync(path.join(remoteDir, file))), `${file} here is byte-equal to the host's`);
  }
  assert.equal(readText(path.join(runDir, 'exit.json')).split('\n')[0]?.trim(), readText(path.join(remoteDir, 'exit.json')).split('\n')[0]?.trim());
}

export interface LoggedEvent {
  readonly type: string;
  readonly split?: string;
  readonly step?: number;
  readonly loss?: number;
  readonly path?: string;
  readonly message?: string;
  readonly status?: string;
  readonly attempt?: number;
  readonly resume_step?: number | null;
}

/**
 * The events of an events file's complete lines. A line that is not JSON (a write the full disk
 * cut short, ended by the writer's next line) is skipped, as every reader of the file does.
 */
export function readEvents(file: string): LoggedEvent[] {
  const text = readText(file);
  return text
    .slice(0, text.lastIndexOf('\n') + 1)
    .split('\n')
    .flatMap((line) => {
      try {
        return [JSON.parse(line) as LoggedEvent];
      } catch {
        return [];
      }
    });
}

/** The steps of the train metrics, in file order. */
export function trainSteps(events: readonly LoggedEvent[]): number[] {
  return events.filter((e) => e.type === 'metrics' && e.split === 'train' && typeof e.loss === 'number').map((e) => e.step ?? -1);
}

export function readText(file: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch {
    return '';
  }
}
