// DOM helpers shared by the webviews. Text from the schema, the user's files or the trainer
// goes in through text nodes only, never as HTML.

export function el<K extends keyof HTMLElementTagNameMap>(tag: K, className?: string, text?: string): HTMLElementTagNameMap[K] {
  const node = document.createElement(tag);
  if (className !== undefined) {
    node.className = className;
  }
  if (text !== undefined) {
    node.textContent = text;
  }
  return node;
}

export function button(label: string, onClick: () => void, secondary = true): HTMLElement {
  const node = document.createElement('vscode-button');
  node.textContent = label;
  if (secondary) {
    node.setAttribute('secondary', '');
  }
  node.addEventListener('click', () => {
    if (!node.hasAttribute('disabled')) {
      onClick();
    }
  });
  return node;
}
