// One form field in the DOM: label, description, the control for its kind, its default, its
// problems. A field is built once and then updated in place from each new snapshot, so the
// element the user is typing in keeps its focus and its unsaved text. All text from the
// schema or the user's file goes in through textContent, never as HTML.

import { dottedPath } from '../../src/shared/configSchema';
import { button, el } from '../shared/dom';
import { descriptionElement, problemList, renderProblems, setDisabled, setRichText } from './dom';
import { parseInput, setIntent } from './formInput';
import type { Control, FieldNode, FormActions } from './formTypes';
import { pathKey } from './formTypes';
import { DEFAULT_KIND, NULL_KIND } from './formUnion';

/** A text, number or list field: the elements whose value the form writes and reads. */
type ValueElement = HTMLElement & { value: string; disabled: boolean };

/** What a field view offers its form: its row, and an update from the next snapshot. */
export interface FieldView {
  readonly element: HTMLElement;
  update(field: FieldNode, readOnly: boolean): void;
}

/**
 * Builds the view of a field whose structure (control kind, union kind, enum choices) is
 * `field`'s; the form rebuilds the view when that structure changes.
 */
export function createFieldView(initial: FieldNode, actions: FormActions, nested: (field: FieldNode) => HTMLElement[]): FieldView {
  let field = initial;
  const dotted = dottedPath(field.path);
  const row = el('div', 'field');
  row.dataset.field = dotted;
  row.dataset.kind = field.control.kind;

  const head = el('div', 'field-head');
  const controlId = field.id;
  const isCheckbox = field.control.kind === 'boolean' && field.union === undefined;
  if (!isCheckbox) {
    const label = document.createElement('vscode-label');
    label.setAttribute('for', field.union !== undefined ? `${controlId}-kind` : controlId);
    label.textContent = field.key;
    if (field.required) {
      label.setAttribute('required', '');
    }
    head.append(label);
  }
  const defaultBadge = el('span', 'default-badge', 'default');
  defaultBadge.title = 'Not written in the YAML: the trainer uses its default.';
  const reset = button(field.hasDefault ? 'Reset' : 'Remove', () => actions.remove(field.path));
  reset.title = field.hasDefault ? 'Remove the key from the YAML, so the default applies' : 'Remove the key from the YAML';
  reset.classList.add('reset');
  reset.setAttribute('aria-label', `${field.hasDefault ? 'Reset' : 'Remove'} ${dotted}`);
  reset.dataset.resetFor = dotted;

  const description = descriptionElement(field.description);
  const hint = el('p', 'hint');
  const localError = el('p', 'local-error');
  localError.setAttribute('role', 'alert');
  localError.hidden = true;
  const problems = problemList();
  const showLocalError = (message: string | undefined): void => {
    localError.textContent = message ?? '';
    localError.hidden = message === undefined;
  };

  let picker: (HTMLElement & { value: string; disabled: boolean }) | undefined;
  if (field.union !== undefined) {
    picker = document.createElement('vscode-single-select');
    picker.id = `${controlId}-kind`;
    picker.dataset.kindFor = dotted;
    for (const kind of field.union.kinds) {
      const option = document.createElement('vscode-option');
      option.setAttribute('value', kind.id);
      option.textContent = kind.label;
      picker.append(option);
    }
    const select = picker;
    select.addEventListener('change', () => {
      const kind = select.value;
      if (kind === field.union?.selected) {
        return;
      }
      if (kind === DEFAULT_KIND) {
        if (field.present) actions.remove(field.path);
        else actions.pickKind(field.path, kind);
      } else if (kind === NULL_KIND) {
        actions.set(field.path, null);
      } else {
        actions.pickKind(field.path, kind);
      }
    });
  }

  const control = createControl(field, controlId, dotted, actions, () => field, showLocalError, nested);
  if (field.union !== undefined && control.element !== undefined && 'label' in control.element) {
    // The row's label names the kind picker; the value's own control gets a name of its own.
    (control.element as HTMLElement & { label: string }).label = `${field.key} value`;
  }
  // A checkbox carries its own label (the key), so it heads the row.
  if (isCheckbox && control.element !== undefined) head.append(control.element);
  head.append(defaultBadge, reset);
  row.append(head, description);
  if (picker !== undefined) row.append(picker);
  if (control.element !== undefined && !isCheckbox) row.append(control.element);
  row.append(hint, localError, problems);

  const update = (next: FieldNode, readOnly: boolean): void => {
    field = next;
    row.dataset.present = String(next.present);
    defaultBadge.hidden = next.present || !next.hasDefault;
    reset.hidden = !next.present || next.required;
    setDisabled(reset, readOnly);
    // A picker or a checkbox shows its choices itself; the type is news only for typed fields.
    const showsChoices = next.union === undefined && (next.control.kind === 'enum' || next.control.kind === 'boolean');
    const parts = showsChoices ? [] : [next.typeText];
    if (next.defaultText !== undefined) parts.push(`default: ${next.defaultText}`);
    if (next.required) parts.push('required');
    setRichText(hint, parts.join(' · '));
    if (picker !== undefined && next.union !== undefined) {
      picker.value = next.union.selected;
      picker.disabled = readOnly;
    }
    control.update(next, readOnly);
    renderProblems(problems, next.problems);
    row.classList.toggle('has-error', next.problems.some((p) => p.severity === 'error'));
    row.classList.toggle('has-warning', next.problems.some((p) => p.severity === 'warning'));
    if (readOnly) showLocalError(undefined);
  };
  update(field, false);
  return { element: row, update };
}

interface ControlView {
  readonly element?: HTMLElement;
  update(field: FieldNode, readOnly: boolean): void;
}

function createControl(
  field: FieldNode,
  id: string,
  dotted: string,
  actions: FormActions,
  current: () => FieldNode,
  showError: (message: string | undefined) => void,
  nested: (field: FieldNode) => HTMLElement[],
): ControlView {
  const control = field.control;
  switch (control.kind) {
    case 'text':
    case 'number':
    case 'list':
    case 'json':
      return textControl(control, id, dotted, actions, current, showError);
    case 'enum':
      return enumControl(control, id, dotted, actions, current);
    case 'boolean':
      return booleanControl(id, dotted, actions, current);
    case 'enumList':
      return enumListControl(control, id, dotted, actions, current);
    case 'object': {
      const group = el('div', 'object-fields');
      group.setAttribute('role', 'group');
      group.setAttribute('aria-label', dotted);
      group.append(...control.fields.flatMap((child) => (child.type === 'field' ? nested(child) : [])));
      return { element: group, update: () => undefined };
    }
    case 'none':
      return { update: () => undefined };
  }
}

function textControl(
  control: Extract<Control, { kind: 'text' | 'number' | 'list' | 'json' }>,
  id: string,
  dotted: string,
  actions: FormActions,
  current: () => FieldNode,
  showError: (message: string | undefined) => void,
): ControlView {
  const multiline = control.kind === 'list' && control.itemKind === 'string';
  const input = document.createElement(multiline ? 'vscode-textarea' : 'vscode-textfield') as ValueElement;
  input.id = id;
  input.dataset.path = dotted;
  input.classList.add('control');
  if (multiline) {
    input.setAttribute('rows', '3');
    input.setAttribute('resize', 'vertical');
  }
  if (control.kind === 'number' && control.integer) {
    // Integers get the native number input (min/max, arrow keys); floats stay text, since a
    // number input with its default step marks 2e-4 as invalid.
    input.setAttribute('type', 'number');
  }
  if (control.kind === 'number' && control.min !== undefined) input.setAttribute('min', String(control.min));
  if (control.kind === 'number' && control.max !== undefined) input.setAttribute('max', String(control.max));
  /** The text last put in from a snapshot: differing text is the user's, not yet committed. */
  let rendered = '';
  const commit = (): void => {
    const field = current();
    // Enter and the blur after it both commit; the second (or an unchanged text) is a no-op.
    if (field.control.kind !== control.kind) {
      return;
    }
    if (input.value === rendered) {
      showError(undefined);
      return;
    }
    const text = input.value;
    const parsed = parseInput(field, field.control, text);
    if (!parsed.ok) {
      showError(parsed.message);
      return;
    }
    showError(undefined);
    if (parsed.value === undefined) {
      if (field.present) actions.remove(field.path);
    } else if (!field.present || JSON.stringify(parsed.value) !== JSON.stringify(field.value)) {
      const intent = setIntent(field, parsed.value);
      actions.set(intent.path, intent.value);
    }
    rendered = text;
    input.dataset.rendered = rendered;
  };
  // One edit (and one undo step) per commit: on change (blur) or Enter, not per keystroke.
  input.addEventListener('change', commit);
  if (!multiline) {
    input.addEventListener('keydown', (event) => {
      if ((event as KeyboardEvent).key === 'Enter') commit();
    });
  }
  return {
    element: input,
    update(field, readOnly) {
      const next = field.control;
      if (next.kind !== 'text' && next.kind !== 'number' && next.kind !== 'list' && next.kind !== 'json') {
        return;
      }
      const focused = document.activeElement === input;
      if (!(focused && input.value !== rendered) || readOnly) {
        input.value = next.text;
        rendered = next.text;
      }
      input.dataset.rendered = rendered;
      // A number field showing a non-number from the YAML must show it as written.
      if (next.kind === 'number' && next.integer) {
        input.setAttribute('type', next.text === '' || /^[+-]?\d+$/.test(next.text) ? 'number' : 'text');
      }
      input.setAttribute('placeholder', field.defaultText !== undefined && !field.present ? `default: ${field.defaultText}` : placeholderFor(field));
      input.disabled = readOnly;
      input.toggleAttribute('invalid', field.problems.some((p) => p.severity === 'error'));
    },
  };
}

function placeholderFor(field: FieldNode): string {
  if (field.control.kind === 'list') {
    return field.control.itemKind === 'string' ? 'one per line' : 'comma-separated, e.g. 0, 1';
  }
  return field.nullable ? 'null' : '';
}

function enumControl(
  control: Extract<Control, { kind: 'enum' }>,
  id: string,
  dotted: string,
  actions: FormActions,
  current: () => FieldNode,
): ControlView {
  const select = document.createElement('vscode-single-select');
  select.id = id;
  select.dataset.path = dotted;
  select.classList.add('control');
  const unset = document.createElement('vscode-option');
  unset.setAttribute('value', '');
  select.append(unset);
  for (const choice of control.choices) {
    const option = document.createElement('vscode-option');
    option.setAttribute('value', choice);
    option.textContent = choice;
    select.append(option);
  }
  // A value outside the enum (typed in the YAML) is shown as written, marked invalid. The
  // option is attached only while needed: the select lists every slotted option, hidden or not.
  const invalid = document.createElement('vscode-option');
  select.addEventListener('change', () => {
    const field = current();
    const value = select.value;
    if (value === '') {
      if (field.present) actions.remove(field.path);
    } else if (value !== field.value) {
      const intent = setIntent(field, value);
      actions.set(intent.path, intent.value);
    }
  });
  return {
    element: select,
    update(field, readOnly) {
      if (field.control.kind !== 'enum') return;
      const selected = field.control.selected;
      unset.textContent = field.defaultText !== undefined ? `default (${field.defaultText})` : '(not set)';
      const outside = selected !== undefined && !field.control.choices.includes(selected);
      if (outside) {
        invalid.setAttribute('value', selected);
        invalid.textContent = `${selected} (not allowed)`;
        if (invalid.parentElement !== select) select.append(invalid);
      } else {
        invalid.remove();
      }
      select.value = selected ?? '';
      select.disabled = readOnly;
      select.toggleAttribute('invalid', field.problems.some((p) => p.severity === 'error'));
    },
  };
}

function booleanControl(id: string, dotted: string, actions: FormActions, current: () => FieldNode): ControlView {
  const checkbox = document.createElement('vscode-checkbox');
  checkbox.id = id;
  checkbox.dataset.path = dotted;
  checkbox.classList.add('control');
  checkbox.label = current().key;
  checkbox.addEventListener('change', () => {
    const field = current();
    const intent = setIntent(field, checkbox.checked);
    actions.set(intent.path, intent.value);
  });
  return {
    element: checkbox,
    update(field, readOnly) {
      if (field.control.kind !== 'boolean') return;
      checkbox.checked = field.control.checked;
      checkbox.disabled = readOnly;
      // Absent: the box shows the trainer's default, marked as such beside it.
      checkbox.dataset.explicit = String(field.present);
    },
  };
}

function enumListControl(
  control: Extract<Control, { kind: 'enumList' }>,
  id: string,
  dotted: string,
  actions: FormActions,
  current: () => FieldNode,
): ControlView {
  const group = el('div', 'choices control');
  group.id = id;
  group.dataset.path = dotted;
  group.setAttribute('role', 'group');
  group.setAttribute('aria-label', current().key);
  const boxes = control.choices.map((choice) => {
    const box = document.createElement('vscode-checkbox');
    box.label = choice;
    box.value = choice;
    box.dataset.choice = choice;
    box.addEventListener('change', () => {
      const field = current();
      const selected = boxes.filter((b) => b.checked).map((b) => b.value);
      if (selected.length === 0 && field.present && !field.required) {
        actions.remove(field.path);
      } else {
        const intent = setIntent(field, selected);
        actions.set(intent.path, intent.value);
      }
    });
    return box;
  });
  group.append(...boxes);
  return {
    element: group,
    update(field, readOnly) {
      if (field.control.kind !== 'enumList') return;
      const selected = new Set(field.control.selected);
      for (const box of boxes) {
        box.checked = selected.has(box.value);
        box.disabled = readOnly;
      }
    },
  };
}

/** Everything about a field that needs a new view when it changes (not its value). */
export function fieldShape(field: FieldNode): string {
  const control = field.control;
  const parts = [pathKey(field.path), control.kind, field.union?.selected ?? '', field.wrap === undefined ? '' : 'wrap'];
  if (control.kind === 'enum' || control.kind === 'enumList') parts.push(control.choices.join('|'));
  if (control.kind === 'number') parts.push(String(control.integer));
  if (control.kind === 'list') parts.push(control.itemKind);
  if (control.kind === 'object') parts.push(...control.fields.map((f) => (f.type === 'field' ? fieldShape(f) : pathKey(f.path))));
  return parts.join(':');
}
