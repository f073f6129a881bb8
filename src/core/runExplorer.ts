// The Runs view's decisions that need no VS Code: which target a run belongs to, how runs
// group, and the context values its menus match on (package.json `view/item/context`).

import type { RunInfo } from './runDir';
import { hasAdapter, latestCompleteCheckpoint } from './runArtifacts';
import type { CheckpointArtifact, RunArtifacts } from './runArtifacts';
import type { RunStatus } from '../shared/runStatus';
import { TERMINAL_STATUSES } from '../shared/runStatus';

export interface RunTargetRef {
  /** Stable across runs of the same target: `local`, `ssh:<host>`. */
  readonly key: string;
  readonly label: string;
}

export const LOCAL_TARGET: RunTargetRef = { key: 'local', label: 'This machine' };

/**
 * The target run.json records. Read loosely: remote targets add fields (host, target name)
 * that older readers must not choke on, and a run without run.json yet sits under the local
 * runs root, so it is this machine's.
 */
export function runTargetOf(info: RunInfo | undefined): RunTargetRef {
  const target = info?.target as Readonly<Record<string, unknown>> | undefined;
  if (target === undefined || target.kind === 'local') {
    return LOCAL_TARGET;
  }
  // One group per SSH host: a SLURM cluster is reached through a host too.
  const host = [target.host, target.name].find((v): v is string => typeof v === 'string' && v.length > 0);
  if (host === undefined) {
    const kind = typeof target.kind === 'string' ? target.kind : 'remote';
    return { key: kind, label: kind };
  }
  return { key: `ssh:${host}`, label: host };
}

export interface TargetGroup<T> {
  readonly target: RunTargetRef;
  readonly runs: readonly T[];
}

/** Runs by target, this machine first, then hosts by name; runs keep their order. */
export function groupRunsByTarget<T extends { readonly info?: RunInfo }>(runs: readonly T[]): TargetGroup<T>[] {
  const groups = new Map<string, { target: RunTargetRef; runs: T[] }>();
  for (const run of runs) {
    const target = runTargetOf(run.info);
    let group = groups.get(target.key);
    if (!group) {
      group = { target, runs: [] };
      groups.set(target.key, group);
    }
    group.runs.push(run);
  }
  return [...groups.values()].sort(
    (a, b) => Number(b.target.key === LOCAL_TARGET.key) - Number(a.target.key === LOCAL_TARGET.key) || a.target.label.localeCompare(b.target.label),
  );
}

/** The group level appears only when it tells something: with more than one target. */
export function showTargetGroups(groups: readonly TargetGroup<unknown>[]): boolean {
  return groups.length > 1;
}

/** Ended without finishing: what resume is for (a finished run has nothing left to train). */
const RESUMABLE_STATUSES: ReadonlySet<RunStatus> = new Set(['stopped', 'failed', 'lost']);

export function isActiveStatus(status: RunStatus): boolean {
  return !TERMINAL_STATUSES.has(status);
}

/** Training can resume this run: it ended unfinished and has a complete checkpoint. */
export function canResume(status: RunStatus, artifacts: RunArtifacts): boolean {
  return RESUMABLE_STATUSES.has(status) && latestCompleteCheckpoint(artifacts) !== undefined;
}

/**
 * The same for a run on a remote target, whose checkpoints are on the host: it ended unfinished
 * and the trainer announced a checkpoint (the trainer there resumes from its latest complete one).
 */
export function canResumeRemote(status: RunStatus, announcedCheckpoints: number): boolean {
  return RESUMABLE_STATUSES.has(status) && announcedCheckpoints > 0;
}

/** What the Runs view knows of a run on a remote target. */
export interface RemoteRunFacts {
  /** The trainer announced at least one checkpoint (in its events). */
  readonly checkpointed: boolean;
}

/** Context value prefixes and flags; menus match `viewItem =~ /^run\.ended\b.*\+resumable/` and the like. */
export const RUN_ACTIVE = 'run.active';
export const RUN_ENDED = 'run.ended';
export const FLAG_CHECKPOINTS = 'checkpoints';
export const FLAG_RESUMABLE = 'resumable';
export const FLAG_MERGEABLE = 'mergeable';
export const FLAG_MERGED = 'merged';
export const FLAG_WANDB = 'wandb';
export const FLAG_ADAPTER = 'adapter';
export const FLAG_ENDED = 'ended';
export const CHECKPOINT_CONTEXT = 'checkpoint';
export const MERGED_CONTEXT = 'mergedModel';
export const LOG_CONTEXT = 'runLog';
export const EVENTS_CONTEXT = 'runEvents';
export const TARGET_CONTEXT = 'runTarget';
export const FLAG_REMOTE = 'remote';

/**
 * `run.active` or `run.ended`, then `+flag` for each action that fits: `checkpoints`,
 * `resumable` (stopped/failed/lost with a complete checkpoint), `mergeable` (ended, with a
 * LoRA adapter), `merged` (a merged model exists), `wandb` (it reported an online W&B run),
 * `remote` (it ran on a remote target: its files can be fetched, it resumes on the host, and
 * merge, which needs the base model on the machine that merges, is not offered here).
 */
export function runContextValue(status: RunStatus, artifacts: RunArtifacts, wandb = false, remote?: RemoteRunFacts): string {
  const active = isActiveStatus(status);
  const parts = [active ? RUN_ACTIVE : RUN_ENDED];
  if (artifacts.checkpoints.length > 0) {
    parts.push(FLAG_CHECKPOINTS);
  }
  if (remote === undefined ? canResume(status, artifacts) : canResumeRemote(status, remote.checkpointed ? 1 : 0)) {
    parts.push(FLAG_RESUMABLE);
  }
  if (remote === undefined && !active && hasAdapter(artifacts)) {
    parts.push(FLAG_MERGEABLE);
  }
  if (artifacts.merged.length > 0) {
    parts.push(FLAG_MERGED);
  }
  if (wandb) {
    parts.push(FLAG_WANDB);
  }
  if (remote !== undefined) {
    parts.push(FLAG_REMOTE);
  }
  return parts.join('+');
}

/**
 * `checkpoint`, plus `+resumable` when training can resume from this very checkpoint, and
 * `+adapter` when it holds a LoRA adapter of an ended run (one that can be pushed to the Hub;
 * a live run may still rotate it away).
 */
export function checkpointContextValue(status: RunStatus, checkpoint: CheckpointArtifact, remote = false): string {
  const parts = [CHECKPOINT_CONTEXT];
  // A remote run's checkpoint fetched here: training resumes on the host, not from this copy.
  if (!remote && RESUMABLE_STATUSES.has(status) && checkpoint.complete) parts.push(FLAG_RESUMABLE);
  if (!isActiveStatus(status) && checkpoint.adapter) parts.push(FLAG_ADAPTER);
  return parts.join('+');
}

/** `mergedModel`, plus `+ended` once its run has ended (then it can be pushed to the Hub). */
export function mergedContextValue(status: RunStatus | undefined): string {
  return status !== undefined && !isActiveStatus(status) ? `${MERGED_CONTEXT}+${FLAG_ENDED}` : MERGED_CONTEXT;
}
