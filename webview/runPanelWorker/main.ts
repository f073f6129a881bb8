// Entry point of the run panel's chart worker (bundled to dist/webview/runPanelWorker.js and
// started by the page from a blob: URL). The engine does all chart work here, off the page's
// main thread; this file only connects it to the worker's message port.

import { envelope } from '../../src/shared/protocol/message';
import { ChartEngine } from '../runPanel/chartEngine';
import { EngineReadyMessage } from '../runPanel/chartProtocol';

/** The parts of DedicatedWorkerGlobalScope used here (the webview's types are the page's). */
interface WorkerScope {
  postMessage(message: unknown, transfer: Transferable[]): void;
  onmessage: ((event: MessageEvent<unknown>) => void) | null;
  requestAnimationFrame?: (callback: () => void) => number;
}

const scope = self as unknown as WorkerScope;
// Draw at most once per display frame: a burst of messages (a backlog in several parts, five
// runs updating together) becomes one drawing pass.
const nextFrame = scope.requestAnimationFrame?.bind(scope);
const engine = new ChartEngine(
  (message, payload, transfer) => scope.postMessage(envelope(message, payload), transfer),
  nextFrame !== undefined ? (run) => nextFrame(run) : (run) => setTimeout(run, 0),
);
scope.onmessage = (event) => engine.receive(event.data);
scope.postMessage(envelope(EngineReadyMessage, { worker: true }), []);
