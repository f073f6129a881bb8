// A run's status is derived from its events and whether its process or job is alive
// (design contract 5); nothing stores it.

export const RUN_STATUSES = [
  'queued',
  'starting',
  'preparing_data',
  'loading_model',
  'training',
  'evaluating',
  'saving',
  'merging',
  'pushing',
  'finished',
  'failed',
  'stopped',
  'lost',
] as const;
export type RunStatus = (typeof RUN_STATUSES)[number];

export const TERMINAL_STATUSES: ReadonlySet<RunStatus> = new Set(['finished', 'failed', 'stopped', 'lost']);

export const STATUS_LABELS: Readonly<Record<RunStatus, string>> = {
  queued: 'queued',
  starting: 'starting',
  preparing_data: 'preparing data',
  loading_model: 'loading model',
  training: 'training',
  evaluating: 'evaluating',
  saving: 'saving',
  merging: 'merging',
  pushing: 'pushing',
  finished: 'finished',
  failed: 'failed',
  stopped: 'stopped',
  lost: 'lost',
};

/** What the run explorer and run panel show about a run besides its events. */
export interface RunSummary {
  readonly runId: string;
  readonly status: RunStatus;
  readonly step?: number;
  readonly maxSteps?: number;
  readonly epoch?: number;
  readonly etaS?: number | null;
  readonly samplesPerS?: number | null;
  readonly startedAt?: number;
  readonly lastEventAt?: number;
  /** First line of the trainer's error, when failed. */
  readonly error?: string;
  /**
   * Why the run failed or was lost, in one line, when the trainer could not say it in an error
   * event: the signal that killed it, its exit code, a full disk, a deleted run folder, a
   * process gone without a trace. Show `error ?? reason`.
   */
  readonly reason?: string;
  /** Which start in the run folder the status is about; only present from the second on (a resumed run). */
  readonly attempt?: number;
  /** The checkpoint step the current attempt resumed from; absent when it started fresh. */
  readonly resumeStep?: number;
  /** The W&B run's page, when the run logs to W&B online. */
  readonly wandbUrl?: string;
  /** A run on a host that cannot be reached now, and why; its status is the last one known. */
  readonly unreachable?: string;
  /** A queued SLURM job: why it waits (Resources, Priority, ...), as squeue says. */
  readonly queued?: string;
}
