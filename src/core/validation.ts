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

/**
 * `data` of `validate --check-data --json`: samples after the split and limits, per source
 * and in total; null where the records could not be counted cheaply.
 */
export interface DataSizes {
  readonly train: number | null;
  readonly val: number | null;
  /** False when a number is an estimate (e.g. grouping by volume needs every record). */
  readonly exact: boolean;
  readonly sources: readonly SourceSizes[];
}

export interface SourceSizes {
  readonly name: string;
  readonly records: number | null;
  readonly train: number | null;
  readonly val: number | null;
}

export type ValidationResult =
  | { readonly kind: 'report'; readonly ok: boolean; readonly problems: readonly ValidationProblem[]; readonly data?: DataSizes }
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
  const data = toDataSizes((raw as { data?: unknown }).data);
  return data === undefined ? { kind: 'report', ok, problems } : { kind: 'report', ok, problems, data };
}

const count = (x: unknown): number | null => (Number.isInteger(x) && (x as number) >= 0 ? (x as number) : null);

function toDataSizes(raw: unknown): DataSizes | undefined {
  if (typeof raw !== 'object' || raw === null || !Array.isArray((raw as { sources?: unknown }).sources)) {
    return undefined;
  }
  const r = raw as Record<string, unknown>;
  const sources = (r.sources as unknown[]).flatMap((s): SourceSizes[] => {
    if (typeof s !== 'object' || s === null) return [];
    const x = s as Record<string, unknown>;
    return [{ name: str(x.name), records: count(x.records), train: count(x.train), val: count(x.val) }];
  });
  return { train: count(r.train), val: count(r.val), exact: r.exact === true, sources };
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
