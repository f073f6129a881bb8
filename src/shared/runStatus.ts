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
}
