// The run panel host's pure parts: routing what the webview posts, and pacing what the host
// posts back. No `vscode` here, so both are unit-tested in Node.

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

export interface Timers {
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
  now(): number;
}

export const realTimers: Timers = {
  setTimeout: (fn, ms) => setTimeout(fn, ms),
  clearTimeout: (handle) => clearTimeout(handle as ReturnType<typeof setTimeout>),
  now: () => Date.now(),
};

/**
 * Runs `flush` at most once per `intervalMs`, however often `request` is called: a run that
 * logs every step would otherwise post a message per line and keep the webview re-rendering.
 * The first request after a quiet period flushes at once, so a lone event is not delayed.
 */
export class Coalescer {
  private timer: unknown;
  private lastFlush = Number.NEGATIVE_INFINITY;
  private disposed = false;

  constructor(
    private readonly flush: () => void,
    private readonly intervalMs: number,
    private readonly timers: Timers = realTimers,
  ) {}

  request(): void {
    if (this.disposed || this.timer !== undefined) {
      return;
    }
    const wait = this.lastFlush + this.intervalMs - this.timers.now();
    if (wait <= 0) {
      this.run();
    } else {
      this.timer = this.timers.setTimeout(() => this.run(), wait);
    }
  }

  dispose(): void {
    this.disposed = true;
    if (this.timer !== undefined) {
      this.timers.clearTimeout(this.timer);
      this.timer = undefined;
    }
  }

  private run(): void {
    this.timer = undefined;
    if (this.disposed) {
      return;
    }
    this.lastFlush = this.timers.now();
    this.flush();
  }
}
