// Reading the YAML tree of a run config: plain values, the node at a path, the path at an
// offset. Kept apart from the loader (yamlSource) that builds the tree.

import type { ConfigPath, JsonValue } from '../../shared/configSchema';
import type { ConfigNode, MapEntry, SourceRange } from './yamlSource';

/** Plain values of a node (aliases already expanded; NaN and infinities kept as numbers). */
export function toValue(node: ConfigNode): JsonValue {
  switch (node.kind) {
    case 'scalar':
      return node.value;
    case 'seq':
      return node.items.map(toValue);
    case 'map': {
      const out: { [key: string]: JsonValue } = {};
      for (const entry of node.entries) out[entry.key] = toValue(entry.value);
      return out;
    }
  }
}

/** The node at a config path, with the range of its key when it is a mapping entry. */
export function nodeAt(root: ConfigNode, path: ConfigPath): { node: ConfigNode; keyRange?: SourceRange } | undefined {
  let node: ConfigNode = root;
  let keyRange: SourceRange | undefined;
  for (const part of path) {
    if (typeof part === 'number') {
      if (node.kind !== 'seq' || part < 0 || part >= node.items.length) return undefined;
      node = node.items[part]!;
      keyRange = undefined;
    } else {
      if (node.kind !== 'map') return undefined;
      const entry: MapEntry | undefined = node.entries.find((e) => e.key === part);
      if (entry === undefined) return undefined;
      node = entry.value;
      keyRange = entry.keyRange;
    }
  }
  return keyRange !== undefined ? { node, keyRange } : { node };
}

/** The deepest path whose key or value contains `offset`, and whether it is on the key. */
export function pathAtOffset(root: ConfigNode, offset: number): { path: ConfigPath; onKey: boolean } | undefined {
  const walk = (node: ConfigNode, path: ConfigPath): { path: ConfigPath; onKey: boolean } | undefined => {
    if (node.kind === 'map') {
      for (const entry of node.entries) {
        if (entry.merged) continue;
        if (offset >= entry.keyRange.start && offset <= entry.keyRange.end) return { path: [...path, entry.key], onKey: true };
        const inner = walk(entry.value, [...path, entry.key]);
        if (inner) return inner;
      }
      return undefined;
    }
    if (node.kind === 'seq') {
      for (let i = 0; i < node.items.length; i += 1) {
        const inner = walk(node.items[i]!, [...path, i]);
        if (inner) return inner;
      }
      return offset >= node.range.start && offset < node.range.end ? { path, onKey: false } : undefined;
    }
    return offset >= node.range.start && offset <= node.range.end && node.range.end > node.range.start ? { path, onKey: false } : undefined;
  };
  return walk(root, []);
}
