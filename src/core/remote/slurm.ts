// Runs on a SLURM cluster through its login host (design: remote runs): the run folder is
// claimed on the host as for an ssh run, a job script is generated and handed to `sbatch`
// over the same shared connection, the job's state comes from `squeue` (accounting, and so
// `sacct`, may be off: a finished job's outcome comes from the run folder's events), and a
// stop is `scancel` (SIGTERM to the job's processes, SIGKILL after the cluster's KillWait).
//
// Tokens cannot travel on stdin here: the controller stores the job's environment. The job
// reads the user's own Hugging Face login on the cluster (~/.cache/huggingface/token, 0600),
// and the job script holds no secret. No `vscode`.

import { posix } from 'node:path';
import { ATTEMPT_MARKER } from '../runWatch';
import { SUPERVISOR_SCRIPT } from '../trainerCommand';
import { shellQuote } from './shellQuote';
import { runSsh, SshError } from './ssh';
import type { SshHost } from './ssh';
import { remotePath } from './targetCheck';

/** A target's SLURM defaults, and a run's overrides (`launch.slurm`). */
export interface SlurmOptions {
  readonly partition?: string;
  readonly nodes?: number;
  readonly gpusPerNode?: number;
  readonly time?: string;
  readonly account?: string;
  /** More `#SBATCH` lines (the `#SBATCH` itself may be left out). */
  readonly extraSbatch?: readonly string[];
}

/** The run's overrides over the target's defaults; extra lines add up. */
export function mergeSlurmOptions(target: SlurmOptions, run: SlurmOptions): SlurmOptions {
  return {
    ...target,
    ...Object.fromEntries(Object.entries(run).filter(([key, value]) => key !== 'extraSbatch' && value !== undefined && value !== null)),
    extraSbatch: [...(target.extraSbatch ?? []), ...(run.extraSbatch ?? [])],
  };
}

/** SlurmOptions from a run record (run.json), fields of the wrong type left out. */
export function readSlurmOptions(raw: Readonly<Record<string, unknown>> | undefined): SlurmOptions {
  if (raw === undefined) return {};
  const text = (key: string): string | undefined => (typeof raw[key] === 'string' ? raw[key] : undefined);
  const count = (key: string): number | undefined => (Number.isInteger(raw[key]) ? (raw[key] as number) : undefined);
  const extra = Array.isArray(raw.extraSbatch) ? raw.extraSbatch.filter((line): line is string => typeof line === 'string') : [];
  const options: Record<string, unknown> = { partition: text('partition'), nodes: count('nodes'), gpusPerNode: count('gpusPerNode'), time: text('time'), account: text('account'), extraSbatch: extra };
  return Object.fromEntries(Object.entries(options).filter(([, value]) => value !== undefined)) as SlurmOptions;
}

const NAME = /^[A-Za-z0-9._,:+-]+$/;
const TIME = /^(\d+-)?\d+(:\d{1,2}){0,2}$/;

/** What is wrong with the options, in the words of the setting or config field; undefined when nothing. */
export function slurmOptionsProblem(options: SlurmOptions): string | undefined {
  if (options.partition !== undefined && !NAME.test(options.partition)) return `the SLURM partition "${options.partition}" is not a partition name`;
  if (options.account !== undefined && !NAME.test(options.account)) return `the SLURM account "${options.account}" is not an account name`;
  if (options.time !== undefined && !TIME.test(options.time)) return `the SLURM time limit "${options.time}" is not a time like 24:00:00 or 2-00:00:00`;
  if (options.nodes !== undefined && (!Number.isInteger(options.nodes) || options.nodes < 1)) return `the SLURM node count ${options.nodes} is not a whole number of nodes (1 or more)`;
  for (const line of options.extraSbatch ?? []) {
    if (/[\r\n\0]/.test(line)) return 'an extra #SBATCH line holds a line break';
    const body = line.replace(/^#SBATCH\s+/, '');
    if (!body.startsWith('-')) return `the extra #SBATCH line "${line}" is not an sbatch option (it starts with -)`;
  }
  return undefined;
}

export interface JobScriptInput {
  readonly runId: string;
  /** The trainer's interpreter and the synced trainer's folder on the host. */
  readonly python: string;
  readonly trainerFolder: string;
  /** The target's work folder: relative paths of the config resolve against it. */
  readonly workFolder: string;
  readonly slurm: SlurmOptions;
  /** Training processes when the job has no GPUs per node set. */
  readonly numProcesses: number;
  readonly attempt: number;
  /** `--resume-from`, for a resumed run. */
  readonly resumeFrom?: string;
}

/**
 * The job script. It runs in the run folder (sbatch's working directory is where it was
 * submitted), appends its output to stdout.log, and starts the trainer under the same
 * supervisor as every other run, so exit.json says how it ended.
 */
export function jobScript(input: JobScriptInput): string {
  const problem = slurmOptionsProblem(input.slurm);
  if (problem !== undefined) throw new Error(problem);
  const { slurm } = input;
  const nodes = slurm.nodes ?? 1;
  // Processes per node: one per GPU, else launch.num_processes spread over the nodes.
  const perNode = slurm.gpusPerNode !== undefined && slurm.gpusPerNode > 0 ? slurm.gpusPerNode : Math.max(1, Math.ceil(input.numProcesses / nodes));
  const sbatch = [
    `--job-name=medvlm-${input.runId}`,
    '--output=stdout.log',
    '--open-mode=append',
    `--nodes=${nodes}`,
    ...(nodes > 1 ? ['--ntasks-per-node=1'] : ['--ntasks=1']),
    ...(slurm.partition !== undefined ? [`--partition=${slurm.partition}`] : []),
    ...(slurm.account !== undefined ? [`--account=${slurm.account}`] : []),
    ...(slurm.time !== undefined ? [`--time=${slurm.time}`] : []),
    ...(slurm.gpusPerNode !== undefined && slurm.gpusPerNode > 0 ? [`--gpus-per-node=${slurm.gpusPerNode}`] : []),
    ...(slurm.extraSbatch ?? []).map((line) => line.replace(/^#SBATCH\s+/, '')),
  ];
  const train = [
    '-m',
    'medvlm_sft',
    'train',
    '"$dir/config.sft.yaml"',
    '--run-dir',
    '"$dir"',
    '--run-id',
    shellQuote(input.runId),
    '--base-dir',
    remotePath(input.workFolder),
    ...(input.resumeFrom !== undefined ? ['--resume-from', shellQuote(input.resumeFrom), '--attempt', String(input.attempt)] : []),
  ];
  const python = remotePath(input.python);
  const supervised = `exec /bin/sh -c ${shellQuote(SUPERVISOR_SCRIPT)} medvlm-supervisor "$dir/exit.json" ${input.attempt}`;
  const launch =
    nodes > 1
      ? [
          // One `accelerate launch` per node (srun: one task on each), each told its rank by
          // SLURM; rank 0 runs on this, the first node, reached at the address SLURM itself
          // uses for it (NodeAddr), on a port of the job's own.
          `head=$(scontrol show node "$SLURMD_NODENAME" -o 2>/dev/null | tr ' ' '\\n' | sed -n 's/^NodeAddr=//p')`,
          '[ -n "$head" ] || head=$(hostname)',
          'port=$((20000 + SLURM_JOB_ID % 20000))',
          // The node's task gets the CPUs asked per task (srun does not carry them over by itself
          // on every SLURM version); without --cpus-per-task, the cluster's default.
          `${supervised} srun --kill-on-bad-exit=1 --ntasks-per-node=1 \${SLURM_CPUS_PER_TASK:+--cpus-per-task=$SLURM_CPUS_PER_TASK} /bin/sh -c ${shellQuote('python=$1; shift; exec "$python" -m accelerate.commands.launch --machine_rank "$SLURM_NODEID" "$@"')} medvlm-node ${python} --multi_gpu --num_processes ${perNode * nodes} --num_machines ${nodes} --main_process_ip "$head" --main_process_port "$port" ${train.join(' ')}`,
        ]
      : [`${supervised} ${python} ${perNode > 1 ? `-m accelerate.commands.launch --multi_gpu --num_processes ${perNode} --num_machines 1 ` : ''}${train.join(' ')}`];
  return [
    '#!/bin/sh',
    ...sbatch.map((option) => `#SBATCH ${option}`),
    'dir=$(pwd -P)',
    `PYTHONPATH=${remotePath(posix.join(input.trainerFolder, 'python', 'src'))}`,
    'PYTHONUNBUFFERED=1',
    'export PYTHONPATH PYTHONUNBUFFERED',
    // A resumed attempt's output follows a marker line in stdout.log, as a local resume's does.
    ...(input.resumeFrom !== undefined ? [`printf '\\n%s%s: resuming from %s\\n' ${shellQuote(ATTEMPT_MARKER)} ${input.attempt} ${shellQuote(input.resumeFrom)}`] : []),
    ...launch,
    '',
  ].join('\n');
}

/** The submitter, for `sh -c`: $1 run folder, $2 job script; the config comes on stdin. */
const SUBMIT_SCRIPT = String.raw`set -e
dir=$1 job=$2
mkdir -p "$(dirname "$dir")"
mkdir "$dir" 2>/dev/null || exit 17
cat > "$dir/config.sft.yaml"
printf '%s' "$job" > "$dir/job.sh"
cd "$dir"
if ! id=$(sbatch --parsable job.sh 2>"$dir/.sbatch.err"); then cat "$dir/.sbatch.err" >&2; rm -f "$dir/.sbatch.err"; exit 19; fi
rm -f "$dir/.sbatch.err"
echo "job=${'${id%%;*}'}"
echo "dir=$(pwd -P)"`;

export interface SubmittedJob {
  readonly jobId: string;
  /** The run folder on the host, absolute. */
  readonly runDir: string;
}

/** Claims the run folder on the host, writes the config and job script there, and submits it. */
export async function submitSlurmRun(host: SshHost, runDir: string, configText: string, script: string): Promise<SubmittedJob> {
  let stdout: string;
  try {
    ({ stdout } = await runSsh(host, `sh -c ${shellQuote(SUBMIT_SCRIPT)} medvlm-submit ${remotePath(runDir)} ${shellQuote(script)}`, { stdin: configText, timeoutMs: 120_000 }));
  } catch (err) {
    if (err instanceof SshError && err.kind === 'command' && err.exitCode === 19) {
      throw new Error(`sbatch on ${host.alias} refused the job: ${err.message.replace(/^.*?: /, '')}`);
    }
    throw err;
  }
  const jobId = /^job=(\d+)/m.exec(stdout)?.[1];
  const dir = /^dir=(.+)$/m.exec(stdout)?.[1] ?? '';
  if (jobId === undefined || !dir.startsWith('/')) throw new Error(`sbatch on ${host.alias} did not say the job id (${stdout.trim().slice(0, 200)})`);
  return { jobId, runDir: dir };
}

/**
 * The resubmitter, for `sh -c`: $1 run folder (exit 18: gone), $2 job script, $3 attempt. The
 * script is kept as job-<attempt>.sh beside the first's job.sh; prints the job id and the size
 * of events.jsonl before the attempt (its own events come after that byte).
 */
const RESUBMIT_SCRIPT = String.raw`set -e
dir=$1 job=$2 attempt=$3
[ -d "$dir" ] || exit 18
cd "$dir"
events=0
[ -f events.jsonl ] && events=$(wc -c < events.jsonl | tr -d ' ')
printf '%s' "$job" > "job-$attempt.sh"
if ! id=$(sbatch --parsable "job-$attempt.sh" 2>.sbatch.err); then cat .sbatch.err >&2; rm -f .sbatch.err; exit 19; fi
rm -f .sbatch.err
echo "job=${'${id%%;*}'}"
echo "events=$events"`;

/** Submits the next attempt of a run in its folder on the cluster (a resume). */
export async function resubmitSlurmRun(host: SshHost, runDir: string, attempt: number, script: string): Promise<{ readonly jobId: string; readonly eventsOffset: number }> {
  let stdout: string;
  try {
    ({ stdout } = await runSsh(host, `sh -c ${shellQuote(RESUBMIT_SCRIPT)} medvlm-resubmit ${remotePath(runDir)} ${shellQuote(script)} ${attempt}`, { timeoutMs: 120_000 }));
  } catch (err) {
    if (err instanceof SshError && err.kind === 'command' && err.exitCode === 19) {
      throw new Error(`sbatch on ${host.alias} refused the job: ${err.message.replace(/^.*?: /, '')}`);
    }
    if (err instanceof SshError && err.kind === 'command' && err.exitCode === 18) {
      throw new Error(`the run's folder ${runDir} is gone from ${host.alias}: there is nothing to resume there.`);
    }
    throw err;
  }
  const jobId = /^job=(\d+)/m.exec(stdout)?.[1];
  const events = Number(/^events=(\d+)$/m.exec(stdout)?.[1]);
  if (jobId === undefined) throw new Error(`sbatch on ${host.alias} did not say the job id (${stdout.trim().slice(0, 200)})`);
  return { jobId, eventsOffset: Number.isInteger(events) ? events : 0 };
}

/** States of a job that has not ended (squeue's long names). */
export const ACTIVE_JOB_STATES: ReadonlySet<string> = new Set(['PENDING', 'CONFIGURING', 'RUNNING', 'COMPLETING', 'SUSPENDED', 'REQUEUED', 'REQUEUE_HOLD', 'REQUEUE_FED', 'RESIZING', 'SIGNALING', 'STAGE_OUT', 'STOPPED']);

export interface JobState {
  /** squeue's state (PENDING, RUNNING, ...), or `GONE` once squeue no longer knows the job. */
  readonly state: string;
  /** Why it is pending (Resources, Priority, ...), when it is. */
  readonly reason?: string;
}

/** Shell lines that print `queue=STATE|REASON` for the job `$job` (`queue=GONE|` when squeue does not know it). */
export const QUEUE_LINES = String.raw`q=$(squeue -h -j "$job" -o '%T|%r' 2>/dev/null | head -n 1)
echo "queue=${'${q:-GONE|}'}"`;

export function parseQueueLine(value: string): JobState {
  const [state = 'GONE', reason = ''] = value.trim().split('|');
  const clean = state.trim() === '' ? 'GONE' : state.trim();
  return { state: clean, ...(clean === 'PENDING' && reason.trim() !== '' && reason.trim() !== 'None' ? { reason: reason.trim() } : {}) };
}

export async function slurmJobState(host: SshHost, jobId: string): Promise<JobState> {
  const { stdout } = await runSsh(host, `sh -c ${shellQuote(`job=$1\n${QUEUE_LINES}`)} medvlm-queue ${shellQuote(jobId)}`, { timeoutMs: 30_000 });
  return parseQueueLine(/^queue=(.*)$/m.exec(stdout)?.[1] ?? '');
}

/**
 * Cancels the job: SIGTERM to its processes (the trainer checkpoints and ends `stopped`), and
 * the cluster's SIGKILL after its KillWait. Waits up to `graceSeconds` for the job to leave.
 */
export async function cancelSlurmRun(host: SshHost, jobId: string, graceSeconds: number): Promise<'terminated' | 'killed' | 'not-running'> {
  const script = String.raw`job=$1 grace=$2
state=$(squeue -h -j "$job" -o '%T' 2>/dev/null | head -n 1)
case "$state" in ''|COMPLETED|CANCELLED|FAILED|TIMEOUT|NODE_FAIL|PREEMPTED|OUT_OF_MEMORY|BOOT_FAIL|DEADLINE) echo not-running; exit 0;; esac
scancel "$job"
i=0
while state=$(squeue -h -j "$job" -o '%T' 2>/dev/null | head -n 1); [ -n "$state" ] && [ "$state" != CANCELLED ] && [ "$state" != COMPLETED ] && [ "$state" != FAILED ]; do
  if [ "$i" -ge "$((grace * 10))" ]; then scancel --signal=KILL --full "$job"; echo killed; exit 0; fi
  sleep 0.1; i=$((i + 1))
done
echo terminated`;
  const { stdout } = await runSsh(host, `sh -c ${shellQuote(script)} medvlm-cancel ${shellQuote(jobId)} ${Math.max(0, Math.round(graceSeconds))}`, { timeoutMs: (graceSeconds + 30) * 1000 });
  const said = stdout.trim().split('\n').at(-1) ?? '';
  return said === 'killed' || said === 'not-running' ? said : 'terminated';
}
