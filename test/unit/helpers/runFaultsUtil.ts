// The run helpers of the fault tests (runFaults.test.ts): the real trainer's CLI, demo configs
// for a workspace, events and logs of a run folder, and waits on a run's progress.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { readEventsFrom } from '../../../src/core/eventsTail';
import { runPaths } from '../../../src/core/runDir';
import { RunWatch } from '../../../src/core/runWatch';
import type { StartedRun } from '../../../src/launch/localLauncher';
import type { TrainerEvent } from '../../../src/shared/events';
import type { RunSummary } from '../../../src/shared/runStatus';
import { childPids } from './faultTools';
import { repoRoot, waitFor } from '../testUtil';

export const python = process.env.MEDVLM_PYTHON;
export const RUN_TIMEOUT_MS = 300_000;

export function trainer(args: string[]): void {
  assert.ok(python, 'MEDVLM_PYTHON must name the trainer environment (npm test sets it)');
  const result = spawnSync(python, ['-m', 'medvlm_sft', ...args], {
    env: { ...process.env, PYTHONPATH: path.join(repoRoot, 'python', 'src') },
    encoding: 'utf8',
  });
  assert.equal(result.status, 0, `medvlm_sft ${args.join(' ')} failed:\n${result.stderr}`);
}

/** The demo config with its paths fixed for this workspace, and the given lines replaced. */
export function writeConfig(workspace: string, name: string, replace: Record<string, string>): string {
  let text = readFileSync(path.join(repoRoot, 'python', 'configs', 'demo.sft.yaml'), 'utf8')
    .replace(/base: tiny-qwen2_5_vl/, `base: ${path.join(workspace, 'tiny-qwen2_5_vl')}`)
    .replace(/demo-data\//g, `${path.join(workspace, 'demo-data')}/`);
  for (const [from, to] of Object.entries(replace)) {
    assert.ok(text.includes(from), `demo.sft.yaml has no "${from}"`);
    text = text.replace(from, to);
  }
  const file = path.join(workspace, 'configs', `${name}.sft.yaml`);
  writeFileSync(file, text);
  return file;
}

// Evaluation off: these runs are about steps and checkpoints, and should be quick.
export const NO_EVAL = { 'strategy: steps': 'strategy: "no"' };

export async function allEvents(runDir: string): Promise<TrainerEvent[]> {
  return (await readEventsFrom(runPaths(runDir).events, 0)).events;
}

export function log(runDir: string): string {
  try {
    return readFileSync(runPaths(runDir).stdoutLog, 'utf8');
  } catch {
    return '(no stdout.log)';
  }
}

/** Kills a run's process group after the test, whatever happened. */
export function killAfter(t: { after: (fn: () => void) => void }, run: () => StartedRun | undefined): void {
  t.after(() => {
    const started = run();
    try {
      if (started) {
        process.kill(-started.pid, 'SIGKILL');
      }
    } catch {
      // Already gone.
    }
  });
}

export function watch(t: { after: (fn: () => void) => void }, runDir: string): RunWatch {
  const w = new RunWatch(runDir, { pollMs: 100, livenessMs: 200 });
  t.after(() => w.dispose());
  return w;
}

/** The trainer process: the supervisor's only child. */
export async function trainerPid(started: StartedRun): Promise<number> {
  return waitFor('the trainer under its supervisor', () => childPids(started.pid)[0], 10_000);
}

export async function waitForEvent(runDir: string, what: string, match: (e: TrainerEvent) => boolean): Promise<TrainerEvent> {
  return waitFor(what, async () => (await allEvents(runDir)).find((e) => match(e) || e.type === 'run_finished'), RUN_TIMEOUT_MS).then((e) => {
    assert.ok(match(e), `the run ended before ${what}:\n${log(runDir)}`);
    return e;
  });
}

export async function finishedAttempt(w: RunWatch, attempt: number): Promise<RunSummary> {
  return waitFor(
    `attempt ${attempt} to end`,
    () => (w.isTerminal && (w.summary.attempt ?? 1) === attempt && w.summary.status !== 'lost' ? w.summary : undefined),
    RUN_TIMEOUT_MS,
  );
}

export function trainSteps(events: readonly TrainerEvent[]): number[] {
  return events.flatMap((e) => (e.type === 'metrics' && e.split === 'train' ? [e.step] : []));
}

/** The events of each attempt, split at its run_started. */
export function attempts(events: readonly TrainerEvent[]): TrainerEvent[][] {
  const parts: TrainerEvent[][] = [];
  for (const event of events) {
    if (event.type === 'run_started') {
      parts.push([]);
    }
    parts.at(-1)?.push(event);
  }
  return parts;
}

/** Every file under `dir` whose bytes contain `needle`. */
export function filesContaining(dir: string, needle: string): string[] {
  const found: string[] = [];
  for (const entry of readdirSync(dir, { recursive: true, withFileTypes: true })) {
    const file = path.join(entry.parentPath, entry.name);
    if (entry.isFile() && readFileSync(file).includes(needle)) {
      found.push(path.relative(dir, file));
    }
  }
  return found;
}
