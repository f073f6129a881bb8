// Typed message tokens shared by the extension host and webviews. A message is declared
// once, with a runtime guard for its payload; both sides post and receive through the
// token, never through raw `type` strings.

export type Guard<T> = (value: unknown) => value is T;

export interface MessageType<T> {
  readonly type: string;
  readonly isPayload: Guard<T>;
}

export interface Envelope<T = unknown> {
  readonly type: string;
  readonly payload: T;
}

export function defineMessage<T>(type: string, isPayload: Guard<T>): MessageType<T> {
  return { type, isPayload };
}

export function envelope<T>(message: MessageType<T>, payload: T): Envelope<T> {
  return { type: message.type, payload };
}

/** The payload when `data` is a well-formed envelope of `message`, else undefined. */
export function matchMessage<T>(message: MessageType<T>, data: unknown): T | undefined {
  if (typeof data !== 'object' || data === null) {
    return undefined;
  }
  const { type, payload } = data as { type?: unknown; payload?: unknown };
  return type === message.type && message.isPayload(payload) ? payload : undefined;
}

// Small guards for declaring payloads.
export const isObject = (x: unknown): x is Record<string, unknown> =>
  typeof x === 'object' && x !== null && !Array.isArray(x);
export const isString = (x: unknown): x is string => typeof x === 'string';
export const isFiniteNumber = (x: unknown): x is number => typeof x === 'number' && Number.isFinite(x);
export const isEmpty = (x: unknown): x is Record<string, never> => isObject(x) && Object.keys(x).length === 0;
export const isStringArray = (x: unknown): x is string[] => Array.isArray(x) && x.every(isString);
