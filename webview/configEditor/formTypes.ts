// The config form's view model: sections, fields and list cards, each with its path, value,
// default and problems. Built by formModel.ts from the schema and the parsed YAML; rendered by
// form.ts and fields.ts.

import type { ConfigPath, JsonValue } from '../../src/shared/configSchema';
import type { StateProblem } from '../../src/shared/protocol/configEditor';
import type { UnionKind } from './formUnion';

export type ScalarKind = 'string' | 'integer' | 'number';

export type Control =
  | { readonly kind: 'text'; readonly text: string; readonly maxLength?: number }
  | {
      readonly kind: 'number';
      readonly integer: boolean;
      readonly text: string;
      readonly min?: number;
      readonly max?: number;
    }
  /** `selected` undefined: the key is absent, so the default applies. */
  | { readonly kind: 'enum'; readonly choices: readonly string[]; readonly selected: string | undefined }
  | { readonly kind: 'boolean'; readonly checked: boolean }
  /** Strings one per line (they may hold commas, e.g. `#SBATCH` lines); numbers comma-separated. */
  | { readonly kind: 'list'; readonly itemKind: ScalarKind; readonly text: string }
  | { readonly kind: 'enumList'; readonly choices: readonly string[]; readonly selected: readonly string[] }
  /** A union's mapping alternative (`window: {center, width}`). */
  | { readonly kind: 'object'; readonly fields: readonly FormNode[] }
  /** Nothing to edit: the union's default or null is selected. */
  | { readonly kind: 'none' }
  /** A shape the form has no control for: the value as JSON. */
  | { readonly kind: 'json'; readonly text: string };

export interface NodeBase {
  readonly path: ConfigPath;
  /** DOM id, unique per path and a valid CSS identifier. */
  readonly id: string;
  readonly key: string;
  readonly description: string;
  problems: StateProblem[];
}

export interface FieldNode extends NodeBase {
  readonly type: 'field';
  /** The key is written in the YAML (possibly as null). */
  readonly present: boolean;
  readonly value: JsonValue | undefined;
  readonly hasDefault: boolean;
  /** The default as text, e.g. `0.0002`, shown as placeholder when the key is absent. */
  readonly defaultText: string | undefined;
  readonly required: boolean;
  readonly nullable: boolean;
  /** What the schema accepts, e.g. `an integer from 1 to 4096`. */
  readonly typeText: string;
  readonly control: Control;
  /** Set for unions that need a kind picker (`window`, `target_modules`, nullable with a non-null default). */
  readonly union?: { readonly kinds: readonly UnionKind[]; readonly selected: string };
  /**
   * Set when the parent is not a mapping yet (a `window` that is absent or a preset): an edit
   * then writes the parent as `{key: value}` instead of a key inside it.
   */
  readonly wrap?: ConfigPath;
}

export interface SectionNode extends NodeBase {
  readonly type: 'section';
  readonly present: boolean;
  /** Present but not a mapping (`train: 5`): fields show defaults, the problem explains. */
  readonly notMapping: boolean;
  readonly children: readonly FormNode[];
  /** Problems in this section and below, for the collapsed header's badge. */
  problemCount: number;
}

export interface CardNode extends NodeBase {
  readonly type: 'card';
  readonly title: string;
  readonly children: readonly FormNode[];
}

export interface CardListNode extends NodeBase {
  readonly type: 'cards';
  /** `source`, from the list's key, for "Add source". */
  readonly itemLabel: string;
  readonly items: readonly CardNode[];
  readonly canAdd: boolean;
  readonly canRemove: boolean;
  /** What "Add" appends: the item's required keys, with defaults or empty values. */
  readonly newItem: JsonValue;
}

export type FormNode = FieldNode | SectionNode | CardListNode;

export interface FormModel {
  readonly nodes: readonly FormNode[];
  /** Problems whose path matches no field, section or card (unknown keys, the document root). */
  readonly unplaced: readonly StateProblem[];
}

/** `data.sources.0.records`: a map key for a path (dots cannot occur in config keys). */
export function pathKey(path: ConfigPath): string {
  return path.join('.');
}

/** The DOM id of a path's control: unique, and a valid CSS identifier. */
export function fieldId(path: ConfigPath): string {
  return `cfg-${path.join('-')}`;
}

/** Every node with a path, depth first, including the fields inside a union's mapping. */
export function walkNodes(nodes: readonly FormNode[], visit: (node: FormNode | CardNode) => void): void {
  for (const node of nodes) {
    visit(node);
    if (node.type === 'section') {
      walkNodes(node.children, visit);
    } else if (node.type === 'cards') {
      for (const card of node.items) {
        visit(card);
        walkNodes(card.children, visit);
      }
    } else if (node.control.kind === 'object') {
      walkNodes(node.control.fields, visit);
    }
  }
}

/** What the form asks of the host (through the page's messages). */
export interface FormActions {
  set(path: ConfigPath, value: JsonValue): void;
  remove(path: ConfigPath): void;
  append(listPath: ConfigPath, item: JsonValue): void;
  /** The user picked a union kind the YAML does not show yet (e.g. `window` as a mapping). */
  pickKind(path: ConfigPath, kind: string): void;
  /** Preview the samples of `data.sources[source]`, or check its records. */
  dataset(action: 'preview' | 'check', source: number): void;
  /** Open the host's Hub picker for `model.base`. */
  pickBaseModel(): void;
}
