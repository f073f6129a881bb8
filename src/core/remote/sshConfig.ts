// The hosts a user can pick as targets: the concrete `Host` names of their ssh config, with
// its `Include`s followed as ssh does (relative paths against ~/.ssh, globs expanded, at most
// 16 deep). Patterns (`*`, `?`, `!negated`) name no host to pick and are left out. Only the
// names are read here; what a host resolves to is ssh's business (`ssh -G`). No `vscode`.

import { readdir, readFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';

const MAX_INCLUDE_DEPTH = 16;

export function defaultSshConfig(): string {
  return path.join(os.homedir(), '.ssh', 'config');
}

/** Splits a config line into words, honouring double quotes as ssh does. */
function words(line: string): string[] {
  const out: string[] = [];
  const re = /"([^"]*)"|(\S+)/g;
  let m: RegExpExecArray | null;
  while ((m = re.exec(line)) !== null) out.push(m[1] ?? m[2] ?? '');
  return out;
}

/** Files a glob names (`*` and `?` in the last part only, as users write them). */
async function expand(pattern: string): Promise<string[]> {
  const dir = path.dirname(pattern);
  const base = path.basename(pattern);
  if (!/[*?]/.test(base)) return [pattern];
  const re = new RegExp(`^${base.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.')}$`);
  try {
    return (await readdir(dir)).filter((name) => re.test(name)).sort().map((name) => path.join(dir, name));
  } catch {
    return [];
  }
}

/** The concrete host names of `file` and what it includes, in order, each once. */
export async function sshConfigHosts(file: string = defaultSshConfig()): Promise<string[]> {
  const sshDir = path.join(os.homedir(), '.ssh');
  const hosts: string[] = [];
  const seen = new Set<string>();
  const visit = async (current: string, depth: number): Promise<void> => {
    if (depth > MAX_INCLUDE_DEPTH) return;
    let text: string;
    try {
      text = await readFile(current, 'utf8');
    } catch {
      return; // A missing include is not an error to ssh either.
    }
    for (const raw of text.split(/\r?\n/)) {
      const line = raw.trim();
      if (line === '' || line.startsWith('#')) continue;
      const [keyword = '', ...rest] = words(line.replace(/^(\S+)\s*=\s*/, '$1 '));
      const key = keyword.toLowerCase();
      if (key === 'host') {
        for (const name of rest) {
          if (/[*?!]/.test(name) || seen.has(name)) continue;
          seen.add(name);
          hosts.push(name);
        }
      } else if (key === 'include') {
        for (const entry of rest) {
          const resolved = entry.startsWith('~') ? path.join(os.homedir(), entry.slice(1)) : path.isAbsolute(entry) ? entry : path.join(sshDir, entry);
          for (const included of await expand(resolved)) await visit(included, depth + 1);
        }
      }
    }
  };
  await visit(file, 0);
  return hosts;
}
