import type * as vscode from 'vscode';
import type { TrainerEvent } from '../shared/events';
import type { RunSummary } from '../shared/runStatus';

/** What the run panel needs from a run; the run registry implements it. */
export interface RunPanelSource {
  readonly runId: string;
  readonly title: string;
  /**
   * Calls `onEvents` with every event so far, then with each new batch as the events file
   * grows, and `onSummary` whenever the derived status changes. Dispose to stop.
   */
  subscribe(
    onEvents: (events: readonly TrainerEvent[]) => void,
    onSummary: (summary: RunSummary) => void,
  ): vscode.Disposable;
  /** The tail of stdout.log, for the panel's log view. */
  readLogTail(maxBytes: number): Promise<string>;
  /**
   * Not called by the panel any more: its Stop button runs `medvlm.stopRun` with the run id,
   * like every other action. Optional so existing sources still type-check.
   */
  stop?(): Promise<void>;
}
