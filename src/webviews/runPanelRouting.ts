// The run panel host's pure part: routing what the webview posts. No `vscode` here, so it is
// unit-tested in Node. What the host posts back is paced by src/shared/coalescer.ts.

import type { Route } from '../shared/protocol/dispatch';
import { describeMessage, dispatch, MessageStats, on } from '../shared/protocol/dispatch';
import type { RunAction } from '../shared/protocol/runPanel';
import { ACTION_MESSAGES, ReadyMessage, RequestLogTailMessage, RUN_ACTIONS } from '../shared/protocol/runPanel';

export interface RunPanelHostHandlers {
  ready(): void;
  requestLogTail(): void;
  /** A button was pressed; the host runs the action's command on the panel's own run. */
  action(action: RunAction): void;
}

/**
 * The command each button runs, with the panel's run id as its only argument. The commands
 * check the run's state themselves (and confirm what cannot be undone).
 */
export const ACTION_COMMANDS: Readonly<Record<RunAction, string>> = {
  stop: 'medvlm.stopRun',
  resume: 'medvlm.resumeRun',
  restart: 'medvlm.restartRun',
  revealFolder: 'medvlm.revealRunFolder',
  openLog: 'medvlm.openRunLog',
  merge: 'medvlm.mergeRun',
  openWandb: 'medvlm.openWandbRun',
  delete: 'medvlm.deleteRun',
};

export type RejectLogger = (line: string) => void;

/** After this many, rejected messages are logged only every LOG_EVERY-th time. */
const LOG_FIRST = 10;
const LOG_EVERY = 100;

/**
 * Returns the `onDidReceiveMessage` listener: every message is validated against its declared
 * token; anything else is counted and logged (rate-limited, since a looping webview could
 * otherwise flood the log) and otherwise ignored.
 */
export function createHostRouter(
  handlers: RunPanelHostHandlers,
  log: RejectLogger,
): { readonly receive: (data: unknown) => void; readonly stats: MessageStats } {
  const stats = new MessageStats();
  const routes: readonly Route[] = [
    on(ReadyMessage, () => handlers.ready()),
    on(RequestLogTailMessage, () => handlers.requestLogTail()),
    ...RUN_ACTIONS.map((action) => on(ACTION_MESSAGES[action], () => handlers.action(action))),
  ];
  const receive = (data: unknown): void => {
    const outcome = dispatch(data, routes);
    stats.record(outcome);
    if (outcome !== 'handled') {
      const n = stats.rejected;
      if (n <= LOG_FIRST || n % LOG_EVERY === 0) {
        log(`run panel: ignored ${outcome} message #${n}: ${describeMessage(data)}`);
      }
    }
  };
  return { receive, stats };
}
