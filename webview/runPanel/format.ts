// What the run panel's header says, computed from the host's summary and the events. Pure, so
// the wording and the clock arithmetic are testable without a DOM.

import type { RunStatus, RunSummary } from '../../src/shared/runStatus';
import { STATUS_LABELS, TERMINAL_STATUSES } from '../../src/shared/runStatus';
import { formatDuration } from '../../src/shared/format';
import type { RunState } from './runState';

export interface Stat {
  readonly key: string;
  readonly label: string;
  readonly value: string;
}

export interface HeaderModel {
  readonly status: RunStatus;
  readonly statusLabel: string;
  readonly terminal: boolean;
  readonly stats: readonly Stat[];
}

// One formatter each, made once: toLocaleString builds a new formatter per call, and axis
// ticks are formatted several times per chart per drawing pass.
const INTEGER = new Intl.NumberFormat('en-US');
const FOUR_DIGITS = new Intl.NumberFormat('en-US', { maximumSignificantDigits: 4 });

/** Compact numbers for axes and stats: 2.75, 0.0002 -> 2e-4, 12345 -> 12,345. */
export function formatNumber(value: number): string {
  if (value === 0) {
    return '0';
  }
  const abs = Math.abs(value);
  if (abs < 1e-3 || abs >= 1e6) {
    return value.toExponential(abs < 1e-3 ? 1 : 2).replace('.0e', 'e');
  }
  return Number.isInteger(value) ? INTEGER.format(value) : FOUR_DIGITS.format(value);
}

/** RunSummary times are unix seconds like events' `t`; accept milliseconds too, defensively. */
function toSeconds(t: number | undefined): number | undefined {
  return t !== undefined && t > 1e11 ? t / 1000 : t;
}

export function headerModel(summary: RunSummary, series: RunState, nowS: number): HeaderModel {
  const status = summary.status;
  const terminal = TERMINAL_STATUSES.has(status);
  const progress = series.progress;
  const step = progress?.step ?? summary.step;
  const maxSteps = progress?.maxSteps ?? summary.maxSteps;
  const epoch = progress?.epoch ?? summary.epoch;
  const samplesPerS = progress !== undefined ? progress.samplesPerS : summary.samplesPerS;
  const stats: Stat[] = [{ key: 'run', label: 'Run', value: summary.runId }];

  if (step !== undefined) {
    stats.push({ key: 'step', label: 'Step', value: maxSteps !== undefined ? `${step} / ${maxSteps}` : `${step}` });
  }
  if (epoch !== undefined) {
    stats.push({ key: 'epoch', label: 'Epoch', value: epoch.toFixed(2) });
  }
  if (!terminal) {
    // Count the trainer's estimate down between progress events, so the ETA moves smoothly.
    const eta = progress !== undefined && progress.etaS !== null ? progress.etaS - Math.max(0, nowS - progress.t) : summary.etaS;
    if (eta !== undefined && eta !== null) {
      stats.push({ key: 'eta', label: 'ETA', value: formatDuration(Math.max(0, eta)) });
    }
  }
  const startedAt = series.startedAt ?? toSeconds(summary.startedAt);
  if (startedAt !== undefined) {
    const end = terminal ? (series.lastEventAt ?? toSeconds(summary.lastEventAt) ?? nowS) : nowS;
    stats.push({ key: 'elapsed', label: 'Elapsed', value: formatDuration(end - startedAt) });
  }
  if (samplesPerS !== undefined && samplesPerS !== null) {
    stats.push({ key: 'samplesPerS', label: 'Samples/s', value: samplesPerS.toFixed(2) });
  }
  if (series.attempt > 1) {
    stats.push({ key: 'attempt', label: 'Attempt', value: String(series.attempt) });
  }
  if (series.checkpoints > 0) {
    stats.push({ key: 'checkpoints', label: 'Checkpoints', value: String(series.checkpoints) });
  }
  const latestEval = series.latestEval;
  if (latestEval !== undefined) {
    const parts = Object.entries(latestEval.values)
      .filter((entry): entry is [string, number] => entry[1] !== null)
      .slice(0, 4)
      .map(([k, v]) => `${k} ${formatNumber(v)}`);
    if (parts.length > 0) {
      stats.push({ key: 'eval', label: `Eval @${latestEval.step}`, value: parts.join(', ') });
    }
  }
  return { status, statusLabel: STATUS_LABELS[status], terminal, stats };
}

/** Wall-clock tick labels: `14:05`, or `14:05:30` when the axis spans under ten minutes. */
export function formatClock(unixSeconds: number, spanSeconds: number): string {
  const date = new Date(unixSeconds * 1000);
  const pad = (n: number): string => String(n).padStart(2, '0');
  const hm = `${pad(date.getHours())}:${pad(date.getMinutes())}`;
  return spanSeconds < 600 ? `${hm}:${pad(date.getSeconds())}` : hm;
}
