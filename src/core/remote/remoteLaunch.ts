// Starting and stopping a run on a remote host (design: remote runs; contract 5 for the run
// folder, `<work folder>/runs/<run id>/`). One ssh call claims the run folder, writes the
// config snapshot from stdin, and starts the trainer detached (`setsid nohup`) under the same
// supervisor as local runs, so it survives the editor and the link. Secrets come first on
// stdin, as `NAME=value` lines, and reach the trainer's environment only: never its argv, a
// file, or the ssh command line. No `vscode`.

import { posix } from 'node:path';
import { configStem } from '../runDir';
import { ATTEMPT_MARKER } from '../runWatch';
import { SUPERVISOR_SCRIPT } from '../trainerCommand';
import { shellCommand, shellQuote } from './shellQuote';
import { runSsh, SshError } from './ssh';
import type { SshHost } from './ssh';
import { remotePath } from './targetCheck';

export interface RemoteLaunchOptions {
  readonly host: SshHost;
  /** The target's work folder (`~` allowed); relative paths in the config resolve against it. */
  readonly workFolder: string;
  /** The trainer's interpreter on the host (from ensureRemoteEnv). */
  readonly python: string;
  /** The synced trainer's folder on the host (from syncTrainer). */
  readonly trainerFolder: string;
  /** The config's text; its paths are paths on the host. */
  readonly configText: string;
  /** The local config file's name, for the run id. */
  readonly configName: string;
  /** The run id to use (the local mirror folder claimed it); else one is made from the time. */
  readonly runId?: string;
  /** Training processes (more than one: `accelerate launch`) and GPU indices, from `launch`. */
  readonly numProcesses?: number;
  readonly gpus?: readonly number[] | null;
  /** Environment for the trainer (tokens): sent over stdin. */
  readonly secrets?: Readonly<Record<string, string>>;
  readonly now?: Date;
}

export interface RemoteRun {
  readonly runId: string;
  /** The run folder on the host, absolute. */
  readonly runDir: string;
  /** The supervisor's pid: it leads the run's process group on the host. */
  readonly pid: number;
  /** Its start time in clock ticks (/proc/<pid>/stat), to tell it from a reused pid; null without /proc. */
  readonly startTime: number | null;
}

/**
 * The launcher, for `sh -c`: $1 run folder, $2 python, $3 trainer src, $4 run id, $5 supervisor,
 * $6 base folder, $7 processes, $8 CUDA_VISIBLE_DEVICES ('' leaves it alone), $9 attempt,
 * $10 `--resume-from` ('' for a new run). A new run claims its folder (exit 17: taken) and gets
 * the config from stdin after the secrets; a resume goes on in the folder (exit 18: gone), from
 * the snapshot there, appending to stdout.log after a marker line, as a local resume does.
 */
const LAUNCH_SCRIPT = String.raw`set -e
dir=$1 python=$2 src=$3 run_id=$4 supervisor=$5 base=$6 procs=$7 cuda=$8 attempt=$9 resume=${'${10}'}
if [ -z "$resume" ]; then
  mkdir -p "$(dirname "$dir")"
  mkdir "$dir" 2>/dev/null || exit 17
else
  [ -d "$dir" ] || exit 18
fi
dir=$(cd "$dir" && pwd -P)
mkdir -p "$base"
base=$(cd "$base" && pwd -P)
while IFS= read -r line; do
  [ "$line" = "--" ] && break
  export "$line"
done
# A config that does not fit (the disk full) gives the claimed folder back: no empty run is left.
if [ -z "$resume" ]; then cat > "$dir/config.sft.yaml" || { rm -rf "$dir"; exit 1; }; else cat > /dev/null; fi
cd "$dir"
PYTHONPATH=$src
PYTHONUNBUFFERED=1
export PYTHONPATH PYTHONUNBUFFERED
if [ -n "$cuda" ]; then CUDA_VISIBLE_DEVICES=$cuda; export CUDA_VISIBLE_DEVICES; fi
set -- "$dir/exit.json" "$attempt" "$python"
if [ "$procs" -gt 1 ]; then set -- "$@" -m accelerate.commands.launch --multi_gpu --num_processes "$procs" --num_machines 1; fi
set -- "$@" -m medvlm_sft train "$dir/config.sft.yaml" --run-dir "$dir" --run-id "$run_id" --base-dir "$base"
events=0
[ -f "$dir/events.jsonl" ] && events=$(wc -c < "$dir/events.jsonl" | tr -d ' ')
detach=
command -v setsid >/dev/null 2>&1 && detach=setsid
if [ -z "$resume" ]; then
  $detach nohup /bin/sh -c "$supervisor" medvlm-supervisor "$@" > "$dir/stdout.log" 2>&1 < /dev/null &
else
  printf '\n%s%s: resuming from %s\n' ${shellQuote(ATTEMPT_MARKER)} "$attempt" "$resume" >> "$dir/stdout.log"
  $detach nohup /bin/sh -c "$supervisor" medvlm-supervisor "$@" --resume-from "$resume" --attempt "$attempt" >> "$dir/stdout.log" 2>&1 < /dev/null &
fi
pid=$!
start=
[ -r "/proc/$pid/stat" ] && start=$(sed 's/.*) //' "/proc/$pid/stat" | cut -d' ' -f20)
echo "pid=$pid"
echo "start=$start"
echo "events=$events"
echo "dir=$dir"`;

const SECRET_NAME = /^[A-Z_][A-Z0-9_]*$/;

/** `YYYYMMDD-HHMMSS-<config stem>` in UTC (the host's clock and zone are not ours to know). */
function runIdBase(configName: string, now: Date): string {
  const iso = now.toISOString();
  return `${iso.slice(0, 10).replace(/-/g, '')}-${iso.slice(11, 19).replace(/:/g, '')}-${configStem(configName)}`;
}

/** Says whether a remote start failed only because its run folder exists (exit status 17). */
export function isRunIdTaken(err: unknown): boolean {
  return err instanceof SshError && err.kind === 'command' && err.exitCode === 17;
}

export async function startRemoteRun(options: RemoteLaunchOptions): Promise<RemoteRun> {
  const launchOnce = async (runId: string): Promise<RemoteRun> => {
    const launched = await runLaunchScript(options, { runDir: posix.join(options.workFolder, 'runs', runId), runId, attempt: 1, resumeFrom: '', configText: options.configText });
    return { runId, runDir: launched.runDir, pid: launched.pid, startTime: launched.startTime };
  };
  if (options.runId !== undefined) return launchOnce(options.runId);
  const base = runIdBase(options.configName, options.now ?? new Date());
  for (let n = 1; n < 100; n += 1) {
    try {
      return await launchOnce(n === 1 ? base : `${base}-${n}`);
    } catch (err) {
      // That run folder exists already (two starts in one second): take the next id.
      if (isRunIdTaken(err)) continue;
      throw err;
    }
  }
  throw new Error(`no free run id for ${base} in ${options.workFolder}/runs`);
}

export interface RemoteResumeOptions extends Omit<RemoteLaunchOptions, 'configText' | 'configName' | 'runId' | 'now'> {
  readonly runId: string;
  /** The run folder on the host, absolute. */
  readonly runDir: string;
  /** The attempt this start is (2 and up). */
  readonly attempt: number;
  /** `latest`, or a checkpoint folder on the host. */
  readonly resumeFrom: string;
}

export interface RemoteResume {
  readonly pid: number;
  readonly startTime: number | null;
  /** Size of the host's events.jsonl when the attempt started: its own events come after. */
  readonly eventsOffset: number;
}

/** Starts the trainer again in the run's folder on the host, from a checkpoint, detached. */
export async function resumeRemoteRun(options: RemoteResumeOptions): Promise<RemoteResume> {
  try {
    const launched = await runLaunchScript(options, { runDir: options.runDir, runId: options.runId, attempt: options.attempt, resumeFrom: options.resumeFrom, configText: '' });
    return { pid: launched.pid, startTime: launched.startTime, eventsOffset: launched.eventsOffset };
  } catch (err) {
    if (err instanceof SshError && err.kind === 'command' && err.exitCode === 18) {
      throw new Error(`the run folder ${options.runDir} is no longer on ${options.host.alias}`);
    }
    throw err;
  }
}

interface LaunchParams {
  readonly runDir: string;
  readonly runId: string;
  readonly attempt: number;
  readonly resumeFrom: string;
  readonly configText: string;
}

async function runLaunchScript(
  options: Pick<RemoteLaunchOptions, 'host' | 'workFolder' | 'python' | 'trainerFolder' | 'numProcesses' | 'gpus' | 'secrets'>,
  params: LaunchParams,
): Promise<{ runDir: string; pid: number; startTime: number | null; eventsOffset: number }> {
  const lines: string[] = [];
  for (const [name, value] of Object.entries(options.secrets ?? {})) {
    if (!SECRET_NAME.test(name) || /[\r\n\0]/.test(value)) throw new Error(`the environment variable ${name} cannot be sent to the host (a name of capitals, or a value with a line break)`);
    lines.push(`${name}=${value}`);
  }
  const stdin = `${lines.join('\n')}${lines.length > 0 ? '\n' : ''}--\n${params.configText}`;
  const gpus = options.gpus ?? null;
  const procs = Math.max(1, Math.floor(options.numProcesses ?? 1));
  const words = [
    remotePath(params.runDir),
    remotePath(options.python),
    remotePath(posix.join(options.trainerFolder, 'python', 'src')),
    shellQuote(params.runId),
    shellQuote(SUPERVISOR_SCRIPT),
    remotePath(options.workFolder),
    String(procs),
    shellQuote(gpus === null ? '' : gpus.join(',')),
    String(params.attempt),
    shellQuote(params.resumeFrom),
  ];
  const command = `sh -c ${shellQuote(LAUNCH_SCRIPT)} medvlm-launch ${words.join(' ')}`;
  const { stdout } = await runSsh(options.host, command, { stdin, timeoutMs: 60_000 });
  const said = (key: string): string | undefined => new RegExp(`^${key}=(.*)$`, 'm').exec(stdout)?.[1];
  const pid = Number(said('pid'));
  const dir = said('dir') ?? '';
  if (!Number.isInteger(pid) || pid <= 0 || !dir.startsWith('/')) throw new Error(`the host did not say the trainer's pid and folder (${stdout.trim().slice(0, 200)})`);
  const start = Number(said('start'));
  const events = Number(said('events'));
  return { runDir: dir, pid, startTime: said('start') && Number.isInteger(start) ? start : null, eventsOffset: Number.isInteger(events) ? events : 0 };
}

/** Shell test: the process `$pid` lives and, when `$start` is set, started at that tick. */
export const ALIVE_TEST = String.raw`kill -0 "$pid" 2>/dev/null && { [ -z "$start" ] || [ ! -r "/proc/$pid/stat" ] || [ "$(sed 's/.*) //' "/proc/$pid/stat" | cut -d' ' -f20)" = "$start" ]; }`;

/** Whether the run's process group still has its leader on the host (the same process, when its start time is known). */
export async function remoteRunAlive(host: SshHost, pid: number, startTime: number | null = null): Promise<boolean> {
  const script = `pid=$1 start=$2\nif ${ALIVE_TEST}; then echo alive; fi`;
  const { stdout } = await runSsh(host, `sh -c ${shellQuote(script)} medvlm-alive ${pid} ${shellQuote(startTime === null ? '' : String(startTime))}`, { timeoutMs: 30_000 });
  return stdout.trim() === 'alive';
}

/**
 * Stops a run as a local stop does: SIGTERM to its process group (the trainer checkpoints and
 * ends `stopped`), SIGKILL after `graceSeconds` if it is still there. Says how it ended.
 */
export async function stopRemoteRun(host: SshHost, pid: number, graceSeconds: number, startTime: number | null = null): Promise<'terminated' | 'killed' | 'not-running'> {
  // `kill -SIG -PGID`: dash's kill takes no `--`. A pid that now names another process
  // (the run ended long ago, the pid was reused) is left alone.
  const script = String.raw`pid=$1 grace=$2 start=$3
${ALIVE_TEST} || { echo not-running; exit 0; }
kill -TERM "-$pid" 2>/dev/null || kill -TERM "$pid"
i=0
while kill -0 "$pid" 2>/dev/null; do
  if [ "$i" -ge "$((grace * 10))" ]; then kill -KILL "-$pid" 2>/dev/null || kill -KILL "$pid"; echo killed; exit 0; fi
  sleep 0.1; i=$((i + 1))
done
echo terminated`;
  const { stdout } = await runSsh(host, `sh -c ${shellCommand([script])} medvlm-stop ${pid} ${Math.max(0, Math.round(graceSeconds))} ${shellQuote(startTime === null ? '' : String(startTime))}`, { timeoutMs: (graceSeconds + 30) * 1000 });
  const said = stdout.trim();
  return said === 'killed' || said === 'not-running' ? said : 'terminated';
}
