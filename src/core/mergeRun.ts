// `python -m medvlm_sft merge RUN_DIR`: folds a run's LoRA adapter into its base model, into
// RUN_DIR/merged. No `vscode`: the command streams the lines to the log channel, tests drive it
// with a stand-in interpreter.

import { execa } from 'execa';
import { rm } from 'node:fs/promises';
import path from 'node:path';
import { MERGED_DIR } from './runDir';
import { trainerEnv } from './trainerCommand';

export interface MergeRunOptions {
  readonly python: string;
  readonly extensionRoot: string;
  readonly runDir: string;
  /** Each line the merge prints, stdout and stderr alike, as it comes. */
  readonly onLine?: (line: string) => void;
  readonly signal?: AbortSignal;
  readonly baseEnv?: NodeJS.ProcessEnv;
}

export type MergeOutcome =
  | { readonly kind: 'merged'; readonly out: string }
  | { readonly kind: 'cancelled' }
  | { readonly kind: 'failed'; readonly message: string };

export function mergeArgs(runDir: string): string[] {
  return ['-m', 'medvlm_sft', 'merge', runDir];
}

export async function mergeRun(options: MergeRunOptions): Promise<MergeOutcome> {
  const stderrLines: string[] = [];
  const subprocess = execa(options.python, mergeArgs(options.runDir), {
    env: trainerEnv(options.extensionRoot, options.baseEnv),
    extendEnv: false,
    reject: false,
    stdin: 'ignore',
    ...(options.signal ? { cancelSignal: options.signal } : {}),
    // Loading a base model can ignore SIGTERM for a while; a cancel must still end it.
    forceKillAfterDelay: 5000,
  });
  // Split each stream on its own: a line is only whole within the stream that wrote it.
  const flushers = [subprocess.stdout, subprocess.stderr].map((stream) => {
    let pending = '';
    const emit = (line: string): void => {
      if (stream === subprocess.stderr) {
        stderrLines.push(line);
      }
      options.onLine?.(line);
    };
    stream?.on('data', (chunk: Buffer) => {
      pending += chunk.toString('utf8');
      const parts = pending.split(/\r?\n/);
      pending = parts.pop() ?? '';
      parts.forEach(emit);
    });
    return (): void => {
      if (pending.length > 0) {
        emit(pending);
        pending = '';
      }
    };
  });
  const result = await subprocess;
  flushers.forEach((flush) => flush());
  // A cancel that came after the merge had renamed its output changed nothing.
  if (result.exitCode === 0) {
    return { kind: 'merged', out: path.join(options.runDir, MERGED_DIR) };
  }
  if (options.signal?.aborted) {
    // The merge writes beside its target and renames at the end; a cut-short one leaves a
    // hidden partial folder (gigabytes of shards) that nothing else would ever remove.
    await rm(path.join(options.runDir, `.${MERGED_DIR}.partial`), { recursive: true, force: true });
    return { kind: 'cancelled' };
  }
  // The trainer's last line on stderr says what went wrong: `merge failed: ...`, or the
  // exception line of a traceback.
  const last = stderrLines.map((l) => l.trim()).filter((l) => l.length > 0).at(-1);
  const message = last?.replace(/^\[medvlm-sft\]\s*/, '').replace(/^merge failed:\s*/, '');
  return { kind: 'failed', message: message || (result.shortMessage ?? `exit status ${String(result.exitCode)}`) };
}
