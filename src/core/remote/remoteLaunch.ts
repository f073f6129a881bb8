// Starting and stopping a run on a remote host (design: remote runs; contract 5 for the run
// folder, `<work folder>/runs/<run id>/`). One ssh call claims the run folder, writes the
// config snapshot from stdin, and starts the trainer detached (`setsid nohup`) under the same
// supervisor as local runs, so it survives the editor and the link. Secrets come first on
// stdin, as `NAME=value` lines, and reach the trainer's environment only: never its argv, a
// file, or the ssh command line. No `vscode`.

import { posix } from 'node:path';
import { configStem } from '../runDir';
import { SUPERVISOR_SCRIPT } from '../trainerCommand';
import { shellCommand, shellQuote } from './shellQuote';
import { runSsh, SshError } from './ssh';
import type { SshHost } from './ssh';
import { remotePath } from './targetCheck';

export interface RemoteLaunchOptions {
  readonly host: SshHost;
  /** The target's work folder (`~` allowed). */
  readonly workFolder: string;
  /** The trainer's interpreter on the host (from ensureRemoteEnv). */
  readonly python: string;
  /** The synced trainer's folder on the host (from syncTrainer). */
  readonly trainerFolder: string;
  /** The config's text; its paths are paths on the host. */
  readonly configText: string;
  /** The local config file's name, for the run id. */
  readonly configName: string;
  /** Environment for the trainer (tokens): sent over stdin. */
  readonly secrets?: Readonly<Record<string, string>>;
  readonly now?: Date;
}

export interface RemoteRun {
  readonly runId: string;
  /** The run folder on the host, as written from the work folder (`~` kept). */
  readonly runDir: string;
  /** The supervisor's pid: it leads the run's process group on the host. */
  readonly pid: number;
}

/** The launcher, for `sh -c`: $1 run folder, $2 python, $3 trainer src, $4 run id, $5 supervisor. */
const LAUNCH_SCRIPT = String.raw`set -e
dir=$1 python=$2 src=$3 run_id=$4 supervisor=$5
mkdir -p "$(dirname "$dir")"
mkdir "$dir" 2>/dev/null || exit 17
while IFS= read -r line; do
  [ "$line" = "--" ] && break
  export "$line"
done
cat > "$dir/config.sft.yaml"
cd "$dir"
PYTHONPATH=$src
export PYTHONPATH
detach=
command -v setsid >/dev/null 2>&1 && detach=setsid
$detach nohup /bin/sh -c "$supervisor" medvlm-supervisor "$dir/exit.json" 1 "$python" -m medvlm_sft train "$dir/config.sft.yaml" --run-dir "$dir" --run-id "$run_id" --base-dir "$dir" > "$dir/stdout.log" 2>&1 < /dev/null &
echo "pid=$!"`;

const SECRET_NAME = /^[A-Z_][A-Z0-9_]*$/;

/** `YYYYMMDD-HHMMSS-<config stem>` in UTC (the host's clock and zone are not ours to know). */
function runIdBase(configName: string, now: Date): string {
  const iso = now.toISOString();
  return `${iso.slice(0, 10).replace(/-/g, '')}-${iso.slice(11, 19).replace(/:/g, '')}-${configStem(configName)}`;
}

export async function startRemoteRun(options: RemoteLaunchOptions): Promise<RemoteRun> {
  const lines: string[] = [];
  for (const [name, value] of Object.entries(options.secrets ?? {})) {
    if (!SECRET_NAME.test(name) || /[\r\n\0]/.test(value)) throw new Error(`the environment variable ${name} cannot be sent to the host (a name of capitals, or a value with a line break)`);
    lines.push(`${name}=${value}`);
  }
  const stdin = `${lines.join('\n')}${lines.length > 0 ? '\n' : ''}--\n${options.configText}`;
  const base = runIdBase(options.configName, options.now ?? new Date());
  for (let n = 1; n < 100; n += 1) {
    const runId = n === 1 ? base : `${base}-${n}`;
    const runDir = posix.join(options.workFolder, 'runs', runId);
    const words = [remotePath(runDir), remotePath(options.python), remotePath(posix.join(options.trainerFolder, 'python', 'src')), shellQuote(runId), shellQuote(SUPERVISOR_SCRIPT)];
    const command = `sh -c ${shellQuote(LAUNCH_SCRIPT)} medvlm-launch ${words.join(' ')}`;
    try {
      const { stdout } = await runSsh(options.host, command, { stdin, timeoutMs: 60_000 });
      const pid = Number(/pid=(\d+)/.exec(stdout)?.[1]);
      if (!Number.isInteger(pid) || pid <= 0) throw new Error(`the host did not say the trainer's pid (${stdout.trim().slice(0, 200)})`);
      return { runId, runDir, pid };
    } catch (err) {
      // 17: that run folder exists already (two starts in one second): take the next id.
      if (err instanceof SshError && err.kind === 'command' && err.exitCode === 17) continue;
      throw err;
    }
  }
  throw new Error(`no free run id for ${base} in ${options.workFolder}/runs`);
}

/** Whether the run's process group still has its leader on the host. */
export async function remoteRunAlive(host: SshHost, pid: number): Promise<boolean> {
  const { stdout } = await runSsh(host, `if kill -0 ${pid} 2>/dev/null; then echo alive; fi`, { timeoutMs: 30_000 });
  return stdout.trim() === 'alive';
}

/**
 * Stops a run as a local stop does: SIGTERM to its process group (the trainer checkpoints and
 * ends `stopped`), SIGKILL after `graceSeconds` if it is still there. Says how it ended.
 */
export async function stopRemoteRun(host: SshHost, pid: number, graceSeconds: number): Promise<'terminated' | 'killed' | 'not-running'> {
  // `kill -SIG -PGID`: dash's kill takes no `--`.
  const script = String.raw`pid=$1 grace=$2
kill -0 "$pid" 2>/dev/null || { echo not-running; exit 0; }
kill -TERM "-$pid" 2>/dev/null || kill -TERM "$pid"
i=0
while kill -0 "$pid" 2>/dev/null; do
  if [ "$i" -ge "$((grace * 10))" ]; then kill -KILL "-$pid" 2>/dev/null || kill -KILL "$pid"; echo killed; exit 0; fi
  sleep 0.1; i=$((i + 1))
done
echo terminated`;
  const { stdout } = await runSsh(host, `sh -c ${shellCommand([script])} medvlm-stop ${pid} ${Math.max(0, Math.round(graceSeconds))}`, { timeoutMs: (graceSeconds + 30) * 1000 });
  const said = stdout.trim();
  return said === 'killed' || said === 'not-running' ? said : 'terminated';
}
