// The form: one collapsible section per top-level key, nested sub-sections, list cards, and
// the fields. Each snapshot either updates the existing views in place (the usual case, so
// focus and half-typed text survive) or, when the structure changed (a card added, a union
// kind switched), rebuilds and puts focus and open sections back where they were.

import '@vscode-elements/elements/dist/vscode-button/index.js';
import '@vscode-elements/elements/dist/vscode-checkbox/index.js';
import '@vscode-elements/elements/dist/vscode-collapsible/index.js';
import '@vscode-elements/elements/dist/vscode-label/index.js';
import '@vscode-elements/elements/dist/vscode-option/index.js';
import '@vscode-elements/elements/dist/vscode-single-select/index.js';
import '@vscode-elements/elements/dist/vscode-textarea/index.js';
import '@vscode-elements/elements/dist/vscode-textfield/index.js';
import { dottedPath } from '../../src/shared/configSchema';
import { button, el } from '../shared/dom';
import { descriptionElement, problemList, renderProblems, setDisabled } from './dom';
import type { FieldView } from './fields';
import { createFieldView, fieldShape } from './fields';
import type { CardListNode, CardNode, FieldNode, FormActions, FormModel, FormNode, SectionNode } from './formTypes';
import { pathKey, walkNodes } from './formTypes';

/** Updates a built node from the next snapshot of the same structure. */
type Updater = (node: FormNode | CardNode, readOnly: boolean) => void;

export class ConfigForm {
  private shape = '';
  private readonly updaters = new Map<string, Updater>();
  /** Open or closed, per section path, as the user left them; survives rebuilds. */
  private readonly openSections = new Map<string, boolean>();
  /** Buttons outside fields (Add, Remove), disabled in read-only mode. */
  private buttons: HTMLElement[] = [];

  constructor(
    private readonly root: HTMLElement,
    private readonly actions: FormActions,
    /** Sections as the user left them before the page was hidden, and where to report changes. */
    openSections: ReadonlyMap<string, boolean> = new Map(),
    private readonly onSectionsChanged: (open: ReadonlyMap<string, boolean>) => void = () => undefined,
  ) {
    for (const [key, open] of openSections) this.openSections.set(key, open);
  }

  render(model: FormModel, readOnly: boolean): void {
    const shape = formShape(model.nodes);
    const restore = shape !== this.shape ? this.captureFocus() : undefined;
    if (shape !== this.shape) {
      this.rebuild(model, shape);
    }
    walkNodes(model.nodes, (node) => this.updaters.get(pathKey(node.path))?.(node, readOnly));
    for (const node of this.buttons) {
      setDisabled(node, readOnly);
    }
    restore?.();
  }

  private rebuild(model: FormModel, shape: string): void {
    this.shape = shape;
    this.updaters.clear();
    this.buttons = [];
    this.root.replaceChildren(...model.nodes.map((node) => this.node(node, 0)));
  }

  /**
   * Remembers the focused control and its text, for after a rebuild: the new control of the
   * same path gets the focus and the text the user had not committed yet.
   */
  private captureFocus(): (() => void) | undefined {
    const active = document.activeElement as (HTMLElement & { value?: unknown }) | null;
    if (active === null || !this.root.contains(active)) {
      return undefined;
    }
    const selector =
      active.dataset.path !== undefined
        ? `[data-path="${CSS.escape(active.dataset.path)}"]`
        : active.dataset.kindFor !== undefined
          ? `[data-kind-for="${CSS.escape(active.dataset.kindFor)}"]`
          : undefined;
    if (selector === undefined) {
      return undefined;
    }
    // Only text the user typed and has not committed; `data-rendered` is what the snapshot put in.
    const dirty = typeof active.value === 'string' && active.dataset.rendered !== undefined && active.value !== active.dataset.rendered;
    const text = dirty ? (active.value as string) : undefined;
    return () => {
      const next = this.root.querySelector<HTMLElement & { value?: unknown; updateComplete?: Promise<unknown> }>(selector);
      if (next === null) {
        return;
      }
      if (text !== undefined && typeof next.value === 'string' && next.value !== text) {
        next.value = text;
      }
      // A new element renders its inner input asynchronously; focus lands once it exists.
      void (next.updateComplete ?? Promise.resolve()).then(() => next.focus());
    };
  }

  private node(node: FormNode, depth: number): HTMLElement {
    switch (node.type) {
      case 'section':
        return this.section(node, depth);
      case 'cards':
        return this.cards(node, depth);
      case 'field':
        return this.field(node);
    }
  }

  private field(node: FieldNode): HTMLElement {
    const view: FieldView = createFieldView(node, this.actions, (child) => [this.field(child)]);
    this.updaters.set(pathKey(node.path), (next, readOnly) => {
      if (next.type === 'field') view.update(next, readOnly);
    });
    if (dottedPath(node.path) === 'model.base') {
      // The Hub picker (search, size, gated and access) sets the field through the host.
      const browse = button('Browse Hugging Face…', () => this.actions.pickBaseModel());
      browse.dataset.pickBaseModel = 'model.base';
      browse.setAttribute('aria-label', 'Pick model.base from Hugging Face');
      this.buttons.push(browse);
      view.element.append(browse);
    }
    return view.element;
  }

  private section(node: SectionNode, depth: number): HTMLElement {
    const key = pathKey(node.path);
    const collapsible = document.createElement('vscode-collapsible');
    collapsible.heading = node.key;
    collapsible.classList.add('section', depth === 0 ? 'top' : 'nested');
    collapsible.dataset.section = dottedPath(node.path);
    collapsible.open = this.openSections.get(key) ?? (depth > 0 || node.present || node.problemCount > 0);
    collapsible.addEventListener('vsc-collapsible-toggle', (event) => {
      if (event.target === collapsible) {
        this.openSections.set(key, event.detail.open);
        this.onSectionsChanged(this.openSections);
      }
    });
    const badge = el('span', 'problem-badge');
    badge.slot = 'decorations';
    collapsible.append(badge);

    const body = el('div', 'section-body');
    if (node.description !== '') body.append(descriptionElement(node.description, 'section-description'));
    const notMapping = el('p', 'section-note');
    const problems = problemList();
    body.append(notMapping, problems, ...node.children.map((child) => this.node(child, depth + 1)));
    collapsible.append(body);

    this.updaters.set(key, (next, _readOnly) => {
      if (next.type !== 'section') return;
      badge.textContent = next.problemCount > 0 ? String(next.problemCount) : '';
      badge.hidden = next.problemCount === 0;
      badge.title = `${next.problemCount} problem(s) in ${next.key}`;
      badge.classList.toggle('has-error', sectionHasError(next));
      notMapping.hidden = !next.notMapping;
      notMapping.textContent = next.notMapping ? `${next.key} is not a mapping in the YAML: the fields below show the defaults.` : '';
      renderProblems(problems, next.problems);
    });
    return collapsible;
  }

  private cards(node: CardListNode, depth: number): HTMLElement {
    const wrapper = el('div', 'cards');
    wrapper.dataset.list = dottedPath(node.path);
    const heading = el('h3', 'cards-heading', node.key);
    const problems = problemList();
    const list = el('div', 'card-list');
    list.append(...node.items.map((card) => this.card(card, node, depth)));
    const add = button(`Add ${node.itemLabel}`, () => this.actions.append(node.path, node.newItem));
    add.dataset.addFor = dottedPath(node.path);
    this.buttons.push(add);
    wrapper.append(heading, descriptionElement(node.description), problems, list, add);
    this.updaters.set(pathKey(node.path), (next, readOnly) => {
      if (next.type !== 'cards') return;
      renderProblems(problems, next.problems);
      setDisabled(add, readOnly || !next.canAdd);
    });
    return wrapper;
  }

  private card(card: CardNode, list: CardListNode, depth: number): HTMLElement {
    const section = el('section', 'card');
    const dotted = dottedPath(card.path);
    section.dataset.card = dotted;
    section.setAttribute('aria-label', card.title);
    const header = el('div', 'card-header');
    const title = el('h4', 'card-title', card.title);
    const remove = button('Remove', () => this.actions.remove(card.path));
    remove.dataset.removeFor = dotted;
    remove.setAttribute('aria-label', `Remove ${card.title}`);
    this.buttons.push(remove);
    header.append(title);
    const index = card.path[card.path.length - 1];
    if (dottedPath(list.path) === 'data.sources' && typeof index === 'number') {
      // Reading the records runs nothing: these stay enabled in a read-only (untrusted) form.
      for (const [action, label] of [['preview', 'Preview samples'], ['check', 'Check dataset']] as const) {
        const dataset = button(label, () => this.actions.dataset(action, index));
        dataset.dataset.datasetAction = `${action}:${index}`;
        dataset.setAttribute('aria-label', `${label} of ${card.title}`);
        header.append(dataset);
      }
    }
    header.append(remove);
    const problems = problemList();
    section.append(header, problems, ...card.children.map((child) => this.node(child, depth + 1)));
    this.updaters.set(pathKey(card.path), (next, readOnly) => {
      if (next.type !== 'card') return;
      title.textContent = next.title;
      section.setAttribute('aria-label', next.title);
      renderProblems(problems, next.problems);
      setDisabled(remove, readOnly || !list.canRemove);
    });
    return section;
  }
}

function sectionHasError(section: SectionNode): boolean {
  let error = false;
  walkNodes([section], (node) => {
    if (node.problems.some((p) => p.severity === 'error')) error = true;
  });
  return error;
}

/** The structure of the whole form; when it is unchanged, values are updated in place. */
export function formShape(nodes: readonly FormNode[]): string {
  const parts: string[] = [];
  walkNodes(nodes, (node) => {
    switch (node.type) {
      case 'field':
        parts.push(fieldShape(node));
        break;
      case 'cards':
        parts.push(`${pathKey(node.path)}:cards:${node.items.length}:${String(node.canRemove)}`);
        break;
      default:
        parts.push(`${pathKey(node.path)}:${node.type}`);
    }
  });
  return parts.join('\n');
}
