// The log tail's error highlighting: Python tracebacks (from "Traceback (most recent call
// last):" through the exception line), exception lines, and lines at error level. Pure, so
// the rules are unit-tested; the view turns the segments into text nodes and spans.

export interface LogSegment {
  /** Whole lines, newlines included. */
  readonly text: string;
  readonly error: boolean;
}

/** torchrun and accelerate prefix each line of a rank with `[rank0]:`. */
const RANK_PREFIX = /^\[[^\]\n]*\]:? ?/;
const TRACEBACK_START = /^\s*Traceback \(most recent call last\):/;
/** Between chained tracebacks Python prints one of these, unindented. */
const CHAINED = /^(?:During handling of the above exception|The above exception was the direct cause)/;
/** Log levels as loggers print them: uppercase, as a word ("0 errors" is not one). */
const LEVEL = /\b(?:ERROR|CRITICAL|FATAL)\b/;
/** An exception's summary line: `torch.OutOfMemoryError: CUDA out of memory`. */
const EXCEPTION = /^\s*[A-Za-z_][\w.]*(?:Error|Exception|Interrupt)\b(?::|\s*$)/;
/** Tools' own errors: `error: ...`, `fatal: ...`. */
const TOOL_ERROR = /^\s*(?:error|fatal)(?:\[\w+\])?:/i;

function isErrorLine(body: string): boolean {
  return LEVEL.test(body) || EXCEPTION.test(body) || TOOL_ERROR.test(body);
}

/** Splits `text` into runs of ordinary and error lines. */
export function classifyLog(text: string): LogSegment[] {
  const segments: LogSegment[] = [];
  const lines = text.split(/(?<=\n)/);
  let inTraceback = false;
  let current: { text: string[]; error: boolean } | undefined;
  for (const line of lines) {
    const body = line.replace(/\r?\n$/, '').replace(RANK_PREFIX, '');
    let error: boolean;
    if (TRACEBACK_START.test(body) || CHAINED.test(body)) {
      inTraceback = true;
      error = true;
    } else if (inTraceback) {
      error = true;
      // Frames and source lines are indented; the first unindented line is the exception
      // itself, which ends the traceback (a blank line ends it too).
      if (body.trim() === '') {
        inTraceback = false;
        error = false;
      } else if (!/^\s/.test(body)) {
        inTraceback = false;
      }
    } else {
      error = isErrorLine(body);
    }
    if (current !== undefined && current.error === error) {
      current.text.push(line);
    } else {
      if (current !== undefined) segments.push({ text: current.text.join(''), error: current.error });
      current = { text: [line], error };
    }
  }
  if (current !== undefined) segments.push({ text: current.text.join(''), error: current.error });
  return segments.filter((segment) => segment.text.length > 0);
}
