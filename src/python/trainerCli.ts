// Short, synchronous-in-spirit calls of the trainer CLI and its interpreter (no `vscode`, so
// the same code serves the extension and tests). Long runs go through src/launch instead.

import { execa } from 'execa';
import { trainerEnv } from '../core/trainerCommand';
import { parseValidationOutput } from '../core/validation';
import type { ValidationResult } from '../core/validation';

/** Packages the trainer cannot run without; a user-chosen interpreter must have them. */
export const REQUIRED_MODULES = ['torch', 'transformers', 'trl', 'peft', 'nibabel'] as const;

// find_spec locates a package without importing it, so the check takes a fraction of a
// second even with torch installed.
const MISSING_MODULES_SCRIPT = [
  'import importlib.util, json, sys',
  'mods = sys.argv[1:]',
  'print(json.dumps([m for m in mods if importlib.util.find_spec(m) is None]))',
].join('\n');

export type InterpreterCheck =
  | { readonly ok: true }
  | { readonly ok: false; readonly reason: 'unrunnable'; readonly message: string }
  | { readonly ok: false; readonly reason: 'missing'; readonly missing: readonly string[] };

export async function checkInterpreter(python: string): Promise<InterpreterCheck> {
  const result = await execa(python, ['-c', MISSING_MODULES_SCRIPT, ...REQUIRED_MODULES], {
    reject: false,
    timeout: 60_000,
    stdin: 'ignore',
  });
  if (result.failed) {
    const detail = (result.stderr || result.shortMessage || result.message || '').trim().split('\n').pop() ?? '';
    return { ok: false, reason: 'unrunnable', message: detail };
  }
  let missing: unknown;
  try {
    missing = JSON.parse(result.stdout.trim().split('\n').pop() ?? '');
  } catch {
    return { ok: false, reason: 'unrunnable', message: `unexpected output: ${result.stdout.slice(0, 200)}` };
  }
  if (Array.isArray(missing) && missing.length > 0) {
    return { ok: false, reason: 'missing', missing: missing.map(String) };
  }
  return { ok: true };
}

export interface ValidateOptions {
  readonly python: string;
  readonly extensionRoot: string;
  readonly configPath: string;
  /** Also open the data sources and the model folder the config names. */
  readonly checkData?: boolean;
  /** Validate this text (an unsaved editor) instead of the file; `configPath` still anchors relative paths. */
  readonly text?: string;
  readonly signal?: AbortSignal;
}

/** `python -m medvlm_sft validate CONFIG --json [--check-data]`, parsed. */
export async function validateConfig(options: ValidateOptions): Promise<ValidationResult> {
  const args = ['-m', 'medvlm_sft', 'validate', options.configPath, '--json'];
  if (options.checkData) {
    args.push('--check-data');
  }
  if (options.text !== undefined) {
    args.push('--stdin');
  }
  const result = await execa(options.python, args, {
    env: trainerEnv(options.extensionRoot),
    extendEnv: false,
    reject: false,
    timeout: 300_000,
    ...(options.text !== undefined ? { input: options.text } : { stdin: 'ignore' as const }),
    ...(options.signal ? { cancelSignal: options.signal } : {}),
  });
  const stderr = result.stderr ?? '';
  // Without an exit code (not found, killed) execa's message is the only explanation.
  const detail = result.exitCode === undefined ? `${stderr}\n${result.shortMessage ?? ''}` : stderr;
  return parseValidationOutput(result.stdout ?? '', detail, result.exitCode);
}
