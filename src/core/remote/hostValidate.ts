// The run config checked where it will run, before a remote run starts (design: remote runs).
// Its data stays on the host and its paths are host paths, so this machine cannot open them:
// the synced trainer's own `validate --check-data` runs there on the config text (stdin),
// anchored in the target's work folder as the run will be, and opens the records, tasks and
// model folder it names. A missing file is then named before any run folder or job exists,
// instead of minutes later in a failed run. No `vscode`.

import { describeProblem, parseValidationOutput } from '../validation';
import type { ValidationProblem, ValidationResult } from '../validation';
import { shellQuote } from './shellQuote';
import { runSsh } from './ssh';
import type { SshHost } from './ssh';
import { remotePath } from './targetCheck';

/** $1 work folder, $2 trainer src, $3 python, $4 config file name; the config on stdin. */
const VALIDATE_SCRIPT = String.raw`mkdir -p "$1" && cd "$1" || exit 21
PYTHONPATH=$2 "$3" -m medvlm_sft validate --check-data --json --stdin "$(pwd -P)/$4"
echo "medvlm-validate-exit=$?"`;

export interface HostValidateOptions {
  readonly python: string;
  /** The synced trainer's folder on the host. */
  readonly trainerFolder: string;
  readonly workFolder: string;
  readonly configText: string;
  /** The config's file name (messages name it; relative paths resolve from the work folder). */
  readonly configName: string;
  readonly signal?: AbortSignal;
}

/** The trainer's report on the config, made on the host. */
export async function validateOnHost(host: SshHost, options: HostValidateOptions): Promise<ValidationResult> {
  const src = remotePath(`${options.trainerFolder}/python/src`);
  const command = `sh -c ${shellQuote(VALIDATE_SCRIPT)} medvlm-validate ${remotePath(options.workFolder)} ${src} ${remotePath(options.python)} ${shellQuote(options.configName)}`;
  const { stdout, stderr } = await runSsh(host, command, { stdin: options.configText, timeoutMs: 300_000, ...(options.signal ? { signal: options.signal } : {}) });
  const exit = Number(/^medvlm-validate-exit=(\d+)$/m.exec(stdout)?.[1]);
  return parseValidationOutput(stdout.replace(/^medvlm-validate-exit=\d+$/m, ''), stderr, Number.isInteger(exit) ? exit : undefined);
}

/** The config's errors as the host's trainer found them, for a start that must not go on. */
export class HostConfigError extends Error {
  constructor(
    readonly target: string,
    readonly problems: readonly ValidationProblem[],
  ) {
    const [first] = problems;
    const more = problems.length > 1 ? ` (and ${problems.length - 1} more: ${problems.slice(1, 4).map(describeProblem).join('; ')})` : '';
    super(`the run config has errors on ${target}, so the run was not started: ${first ? describeProblem(first) : ''}${more}`);
    this.name = 'HostConfigError';
  }
}

/** Throws when the report has errors (or none could be made); warnings let the run go on. */
export function requireValidOnHost(target: string, result: ValidationResult): void {
  if (result.kind === 'unreadable') throw new Error(`the run config could not be checked on ${target}: ${result.message}`);
  const errors = result.problems.filter((p) => p.severity === 'error');
  if (errors.length > 0) throw new HostConfigError(target, errors);
}
