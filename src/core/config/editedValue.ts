// What a run config must read as after an edit: yamlEdit applies each edit to the plain value
// too, and refuses any text change that does not parse back to exactly that.

import { isPlainObject } from '../../shared/configSchema';
import type { ConfigPath, JsonValue } from '../../shared/configSchema';
import { Refusal, where } from './yamlLayout';

export type Op =
  | { readonly kind: 'set'; readonly path: ConfigPath; readonly value: JsonValue }
  | { readonly kind: 'remove'; readonly path: ConfigPath }
  | { readonly kind: 'append'; readonly path: ConfigPath; readonly value: JsonValue };

/** Refuses list indices past the end, as the block path does. */
export function checkCreatable(value: JsonValue, rest: ConfigPath, at: ConfigPath): void {
  let node: JsonValue | undefined = value;
  for (let i = 0; i < rest.length; i++) {
    const part = rest[i] as string | number;
    if (typeof part === 'number') {
      const length = Array.isArray(node) ? node.length : 0;
      if (part > length) throw new Refusal(`${where([...at, ...rest.slice(0, i)])} has ${length} items; add them in order`);
      if (!Array.isArray(node) && isPlainObject(node)) throw new Refusal(`${where([...at, ...rest.slice(0, i)])} is a mapping, not a list`);
    } else if (Array.isArray(node)) {
      throw new Refusal(`${where([...at, ...rest.slice(0, i)])} is a list, not a mapping`);
    }
    node = Array.isArray(node) ? node[part as number] : isPlainObject(node) ? node[part as string] : undefined;
  }
}

export function getIn(value: JsonValue | undefined, path: ConfigPath): JsonValue | undefined {
  let node = value;
  for (const part of path) {
    if (Array.isArray(node) && typeof part === 'number') node = node[part];
    else if (isPlainObject(node) && typeof part === 'string' && Object.hasOwn(node, part)) node = node[part];
    else return undefined;
  }
  return node;
}

/**
 * What the config should read as after `op`: the check every edit must pass. Removing the last
 * key of a mapping removes the mapping's own key too (not the root's, not a list item's).
 */
export function applyToJson(root: JsonValue, op: Op): JsonValue {
  const out = structuredClone(root ?? {}) as JsonValue;
  if (op.kind === 'remove') {
    const parents: JsonValue[] = [];
    let node: JsonValue | undefined = out;
    for (const part of op.path.slice(0, -1)) {
      parents.push(node as JsonValue);
      node = getIn(node, [part]);
    }
    const last = op.path[op.path.length - 1] as string | number;
    if (Array.isArray(node) && typeof last === 'number' && last < node.length) node.splice(last, 1);
    else if (isPlainObject(node) && typeof last === 'string') delete node[last];
    else return out;
    // Climb while the emptied container is a mapping inside a mapping (never the root itself).
    for (let i = op.path.length - 2; i >= 0; i--) {
      const container = parents[i];
      const key = op.path[i] as string | number;
      const child = getIn(container, [key]);
      if (!(isPlainObject(container) && isPlainObject(child) && Object.keys(child).length === 0)) break;
      delete container[key as string];
    }
    return out;
  }
  const value = op.kind === 'append' ? [...(asList(getIn(out, op.path)) ?? []), op.value] : op.value;
  if (op.path.length === 0) return value;
  let node: JsonValue = out;
  for (let i = 0; i < op.path.length - 1; i++) {
    const part = op.path[i] as string | number;
    let child = getIn(node, [part]);
    if (child === null || child === undefined || typeof child !== 'object') {
      child = typeof op.path[i + 1] === 'number' ? [] : {};
      (node as Record<string | number, JsonValue>)[part] = child;
    }
    node = child;
  }
  (node as Record<string | number, JsonValue>)[op.path[op.path.length - 1] as string | number] = value;
  return out;
}

function asList(value: JsonValue | undefined): JsonValue[] | undefined {
  return Array.isArray(value) ? value : undefined;
}

export function sameJson(a: JsonValue | undefined, b: JsonValue | undefined): boolean {
  if (a === b) return true;
  if (typeof a === 'number' && typeof b === 'number') return Number.isNaN(a) && Number.isNaN(b);
  if (Array.isArray(a) || Array.isArray(b)) {
    return Array.isArray(a) && Array.isArray(b) && a.length === b.length && a.every((x, i) => sameJson(x, b[i]));
  }
  if (isPlainObject(a) && isPlainObject(b)) {
    const keys = Object.keys(a);
    return keys.length === Object.keys(b).length && keys.every((k) => Object.hasOwn(b, k) && sameJson(a[k], b[k]));
  }
  return false;
}
