// What a run folder holds besides its events: checkpoints (which of them training can resume
// from, which hold a LoRA adapter to merge) and merged models. Read from the disk rather than
// from checkpoint events, because the trainer rotates old checkpoints away and a merge run from
// the command line leaves no event.

import { readdir, readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { CHECKPOINTS_DIR, MERGED_DIR } from './runDir';
import type { CheckpointRef } from './runStatus';

/** Mirror of python/src/medvlm_sft/train/checkpoints.py: the folders `--resume-from latest` considers. */
const RESUMABLE_NAME = /^checkpoint-(\d+)$/;
/** Mirror of WEIGHT_FILES in checkpoints.py: one of these makes a checkpoint's weights complete. */
const WEIGHT_FILES = ['adapter_model.safetensors', 'model.safetensors', 'model.safetensors.index.json'] as const;
const ADAPTER_CONFIG = 'adapter_config.json';
/** `medvlm-sft merge CHECKPOINT` writes `<checkpoint>-merged` beside the checkpoint. */
const MERGED_SUFFIX = '-merged';

export interface CheckpointArtifact {
  /** Folder name under checkpoints/: `checkpoint-200`, `final`. */
  readonly name: string;
  readonly path: string;
  readonly step: number | undefined;
  /** Training can resume from it: a `checkpoint-N` with readable trainer state and weights. */
  readonly complete: boolean;
  /** It holds a LoRA adapter, so `merge` can fold it into the base model. */
  readonly adapter: boolean;
}

export interface RunArtifacts {
  /** Oldest first. */
  readonly checkpoints: readonly CheckpointArtifact[];
  /** Merged models: `merged/`, and `checkpoints/<name>-merged` from merging one checkpoint. */
  readonly merged: readonly string[];
}

export const NO_ARTIFACTS: RunArtifacts = { checkpoints: [], merged: [] };

/** Scans `runDir`; `events` supply the step of folders whose name carries none (`final`). */
export async function scanRunArtifacts(runDir: string, events: readonly CheckpointRef[] = []): Promise<RunArtifacts> {
  const stepByPath = new Map<string, number>();
  for (const checkpoint of events) {
    stepByPath.set(path.resolve(runDir, checkpoint.path), checkpoint.step);
  }
  const folder = path.join(runDir, CHECKPOINTS_DIR);
  const names = await subfolders(folder);
  const merged: string[] = [];
  if (await isDirectory(path.join(runDir, MERGED_DIR))) {
    merged.push(path.join(runDir, MERGED_DIR));
  }
  const checkpoints: CheckpointArtifact[] = [];
  for (const name of names) {
    const full = path.join(folder, name);
    if (name.endsWith(MERGED_SUFFIX)) {
      merged.push(full);
      continue;
    }
    const fromName = /(\d+)$/.exec(name)?.[1];
    const resumableName = RESUMABLE_NAME.test(name);
    const [complete, adapter] = await Promise.all([
      resumableName ? isCompleteCheckpoint(full) : Promise.resolve(false),
      isFile(path.join(full, ADAPTER_CONFIG)),
    ]);
    checkpoints.push({
      name,
      path: full,
      step: stepByPath.get(full) ?? (fromName === undefined ? undefined : Number(fromName)),
      complete,
      adapter,
    });
  }
  checkpoints.sort((a, b) => (a.step ?? -1) - (b.step ?? -1) || a.name.localeCompare(b.name));
  return { checkpoints, merged };
}

/** The checkpoint `--resume-from latest` would pick: the complete one with the highest step. */
export function latestCompleteCheckpoint(artifacts: RunArtifacts): CheckpointArtifact | undefined {
  return artifacts.checkpoints.filter((c) => c.complete).at(-1);
}

export function hasAdapter(artifacts: RunArtifacts): boolean {
  return artifacts.checkpoints.some((c) => c.adapter);
}

/** Same test as `is_complete` in checkpoints.py, so the menu offers resume exactly when the trainer can. */
export async function isCompleteCheckpoint(folder: string): Promise<boolean> {
  try {
    JSON.parse(await readFile(path.join(folder, 'trainer_state.json'), 'utf8'));
  } catch {
    return false;
  }
  const found = await Promise.all(WEIGHT_FILES.map((name) => isFile(path.join(folder, name))));
  return found.some(Boolean);
}

async function subfolders(folder: string): Promise<string[]> {
  try {
    const dirents = await readdir(folder, { withFileTypes: true });
    // Dot folders are work in progress (a merge writes `.merged.partial` before renaming it).
    return dirents.filter((d) => d.isDirectory() && !d.name.startsWith('.')).map((d) => d.name);
  } catch {
    return [];
  }
}

/** False for a missing path too: callers ask "is there a file to use here?". */
export async function isFile(file: string): Promise<boolean> {
  return stat(file).then(
    (s) => s.isFile(),
    () => false,
  );
}

export async function isDirectory(folder: string): Promise<boolean> {
  return stat(folder).then(
    (s) => s.isDirectory(),
    () => false,
  );
}
