// Receiving side of the typed message tokens: every incoming message is checked against the
// token of its `type` before any handler sees it. A webview is a separate, less trusted
// context (it renders log text and metrics from a training run), so a malformed message is
// reported to the caller to be counted and logged, never thrown.

import type { MessageType } from './message';
import { isObject, isString } from './message';

/** handled: a declared message with a valid payload; unknown: a well-formed envelope of an
 * undeclared type; malformed: anything else (non-object, extra keys, bad payload). */
export type DispatchOutcome = 'handled' | 'unknown' | 'malformed';

export interface Route {
  readonly message: MessageType<unknown>;
  readonly handle: (payload: unknown) => void;
}

/** Declares how one message is handled; the payload type flows from the token. */
export function on<T>(message: MessageType<T>, handle: (payload: T) => void): Route {
  // The cast is safe: dispatch only calls `handle` after `message.isPayload` accepted it.
  return { message, handle: handle as (payload: unknown) => void };
}

/** Longest `type` accepted; declared types are short, so anything longer is junk. */
export const MAX_TYPE_LENGTH = 64;
const ENVELOPE_KEYS: ReadonlySet<string> = new Set(['type', 'payload']);

/** True for `{type, payload}` with nothing else, which is all `envelope()` ever produces. */
export function isEnvelopeShape(data: unknown): data is { type: string; payload: unknown } {
  if (!isObject(data) || !isString(data.type) || data.type.length === 0 || data.type.length > MAX_TYPE_LENGTH) {
    return false;
  }
  return Object.keys(data).every((key) => ENVELOPE_KEYS.has(key)) && 'payload' in data;
}

export function dispatch(data: unknown, routes: readonly Route[]): DispatchOutcome {
  if (!isEnvelopeShape(data)) {
    return 'malformed';
  }
  const route = routes.find((candidate) => candidate.message.type === data.type);
  if (route === undefined) {
    return 'unknown';
  }
  if (!route.message.isPayload(data.payload)) {
    return 'malformed';
  }
  route.handle(data.payload);
  return 'handled';
}

/** A short, bounded description of a rejected message for logs (never the whole payload). */
export function describeMessage(data: unknown): string {
  if (Array.isArray(data)) {
    return `array(${data.length})`;
  }
  if (!isObject(data)) {
    return data === null ? 'null' : typeof data;
  }
  const type = isString(data.type) ? JSON.stringify(data.type.slice(0, MAX_TYPE_LENGTH)) : typeof data.type;
  const keys = Object.keys(data).slice(0, 5).join(',');
  return `object(type=${type}, keys=${keys})`;
}

/** Counts what arrived, so rejected traffic is visible in logs and tests. */
export class MessageStats {
  handled = 0;
  unknown = 0;
  malformed = 0;

  record(outcome: DispatchOutcome): void {
    this[outcome] += 1;
  }

  get rejected(): number {
    return this.unknown + this.malformed;
  }
}
