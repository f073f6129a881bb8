// The Hugging Face login on a remote host (design: remote runs). A SLURM job cannot get the
// token on stdin (the controller stores the job's environment), so it reads the user's own
// login there, as `huggingface-cli login` would have left it: the file huggingface_hub reads
// ($HF_TOKEN_PATH, else $HF_HOME/token, else ~/.cache/huggingface/token), mode 0600 from the
// moment it exists (umask 077), moved into place whole. The token travels on ssh's stdin only,
// and on the host it stays in the shell (read, [ and printf are built in): never in an argv.
// No `vscode`.

import { shellQuote } from './shellQuote';
import { runSsh, SshError } from './ssh';
import type { SshHost } from './ssh';
import { remotePath } from './targetCheck';

/**
 * `missing`: no login file (or an empty one); `present`: one, not compared (no token given);
 * `same` / `other`: it holds the given token / another one.
 */
export type HubLoginState = 'missing' | 'present' | 'same' | 'other';

export interface HubLogin {
  /** The login file on the host, as the host's shell spells it. */
  readonly file: string;
  readonly state: HubLoginState;
  /** Its permission bits (`600`), when it exists. */
  readonly mode?: string;
  /** Whether the model `base` names is a folder on the host (from the work folder); undefined when not asked. */
  readonly baseIsFolder?: boolean;
}

/** $1 check|write, $2 work folder, $3 a model base to look for ('' for none); the token on stdin. */
const LOGIN_SCRIPT = String.raw`umask 077
if [ -n "${'${HF_TOKEN_PATH:-}'}" ]; then file=$HF_TOKEN_PATH; else file=${'${HF_HOME:-$HOME/.cache/huggingface}'}/token; fi
echo "file=$file"
token=
IFS= read -r token || true
if [ "$1" = write ]; then
  [ -n "$token" ] || { echo 'no token came on stdin' >&2; exit 2; }
  mkdir -p "$(dirname "$file")"
  tmp="$file.medvlm-$$"
  if ! { printf '%s' "$token" > "$tmp" && chmod 600 "$tmp" && mv -f "$tmp" "$file"; }; then rm -f "$tmp"; exit 3; fi
fi
if [ ! -s "$file" ]; then echo state=missing
elif [ -z "$token" ]; then echo state=present
elif [ "$(cat "$file")" = "$token" ]; then echo state=same
else echo state=other; fi
[ -e "$file" ] && echo "mode=$(stat -c %a "$file" 2>/dev/null)"
if [ -n "$3" ]; then
  cd "$2" 2>/dev/null || true
  if [ -d "$3" ]; then echo base=folder; else echo base=hub; fi
fi
exit 0`;

function parse(stdout: string): HubLogin {
  const said = (key: string): string | undefined => new RegExp(`^${key}=(.*)$`, 'm').exec(stdout)?.[1]?.trim();
  const state = said('state');
  const file = said('file');
  if (file === undefined || !['missing', 'present', 'same', 'other'].includes(state ?? '')) {
    throw new Error(`the host did not say where its Hugging Face login is (${stdout.trim().slice(0, 200)})`);
  }
  const mode = said('mode');
  const base = said('base');
  return { file, state: state as HubLoginState, ...(mode ? { mode } : {}), ...(base !== undefined ? { baseIsFolder: base === 'folder' } : {}) };
}

function command(mode: 'check' | 'write', workFolder: string, base: string): string {
  const path = base.startsWith('~') ? remotePath(base) : shellQuote(base);
  return `sh -c ${shellQuote(LOGIN_SCRIPT)} medvlm-hub-login ${mode} ${remotePath(workFolder)} ${path}`;
}

/**
 * What the host has: its login file and state (compared with `token` when one is given), and,
 * with `base`, whether that model is a folder there (else the job downloads it from the Hub).
 */
export async function hubLoginOnHost(host: SshHost, options: { readonly token?: string; readonly workFolder?: string; readonly base?: string } = {}): Promise<HubLogin> {
  const { stdout } = await runSsh(host, command('check', options.workFolder ?? '~', options.base ?? ''), { stdin: `${options.token ?? ''}\n`, timeoutMs: 30_000 });
  return parse(stdout);
}

/** Writes `token` as the host's Hugging Face login (0600, replacing one there); says where. */
export async function writeHubLoginOnHost(host: SshHost, token: string): Promise<HubLogin> {
  if (token === '' || /[\r\n]/.test(token)) throw new Error('the Hugging Face token is empty or holds a line break');
  try {
    const { stdout } = await runSsh(host, command('write', '~', ''), { stdin: `${token}\n`, timeoutMs: 30_000 });
    return parse(stdout);
  } catch (err) {
    if (err instanceof SshError && err.kind === 'command' && err.exitCode === 3) {
      throw new Error(`the Hugging Face login could not be written on ${host.alias} (is its home folder full or read-only?)`);
    }
    throw err;
  }
}
