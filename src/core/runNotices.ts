// Words the extension shows about runs outside the Runs view: the status-bar item while runs
// are active, the notification when a run ends, and the confirmation before a run is deleted.
// Pure, so the wording is tested without VS Code.

import type { RunSummary } from '../shared/runStatus';
import { STATUS_LABELS, TERMINAL_STATUSES } from '../shared/runStatus';

/** `45s`, `4m`, `1h 05m`: the status bar has no room for seconds once minutes count. */
export function formatEtaShort(seconds: number): string {
  const s = Math.max(0, Math.round(seconds));
  if (s < 60) {
    return `${s}s`;
  }
  const minutes = Math.round(s / 60);
  if (minutes < 60) {
    return `${minutes}m`;
  }
  return `${Math.floor(minutes / 60)}h ${String(minutes % 60).padStart(2, '0')}m`;
}

/** `training 37% · ETA 4m`, `preparing data`: where a run stands, in a few words. */
export function shortRunProgress(summary: RunSummary): string {
  const parts = [STATUS_LABELS[summary.status]];
  if (summary.step !== undefined && summary.maxSteps !== undefined && summary.maxSteps > 0) {
    parts[0] += ` ${Math.floor((100 * Math.min(summary.step, summary.maxSteps)) / summary.maxSteps)}%`;
  }
  if (summary.status === 'training' && summary.etaS !== undefined && summary.etaS !== null) {
    parts.push(`ETA ${formatEtaShort(summary.etaS)}`);
  }
  return parts.join(' · ');
}

export interface ActiveRunsStatus {
  readonly text: string;
  readonly tooltip: string;
  /** The one active run, whose panel a click opens; absent with several. */
  readonly runId?: string;
}

/** The status-bar item for the runs that are active now; undefined (hidden) when none is. */
export function activeRunsStatus(summaries: readonly RunSummary[]): ActiveRunsStatus | undefined {
  const active = summaries.filter((s) => !TERMINAL_STATUSES.has(s.status));
  const only = active[0];
  if (only === undefined) {
    return undefined;
  }
  const lines = active.map((s) => `${s.runId}: ${shortRunProgress(s)}`);
  if (active.length === 1) {
    return {
      text: `$(sync~spin) 1 SFT run: ${shortRunProgress(only)}`,
      tooltip: `${lines.join('\n')}\n\nClick to open its run panel.`,
      runId: only.runId,
    };
  }
  return {
    text: `$(sync~spin) ${active.length} SFT runs`,
    tooltip: `${lines.join('\n')}\n\nClick to show the Runs view.`,
  };
}

export type RunEndAction = 'openPanel' | 'openLog';

export interface RunEndNotice {
  readonly severity: 'info' | 'warning' | 'error';
  readonly message: string;
  readonly actions: ReadonlyArray<{ readonly label: string; readonly action: RunEndAction }>;
}

export const OPEN_PANEL_LABEL = 'Open run panel';
export const OPEN_LOG_LABEL = 'Open log';

/**
 * The notification for a run that ended. `panelVisible`: its run panel is on screen, so
 * offering to open it would only be noise.
 */
export function runEndNotice(summary: RunSummary, panelVisible: boolean): RunEndNotice | undefined {
  const runId = summary.runId;
  const panel = panelVisible ? [] : [{ label: OPEN_PANEL_LABEL, action: 'openPanel' as const }];
  const log = [{ label: OPEN_LOG_LABEL, action: 'openLog' as const }];
  // The trainer's own first error line when it wrote one, else what the watch could tell
  // (killed by a signal, a full disk, a deleted folder).
  const why = summary.error ?? summary.reason;
  switch (summary.status) {
    case 'finished':
      return { severity: 'info', message: `MedVLM: run ${runId} finished.`, actions: panel };
    case 'stopped':
      return { severity: 'info', message: `MedVLM: run ${runId} stopped.`, actions: panel };
    case 'failed':
      return {
        severity: 'error',
        message: `MedVLM: run ${runId} failed: ${why ?? 'it reported no error; see its log.'}`,
        actions: [...panel, ...log],
      };
    case 'lost':
      return {
        severity: 'warning',
        message: `MedVLM: run ${runId} is lost: ${why ?? 'its process ended without reporting how.'}`,
        actions: [...panel, ...log],
      };
    default:
      return undefined;
  }
}

export interface DeletePlan {
  readonly runId: string;
  readonly runDir: string;
  /** Checkpoint folder names, oldest first. */
  readonly checkpoints: readonly string[];
  /** Merged model folders, relative to the run folder (`merged`, `checkpoints/final-merged`). */
  readonly merged: readonly string[];
  /** For a run on a remote target: its folder there (`host:/path`), which deleting here leaves alone. */
  readonly remoteFolder?: string;
}

export interface Confirmation {
  readonly message: string;
  readonly detail: string;
  readonly button: string;
}

/** Names beyond this are counted, not listed: a modal dialog has to fit on the screen. */
const MAX_LISTED = 20;

function listNames(names: readonly string[]): string {
  if (names.length <= MAX_LISTED) {
    return names.join(', ');
  }
  return `${names.slice(0, MAX_LISTED).join(', ')} and ${names.length - MAX_LISTED} more`;
}

/** What goes with the folder, spelled out, so no checkpoint is ever deleted unannounced. */
function whatGoes(plan: DeletePlan): string {
  const n = plan.checkpoints.length;
  const checkpoints =
    n === 0 ? 'It holds no checkpoints.' : `With it go ${n} checkpoint${n === 1 ? '' : 's'}: ${listNames(plan.checkpoints)}.`;
  const m = plan.merged.length;
  const merged = m === 0 ? '' : ` And ${m === 1 ? 'the merged model' : `${m} merged models`}: ${listNames(plan.merged)}.`;
  return `${checkpoints}${merged}`;
}

export function deleteConfirmation(plan: DeletePlan): Confirmation {
  return {
    message: `Delete run ${plan.runId}?`,
    detail: `This moves the run folder ${plan.runDir} to the trash. ${whatGoes(plan)}${remoteNote(plan)}`,
    button: 'Move to Trash',
  };
}

function remoteNote(plan: DeletePlan): string {
  return plan.remoteFolder === undefined ? '' : `\n\nThe run's folder on the host, ${plan.remoteFolder}, stays as it is: delete it there when you no longer need its checkpoints.`;
}

/** The second question, asked only when moving to the trash failed. */
export function permanentDeleteConfirmation(plan: DeletePlan, reason: string): Confirmation {
  return {
    message: `Run ${plan.runId} could not be moved to the trash. Delete it permanently?`,
    detail: `${reason}\n\nDeleting permanently removes ${plan.runDir} for good; it cannot be undone. ${whatGoes(plan)}${remoteNote(plan)}`,
    button: 'Delete Permanently',
  };
}
