// The webview's only channel to the extension host, typed by the shared message tokens.
// `acquireVsCodeApi` may be called once per page load, hence the cached handle.

import type { DispatchOutcome, Route } from '../../src/shared/protocol/dispatch';
import { describeMessage, dispatch, MessageStats } from '../../src/shared/protocol/dispatch';
import type { MessageType } from '../../src/shared/protocol/message';
import { envelope } from '../../src/shared/protocol/message';

interface VsCodeApi {
  postMessage(message: unknown): void;
  getState(): unknown;
  setState(state: unknown): void;
}

declare function acquireVsCodeApi(): VsCodeApi;

let api: VsCodeApi | undefined;

function vscodeApi(): VsCodeApi {
  api ??= acquireVsCodeApi();
  return api;
}

/**
 * What this page saved before VS Code hid it (a hidden webview is discarded and reloaded when
 * shown again). Untrusted like any input: the caller validates it.
 */
export function savedPageState(): unknown {
  return vscodeApi().getState();
}

export function savePageState(state: unknown): void {
  vscodeApi().setState(state);
}

export function postToHost<T>(message: MessageType<T>, payload: T): void {
  vscodeApi().postMessage(envelope(message, payload));
}

/**
 * Routes host messages through their tokens. Anything that does not validate is counted and
 * reported, never thrown: a bad message must not take the panel down with it.
 */
export function listenToHost(
  routes: readonly Route[],
  onRejected: (outcome: DispatchOutcome, description: string) => void = (outcome, description) =>
    console.warn(`ignored ${outcome} message: ${description}`),
): MessageStats {
  const stats = new MessageStats();
  window.addEventListener('message', (event: MessageEvent<unknown>) => {
    const outcome = dispatch(event.data, routes);
    stats.record(outcome);
    if (outcome !== 'handled') {
      onRejected(outcome, describeMessage(event.data));
    }
  });
  return stats;
}
