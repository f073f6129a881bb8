// The run config's JSON schema (generated from the pydantic model, design contract 1) as a
// small resolved tree: `$ref`s followed, `anyOf` as unions, property descriptions merged over
// the referenced section's. The validator, hovers, completions and the form all read this one
// tree, so they cannot disagree about what a key means.
//
// The generator uses a handful of JSON-schema keywords; `loadSchema` refuses any other, so a
// new pydantic feature that changes the schema's shape fails the tests instead of being ignored.

export type JsonValue = null | boolean | number | string | JsonValue[] | { [key: string]: JsonValue };
export type PathPart = string | number;
export type ConfigPath = readonly PathPart[];

interface Common {
  readonly title?: string;
  readonly description?: string;
  /** The default the trainer uses when the key is absent (`hasDefault` tells null apart from none). */
  readonly default?: JsonValue;
  readonly hasDefault: boolean;
}

export interface ObjectSchema extends Common {
  readonly kind: 'object';
  /** The pydantic class name, e.g. `DataSource`. */
  readonly name?: string;
  readonly properties: ReadonlyMap<string, SchemaNode>;
  readonly required: ReadonlySet<string>;
}
export interface ArraySchema extends Common {
  readonly kind: 'array';
  readonly items: SchemaNode;
  readonly minItems?: number;
  readonly maxItems?: number;
}
export interface StringSchema extends Common {
  readonly kind: 'string';
  readonly enum?: readonly string[];
  readonly minLength?: number;
  readonly maxLength?: number;
  readonly pattern?: string;
}
export interface NumberSchema extends Common {
  readonly kind: 'integer' | 'number';
  readonly minimum?: number;
  readonly maximum?: number;
  readonly exclusiveMinimum?: number;
  readonly exclusiveMaximum?: number;
}
export interface BooleanSchema extends Common {
  readonly kind: 'boolean';
}
export interface NullSchema extends Common {
  readonly kind: 'null';
}
export interface UnionSchema extends Common {
  readonly kind: 'union';
  readonly options: readonly SchemaNode[];
}

export type SchemaNode =
  | ObjectSchema
  | ArraySchema
  | StringSchema
  | NumberSchema
  | BooleanSchema
  | NullSchema
  | UnionSchema;

const ANNOTATIONS = new Set(['title', 'description', 'default']);
const KNOWN = new Set([
  ...ANNOTATIONS,
  '$ref',
  '$defs',
  '$id',
  '$schema',
  'type',
  'properties',
  'required',
  'additionalProperties',
  'items',
  'minItems',
  'maxItems',
  'enum',
  'minLength',
  'maxLength',
  'pattern',
  'minimum',
  'maximum',
  'exclusiveMinimum',
  'exclusiveMaximum',
  'anyOf',
]);

type Raw = Record<string, unknown>;

function isRaw(x: unknown): x is Raw {
  return typeof x === 'object' && x !== null && !Array.isArray(x);
}

/** Resolve the generated schema into a tree. Throws on shapes the generator does not produce. */
export function loadSchema(json: unknown): ObjectSchema {
  if (!isRaw(json)) {
    throw new Error('run config schema: not a JSON object');
  }
  const defs = isRaw(json.$defs) ? json.$defs : {};
  const cache = new Map<string, SchemaNode>();

  const resolveRef = (ref: unknown, where: string): { name: string; raw: Raw } => {
    const prefix = '#/$defs/';
    if (typeof ref !== 'string' || !ref.startsWith(prefix)) {
      throw new Error(`run config schema: unsupported $ref ${String(ref)} at ${where}`);
    }
    const name = ref.slice(prefix.length);
    const raw = defs[name];
    if (!isRaw(raw)) {
      throw new Error(`run config schema: missing definition ${name} at ${where}`);
    }
    return { name, raw };
  };

  const build = (raw: Raw, where: string, defName?: string): SchemaNode => {
    for (const key of Object.keys(raw)) {
      if (!KNOWN.has(key)) {
        throw new Error(`run config schema: unsupported keyword "${key}" at ${where}`);
      }
    }
    const common: Common = {
      ...(typeof raw.title === 'string' ? { title: raw.title } : {}),
      ...(typeof raw.description === 'string' ? { description: raw.description } : {}),
      ...('default' in raw ? { default: raw.default as JsonValue } : {}),
      hasDefault: 'default' in raw,
    };
    if (raw.$ref !== undefined) {
      const { name, raw: target } = resolveRef(raw.$ref, where);
      let base = cache.get(name);
      if (base === undefined) {
        base = build(target, `$defs/${name}`, name);
        cache.set(name, base);
      }
      // The property's own description and default win over the section's.
      return {
        ...base,
        ...(common.title !== undefined ? { title: common.title } : {}),
        ...(common.description !== undefined ? { description: common.description } : {}),
        ...(common.hasDefault ? { default: common.default, hasDefault: true } : {}),
      };
    }
    if (Array.isArray(raw.anyOf)) {
      const options = raw.anyOf.map((option, i) => {
        if (!isRaw(option)) {
          throw new Error(`run config schema: anyOf member ${i} at ${where} is not an object`);
        }
        return build(option, `${where}/anyOf/${i}`);
      });
      return { kind: 'union', options, ...common };
    }
    switch (raw.type) {
      case 'object': {
        const properties = new Map<string, SchemaNode>();
        const props = isRaw(raw.properties) ? raw.properties : {};
        for (const [key, value] of Object.entries(props)) {
          if (!isRaw(value)) {
            throw new Error(`run config schema: property ${key} at ${where} is not an object`);
          }
          properties.set(key, build(value, `${where}/${key}`));
        }
        if (raw.additionalProperties !== false) {
          throw new Error(`run config schema: ${where} allows unknown keys; every section must forbid them`);
        }
        const required = new Set(Array.isArray(raw.required) ? raw.required.filter((r): r is string => typeof r === 'string') : []);
        return { kind: 'object', properties, required, ...(defName !== undefined ? { name: defName } : {}), ...common };
      }
      case 'array': {
        if (!isRaw(raw.items)) {
          throw new Error(`run config schema: array without items at ${where}`);
        }
        return {
          kind: 'array',
          items: build(raw.items, `${where}/items`),
          ...numberField(raw, 'minItems'),
          ...numberField(raw, 'maxItems'),
          ...common,
        };
      }
      case 'string':
        return {
          kind: 'string',
          ...(Array.isArray(raw.enum) ? { enum: raw.enum.filter((e): e is string => typeof e === 'string') } : {}),
          ...numberField(raw, 'minLength'),
          ...numberField(raw, 'maxLength'),
          ...(typeof raw.pattern === 'string' ? { pattern: raw.pattern } : {}),
          ...common,
        };
      case 'integer':
      case 'number':
        return {
          kind: raw.type,
          ...numberField(raw, 'minimum'),
          ...numberField(raw, 'maximum'),
          ...numberField(raw, 'exclusiveMinimum'),
          ...numberField(raw, 'exclusiveMaximum'),
          ...common,
        };
      case 'boolean':
        return { kind: 'boolean', ...common };
      case 'null':
        return { kind: 'null', ...common };
      default:
        throw new Error(`run config schema: unsupported type ${JSON.stringify(raw.type)} at ${where}`);
    }
  };

  const root = build(json, '#');
  if (root.kind !== 'object') {
    throw new Error('run config schema: the root is not an object');
  }
  return root;
}

function numberField<K extends string>(raw: Raw, key: K): Partial<Record<K, number>> {
  const value = raw[key];
  return typeof value === 'number' ? ({ [key]: value } as Record<K, number>) : {};
}

/** Union members other than `null`, or the node itself. */
export function options(node: SchemaNode): readonly SchemaNode[] {
  return node.kind === 'union' ? node.options.filter((o) => o.kind !== 'null') : [node];
}

export function isNullable(node: SchemaNode): boolean {
  return node.kind === 'null' || (node.kind === 'union' && node.options.some((o) => o.kind === 'null'));
}

/** The object a mapping at this node must match, if any (through unions such as `ImageWindow | preset | null`). */
export function objectOf(node: SchemaNode): ObjectSchema | undefined {
  return options(node).find((o): o is ObjectSchema => o.kind === 'object');
}

export function arrayOf(node: SchemaNode): ArraySchema | undefined {
  return options(node).find((o): o is ArraySchema => o.kind === 'array');
}

/** Enum choices offered anywhere in the node (`window` has presets beside its mapping form). */
export function enumChoices(node: SchemaNode): readonly string[] {
  return options(node).flatMap((o) => (o.kind === 'string' && o.enum !== undefined ? o.enum : []));
}

/** The schema node for a config path (`['data', 'sources', 0, 'records']`), or undefined. */
export function schemaAt(root: SchemaNode, path: ConfigPath): SchemaNode | undefined {
  let node: SchemaNode | undefined = root;
  for (const part of path) {
    if (node === undefined) {
      return undefined;
    }
    if (typeof part === 'number') {
      node = arrayOf(node)?.items;
    } else {
      node = objectOf(node)?.properties.get(part);
    }
  }
  return node;
}

/** `data.sources[0].records`, as the CLI prints paths. */
export function dottedPath(path: ConfigPath): string {
  let out = '';
  for (const part of path) {
    if (typeof part === 'number') {
      out += `[${part}]`;
    } else {
      out += out ? `.${part}` : part;
    }
  }
  return out;
}

/** `data.sources[0].records` -> `['data', 'sources', 0, 'records']`; undefined if malformed. */
export function parseDottedPath(dotted: string): ConfigPath | undefined {
  if (dotted === '') return [];
  const out: PathPart[] = [];
  const re = /([^.[\]]+)|\[(\d+)\]/g;
  let consumed = 0;
  for (let m = re.exec(dotted); m !== null; m = re.exec(dotted)) {
    const between = dotted.slice(consumed, m.index);
    if (between !== '' && (between !== '.' || out.length === 0)) return undefined;
    out.push(m[2] !== undefined ? Number(m[2]) : m[1]!);
    consumed = m.index + m[0].length;
  }
  return consumed === dotted.length ? out : undefined;
}

/** A short human name of what the node accepts: `an integer from 1 to 4096`, `one of a, b`. */
export function describeType(node: SchemaNode): string {
  switch (node.kind) {
    case 'union': {
      const parts = node.options.map(describeType);
      return parts.length <= 2 ? parts.join(' or ') : `${parts.slice(0, -1).join(', ')} or ${parts[parts.length - 1]}`;
    }
    case 'object':
      return 'a mapping of settings';
    case 'array':
      return `a list of ${plural(describeType(node.items))}`;
    case 'string':
      if (node.enum !== undefined) {
        return `one of ${node.enum.map((e) => `\`${e}\``).join(', ')}`;
      }
      return 'text';
    case 'integer':
    case 'number':
      return `${node.kind === 'integer' ? 'an integer' : 'a number'}${rangeText(node)}`;
    case 'boolean':
      return '`true` or `false`';
    case 'null':
      return '`null`';
  }
}

function plural(text: string): string {
  if (text.startsWith('an integer')) return `integers${text.slice('an integer'.length)}`;
  if (text.startsWith('a number')) return `numbers${text.slice('a number'.length)}`;
  if (text === 'text') return 'texts';
  if (text.startsWith('a mapping')) return 'mappings';
  return text;
}

export function rangeText(node: NumberSchema): string {
  const low = node.minimum !== undefined ? `${node.minimum}` : node.exclusiveMinimum !== undefined ? `above ${node.exclusiveMinimum}` : undefined;
  const high = node.maximum !== undefined ? `${node.maximum}` : node.exclusiveMaximum !== undefined ? `below ${node.exclusiveMaximum}` : undefined;
  if (node.minimum !== undefined && node.maximum !== undefined) {
    return ` from ${low} to ${high}`;
  }
  const parts: string[] = [];
  if (low !== undefined) parts.push(node.minimum !== undefined ? `at least ${low}` : low);
  if (high !== undefined) parts.push(node.maximum !== undefined ? `at most ${high}` : high);
  return parts.length > 0 ? ` ${parts.join(' and ')}` : '';
}

/**
 * `value` with the trainer's defaults filled in where keys are absent, so derived numbers
 * and the form see what the run will use. Values of the wrong shape are kept as written.
 */
export function withDefaults(node: SchemaNode, value: JsonValue | undefined): JsonValue | undefined {
  if (value === undefined) {
    if (node.hasDefault) {
      return node.default;
    }
    const object = node.kind === 'object' ? node : undefined;
    // Sections with a default_factory (`train:`) have no JSON default; an empty mapping is theirs.
    return object !== undefined && object.required.size === 0 ? withDefaults(object, {}) : undefined;
  }
  const object = objectOf(node);
  if (object !== undefined && isPlainObject(value)) {
    const out: { [key: string]: JsonValue } = {};
    for (const [key, child] of object.properties) {
      const filled = withDefaults(child, value[key]);
      if (filled !== undefined) {
        out[key] = filled;
      }
    }
    for (const [key, v] of Object.entries(value)) {
      if (!(key in out)) {
        out[key] = v;
      }
    }
    return out;
  }
  const array = arrayOf(node);
  if (array !== undefined && Array.isArray(value)) {
    return value.map((item) => withDefaults(array.items, item) ?? item);
  }
  return value;
}

export function isPlainObject(x: unknown): x is { [key: string]: JsonValue } {
  return typeof x === 'object' && x !== null && !Array.isArray(x);
}
