// The one quoting function for everything that reaches a remote shell (design: "shell
// quoting"): run names, paths and config values may hold spaces, quotes, `$()`, backticks,
// newlines and any unicode. POSIX single quotes take every byte literally except the single
// quote itself, which is closed, escaped and reopened. A NUL byte cannot be in an argument at
// all, so it is refused rather than silently cut. No `vscode`.

export class ShellQuoteError extends Error {}

/** `value` as one word of a POSIX shell command line (sh, bash, dash, zsh). */
export function shellQuote(value: string): string {
  if (value.includes('\0')) throw new ShellQuoteError('a NUL byte cannot be passed to a remote command');
  // Words made only of these characters mean the same quoted or not: keep commands readable.
  if (/^[A-Za-z0-9_@%+:,./-]+$/.test(value)) return value;
  return `'${value.replace(/'/g, `'\\''`)}'`;
}

/** A command line of quoted words. */
export function shellCommand(argv: readonly string[]): string {
  return argv.map(shellQuote).join(' ');
}
