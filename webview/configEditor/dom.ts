// Small DOM helpers of the config editor page. Text from the schema, the user's file or the
// trainer goes in through text nodes only, never as HTML.

import { dottedPath } from '../../src/shared/configSchema';
import type { StateProblem } from '../../src/shared/protocol/configEditor';
import { el } from '../shared/dom';
import { descriptionSegments } from './formInput';

export function setDisabled(node: Element, disabled: boolean): void {
  if (disabled) {
    node.setAttribute('disabled', '');
  } else {
    node.removeAttribute('disabled');
  }
}

/** Replaces `node`'s content with `text`, its `code` spans as <code> elements: text nodes only, never HTML. */
export function setRichText(node: HTMLElement, text: string): void {
  node.replaceChildren(
    ...descriptionSegments(text).map((segment) => (segment.code ? el('code', undefined, segment.text) : document.createTextNode(segment.text))),
  );
}

export function descriptionElement(text: string, className = 'description'): HTMLElement {
  const p = el('p', className);
  setRichText(p, text);
  return p;
}

export function problemList(className = 'problems'): HTMLUListElement {
  const list = el('ul', className);
  list.setAttribute('role', 'list');
  return list;
}

export function renderProblems(list: HTMLElement, problems: readonly StateProblem[], withPath = false): void {
  list.replaceChildren(
    ...problems.map((problem) => {
      const item = el('li', `problem ${problem.severity}`);
      item.dataset.severity = problem.severity;
      item.dataset.code = problem.code;
      const prefix = problem.severity === 'error' ? 'Error' : 'Warning';
      const where = withPath ? ` ${problem.path.length === 0 ? '(document)' : dottedPath(problem.path)}` : '';
      setRichText(item, `${prefix}${where}: ${problem.message}`);
      return item;
    }),
  );
  list.hidden = problems.length === 0;
}
