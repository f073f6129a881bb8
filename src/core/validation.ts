// Reads what `medvlm_sft validate CONFIG --json` prints (design contract 7):
// `{"ok": bool, "problems": [{path, message, severity, code, line, column, end_line, end_column}]}`
// with 1-based positions and an exclusive end.

export type Severity = 'error' | 'warning';

export interface ValidationProblem {
  readonly path: string;
  readonly message: string;
  readonly severity: Severity;
  readonly code: string;
  readonly line: number;
  readonly column: number;
  readonly endLine: number;
  readonly endColumn: number;
}

export type ValidationResult =
  | { readonly kind: 'report'; readonly ok: boolean; readonly problems: readonly ValidationProblem[] }
  /** The command printed no report: a crash, a missing package, a wrong interpreter. */
  | { readonly kind: 'unreadable'; readonly message: string };

const posInt = (x: unknown, fallback: number): number => (Number.isInteger(x) && (x as number) >= 1 ? (x as number) : fallback);
const str = (x: unknown, fallback = ''): string => (typeof x === 'string' ? x : fallback);

function toProblem(raw: unknown): ValidationProblem | undefined {
  if (typeof raw !== 'object' || raw === null || typeof (raw as { message?: unknown }).message !== 'string') {
    return undefined;
  }
  const r = raw as Record<string, unknown>;
  const line = posInt(r.line, 1);
  const column = posInt(r.column, 1);
  return {
    path: str(r.path),
    message: str(r.message),
    severity: r.severity === 'warning' ? 'warning' : 'error',
    code: str(r.code, 'invalid'),
    line,
    column,
    endLine: posInt(r.end_line, line),
    endColumn: posInt(r.end_column, column + 1),
  };
}

function parseReport(text: string): ValidationResult | undefined {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (typeof raw !== 'object' || raw === null || !Array.isArray((raw as { problems?: unknown }).problems)) {
    return undefined;
  }
  const problems = ((raw as { problems: unknown[] }).problems).map(toProblem).filter((p): p is ValidationProblem => p !== undefined);
  const ok = (raw as { ok?: unknown }).ok === true && !problems.some((p) => p.severity === 'error');
  return { kind: 'report', ok, problems };
}

/**
 * The report in `stdout`. Tolerates stray lines around the JSON (a library printing a
 * warning); anything else becomes an `unreadable` result whose message says what went wrong.
 */
export function parseValidationOutput(stdout: string, stderr: string, exitCode: number | undefined): ValidationResult {
  const whole = parseReport(stdout.trim());
  if (whole !== undefined) {
    return whole;
  }
  const lines = stdout.split(/\r?\n/).filter((l) => l.trim().startsWith('{'));
  for (const line of lines.reverse()) {
    const report = parseReport(line.trim());
    if (report !== undefined) {
      return report;
    }
  }
  const detail = lastMeaningfulLine(stderr) ?? lastMeaningfulLine(stdout) ?? 'no output';
  const exit = exitCode === undefined ? 'did not exit normally' : `exited with code ${exitCode}`;
  return { kind: 'unreadable', message: `The trainer's validate command printed no report (${exit}): ${detail}` };
}

function lastMeaningfulLine(text: string): string | undefined {
  const lines = text
    .split(/\r?\n/)
    .map((l) => l.trim())
    .filter((l) => l.length > 0);
  return lines.length > 0 ? lines[lines.length - 1]!.slice(0, 300) : undefined;
}

export function describeProblem(problem: ValidationProblem): string {
  const where = problem.path ? `${problem.path}: ` : '';
  return `${where}${problem.message} (line ${problem.line})`;
}
