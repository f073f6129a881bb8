// Compare mode's config differences: each run's config snapshot flattened into dotted paths
// (`train.learning_rate`, `data.sources[0].records`), and the paths whose values differ
// between runs, with every run's value. Pure, so it is unit-tested in Node.

/** A leaf of a flattened config: a scalar, or an empty list or mapping (which has no leaves). */
export type ConfigLeaf = string | number | boolean | null | readonly [] | Readonly<Record<string, never>>;

export interface ConfigDifference {
  readonly path: string;
  /** One per config, in input order; undefined where that config has no such path. */
  readonly values: readonly (ConfigLeaf | undefined)[];
}

const IDENTIFIER = /^[A-Za-z_][A-Za-z0-9_-]*$/;

function childPath(parent: string, key: string): string {
  // Keys that would make the path ambiguous (dots, brackets, spaces) are quoted.
  const part = IDENTIFIER.test(key) ? key : `[${JSON.stringify(key)}]`;
  if (parent === '') {
    return part;
  }
  return part.startsWith('[') ? `${parent}${part}` : `${parent}.${part}`;
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/**
 * Every leaf of `config` by dotted path, in document order. Nesting deeper than `maxDepth`
 * is kept as one leaf (its JSON text), so a pathological document cannot recurse forever.
 */
export function flattenConfig(config: unknown, maxDepth = 32): Map<string, ConfigLeaf> {
  const out = new Map<string, ConfigLeaf>();
  const walk = (value: unknown, path: string, depth: number): void => {
    if (Array.isArray(value)) {
      if (value.length === 0) {
        out.set(path, []);
      } else if (depth >= maxDepth) {
        out.set(path, JSON.stringify(value));
      } else {
        value.forEach((item, i) => walk(item, `${path}[${i}]`, depth + 1));
      }
      return;
    }
    if (isPlainObject(value)) {
      const keys = Object.keys(value);
      if (keys.length === 0) {
        out.set(path, {});
      } else if (depth >= maxDepth) {
        out.set(path, JSON.stringify(value));
      } else {
        for (const key of keys) {
          walk(value[key], childPath(path, key), depth + 1);
        }
      }
      return;
    }
    if (value === null || typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean') {
      out.set(path, value);
      return;
    }
    // undefined, functions, bigints: not config values (YAML and JSON produce none of them).
    out.set(path, String(value));
  };
  walk(config, '', 0);
  return out;
}

function leafKey(value: ConfigLeaf | undefined): string {
  // JSON text tells 1 from "1" and null from absent (undefined has no JSON text).
  return value === undefined ? '\u0000absent' : JSON.stringify(value);
}

/**
 * The paths whose values are not the same in every config, in the order they first appear
 * (the first config's document order, then paths only later configs have).
 */
export function diffConfigs(configs: readonly unknown[]): ConfigDifference[] {
  const flat = configs.map((config) => flattenConfig(config));
  const paths: string[] = [];
  const seen = new Set<string>();
  for (const map of flat) {
    for (const path of map.keys()) {
      if (!seen.has(path)) {
        seen.add(path);
        paths.push(path);
      }
    }
  }
  const differences: ConfigDifference[] = [];
  for (const path of paths) {
    const values = flat.map((map) => map.get(path));
    const first = leafKey(values[0]);
    if (values.some((value) => leafKey(value) !== first)) {
      differences.push({ path, values });
    }
  }
  return differences;
}

/** How a value reads in the differences table: strings bare, everything else as JSON. */
export function formatConfigValue(value: ConfigLeaf | undefined, maxLength = 1024): string | null {
  if (value === undefined) {
    return null;
  }
  const text = typeof value === 'string' ? value : JSON.stringify(value);
  return text.length <= maxLength ? text : `${text.slice(0, maxLength - 1)}…`;
}
