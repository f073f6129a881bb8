// VS Code injects the current theme as --vscode-* CSS variables on the webview's <html>.
// Canvas drawing cannot use var(), so colours are resolved here and re-resolved when the
// theme changes (VS Code rewrites the <html> style and the body's theme class).

/** The value of a CSS custom property, or `fallback` when the theme does not define it. */
export function cssVar(name: string, fallback: string): string {
  const value = getComputedStyle(document.documentElement).getPropertyValue(name).trim();
  return value.length > 0 ? value : fallback;
}

/** Calls `onChange` after VS Code switches theme. Returns a function that stops watching. */
export function watchTheme(onChange: () => void): () => void {
  const observer = new MutationObserver(() => onChange());
  observer.observe(document.documentElement, { attributes: true, attributeFilter: ['style', 'class'] });
  observer.observe(document.body, { attributes: true, attributeFilter: ['class'] });
  return () => observer.disconnect();
}
