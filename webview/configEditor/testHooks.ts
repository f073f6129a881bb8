// What e2e and render tests read from the config editor page (window.__medvlmConfigEditor).
// Every control also carries `data-path="train.learning_rate"` (the CLI's dotted path), so a
// test that can only drive the DOM finds a field by its path; these hooks report what the
// form believes each field holds.

import type { JsonValue } from '../../src/shared/configSchema';

export interface FieldSnapshot {
  /** The control kind: text, number, enum, boolean, list, enumList, object, none, json. */
  readonly kind: string;
  /** The key is written in the YAML. */
  readonly present: boolean;
  readonly value: JsonValue | undefined;
  /** What the control shows: its text, its selected choice, or its checked state. */
  readonly shown: string | boolean | readonly string[] | undefined;
  readonly defaultText: string | undefined;
  /** The selected union kind, for fields with a kind picker. */
  readonly unionKind: string | undefined;
  readonly disabled: boolean;
  /** `error: message` for each problem shown under the field. */
  readonly problems: readonly string[];
}

export interface ConfigEditorTestHooks {
  /** The dotted paths of every field in the form, in order. */
  fieldPaths(): string[];
  field(path: string): FieldSnapshot | undefined;
  /** Problems listed at the top because no field matches their path. */
  unplacedProblems(): string[];
  readOnly(): boolean;
  /** The document version of the last state shown. */
  version(): number | undefined;
  /** Host messages the page ignored because they did not validate. */
  rejectedMessages(): number;
}

declare global {
  interface Window {
    __medvlmConfigEditor?: ConfigEditorTestHooks;
  }
}
