// Driving the VS Code workbench the way a user does: the command palette, quick open, the
// trust dialog, a tree view, and webviews (each an `iframe.webview` whose document holds the
// extension's page in a nested `iframe#active-frame`).

import type { Frame, Locator, Page } from 'playwright-core';
import type { ConsoleEntry } from './session';

export async function waitUntil<T>(
  what: string,
  check: () => Promise<T | undefined | false> | T | undefined | false,
  timeoutMs: number,
  intervalMs = 200,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined && value !== false) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs / 1000} s waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
}

const exactly = (text: string): RegExp => new RegExp(`^${text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}$`);

/** Answers the startup trust dialog as a user who trusts the folder; Restricted Mode ends. */
export async function trustWorkspace(page: Page): Promise<void> {
  await page.getByRole('button', { name: 'Yes, I trust the authors' }).click({ timeout: 30_000 });
  await page.locator('.statusbar-item', { hasText: 'Restricted Mode' }).waitFor({ state: 'hidden', timeout: 10_000 });
}

/** Opens the quick input with F1 and types `value` (a leading `>` searches commands). */
async function quickInput(page: Page, value: string): Promise<void> {
  const input = page.locator('.quick-input-widget input.input');
  await page.keyboard.press('F1');
  await input.waitFor({ state: 'visible', timeout: 5_000 });
  await input.fill(value);
}

/**
 * Clicks the quick input entry labelled exactly `label` (also an entry of a quick pick that a
 * command shows, such as the run to stop, which may still be on its way) and waits until it
 * is accepted: the widget closes, or shows the next pick in its place.
 */
export async function pickEntry(page: Page, label: string): Promise<void> {
  const row = entry(page, label);
  await row.waitFor({ state: 'visible', timeout: 10_000 });
  await row.click({ timeout: 5_000 });
  await row.waitFor({ state: 'hidden', timeout: 5_000 });
}

function entry(page: Page, label: string): Locator {
  return page
    .locator('.quick-input-widget .monaco-list-row')
    .filter({ has: page.locator('.label-name', { hasText: exactly(label) }) })
    .first();
}

/** Waits for `label` in the open quick input; fails at once if the widget closes first. */
async function entryOrClosed(page: Page, label: string): Promise<void> {
  const shown = entry(page, label).waitFor({ state: 'visible', timeout: 10_000 }).then(() => 'shown' as const);
  const closed = page.locator('.quick-input-widget').waitFor({ state: 'hidden', timeout: 10_000 }).then(() => 'closed' as const);
  const first = await Promise.any([shown, closed]);
  // The other wait runs on until its timeout; its outcome no longer matters.
  void shown.catch(() => undefined);
  void closed.catch(() => undefined);
  if (first === 'closed') throw new Error(`the quick input closed before "${label}" could be picked`);
}

/** Types `value` into the quick input and picks `label`, starting over if the input closes. */
async function quickPick(page: Page, value: string, label: string): Promise<void> {
  const widget = page.locator('.quick-input-widget');
  for (let attempt = 1; ; attempt += 1) {
    try {
      await quickInput(page, value);
      // Focus moving (an editor or a panel opening) closes the quick input: then start over.
      await entryOrClosed(page, label);
      await pickEntry(page, label);
      return;
    } catch (err) {
      if (attempt >= 3 || (await widget.isVisible())) throw err;
      console.error(`e2e: ${err instanceof Error ? err.message.split('\n')[0] : String(err)}; trying again`);
    }
  }
}

/** Runs a command by its palette title, e.g. `MedVLM: Start SFT run`. */
export async function runCommand(page: Page, title: string): Promise<void> {
  await quickPick(page, `>${title}`, title);
}

/**
 * Runs a command that asks with a quick pick (the run to stop) and picks `label` in it. Focus
 * moving meanwhile (a run panel revealing itself) closes the pick unanswered: then the command
 * is run again, as a user would.
 */
export async function runCommandAndPick(page: Page, title: string, label: string): Promise<void> {
  const widget = page.locator('.quick-input-widget');
  for (let attempt = 1; ; attempt += 1) {
    await runCommand(page, title);
    try {
      // The command's pick shows up a moment after the palette closes: wait for the entry.
      await pickEntry(page, label);
      return;
    } catch (err) {
      if (attempt >= 3 || (await widget.isVisible())) throw err;
      console.error(`e2e: ${err instanceof Error ? err.message.split('\n')[0] : String(err)}; running ${title} again`);
    }
  }
}

/** Opens a workspace file through quick open and waits for its editor tab to be active. */
export async function openFile(page: Page, fileName: string): Promise<void> {
  await quickPick(page, fileName, fileName);
  // The file may be active in more than one editor group (the config editor beside its text).
  await page.locator('.tabs-container .tab.active', { hasText: fileName }).first().waitFor({ timeout: 10_000 });
}

export interface TreeRow {
  readonly label: string;
  readonly description: string;
}

/**
 * Shows the MedVLM Runs view (its focus command; clicking the activity bar would toggle it):
 * its tree, or while there are no runs its welcome text in the tree's place.
 */
export async function showRunsView(page: Page): Promise<void> {
  const view = page.locator('.monaco-list[role="tree"][aria-label="Runs"]').or(page.getByText('No SFT runs yet.')).first();
  if (!(await view.isVisible())) {
    await runCommand(page, 'MedVLM: Focus on Runs View');
  }
  await view.waitFor({ state: 'visible', timeout: 10_000 });
}

/** The Runs view's top-level rows (runs), as shown: label and description. */
export async function readRunsView(page: Page): Promise<TreeRow[]> {
  return page
    .locator('.monaco-list[role="tree"][aria-label="Runs"] .monaco-list-row[aria-level="1"]')
    .evaluateAll((rows) =>
      rows.map((row) => ({
        label: row.querySelector('.label-name')?.textContent?.trim() ?? '',
        description: row.querySelector('.label-description')?.textContent?.trim() ?? '',
      })),
    );
}

/** The document frame of the first webview that has an element matching `selector`. */
export async function findWebviewFrame(page: Page, selector: string): Promise<Frame | undefined> {
  for (const host of await page.locator('iframe.webview').elementHandles()) {
    // A frame being replaced or closed throws anywhere here; it is simply not the one (yet).
    const inner = await host
      .contentFrame()
      .then(async (outer) => (await outer?.$('iframe#active-frame'))?.contentFrame())
      .catch(() => undefined);
    if (inner && (await inner.$(selector).catch(() => null))) return inner;
  }
  return undefined;
}

export interface WebviewExpectation {
  /** Says which webview, in failure messages. */
  readonly name: string;
  /** Identifies the webview's frame by its content. */
  readonly frame: string;
  /** Present once the page has rendered (e.g. a data attribute its script sets). */
  readonly rendered: string;
  readonly timeoutMs?: number;
}

/** Uncaught errors thrown by webview documents (their scripts run from VS Code's pre/ pages). */
const WEBVIEW_ERROR = /webview\/browser\/pre\/|vscode-resource|vscode-cdn\.net|vscode-webview:/;

/**
 * Waits for a webview to render, and fails (with what the page logged meanwhile) when it does
 * not: at once on an uncaught error in a webview, else after the timeout.
 */
export async function expectWebviewRendered(
  session: { readonly page: Page; readonly consoleEntries: readonly ConsoleEntry[] },
  expectation: WebviewExpectation,
): Promise<Frame> {
  const timeoutMs = expectation.timeoutMs ?? 30_000;
  const since = session.consoleEntries.length;
  const deadline = Date.now() + timeoutMs;
  let frame: Frame | undefined;
  for (;;) {
    frame = await findWebviewFrame(session.page, expectation.frame);
    if (frame && (await frame.$(expectation.rendered).catch(() => null))) return frame;
    const fresh = session.consoleEntries.slice(since);
    const thrown = fresh.filter((e) => e.type === 'pageerror' && WEBVIEW_ERROR.test(e.where));
    if (thrown.length > 0 || Date.now() > deadline) {
      // The error can be logged before this loop first sees the webview's frame: look again
      // for a moment, so the report names the webview that threw.
      for (let tries = 0; frame === undefined && thrown.length > 0 && tries < 12; tries++) {
        await new Promise((resolve) => setTimeout(resolve, 250));
        frame = await findWebviewFrame(session.page, expectation.frame);
      }
      const state = frame
        ? `its frame (${expectation.frame}) is there but ${expectation.rendered} never appeared`
        : `no webview has ${expectation.frame}`;
      const errors = fresh.filter((e) => e.type === 'pageerror' || e.type === 'error');
      const own = frame ? webviewConsole(errors, frame) : [];
      const list = (entries: readonly ConsoleEntry[]): string => entries.map((e) => `  [${e.type}] ${e.text}`).join('\n') || '  (none)';
      throw new Error(
        `webview "${expectation.name}" did not render${thrown.length > 0 ? ' (its script threw)' : ` within ${timeoutMs / 1000} s`}: ${state}.\n` +
          (frame ? `Errors in this webview:\n${list(own)}\nOther errors in the page:\n` : 'Errors in the page:\n') +
          list(errors.filter((e) => !own.includes(e))),
      );
    }
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
}

/** Where a frame's (CSS pixel) rectangle is on the page, for page screenshots. */
export async function frameOffset(frame: Frame): Promise<{ x: number; y: number }> {
  const box = await (await frame.frameElement()).boundingBox();
  if (box === null) throw new Error('the webview frame is not visible');
  return { x: box.x, y: box.y };
}

/**
 * What one webview logged: entries from its frames (VS Code's pre/ pages carry the webview's
 * id in their URL) or from scripts of the extension that owns it.
 */
export function webviewConsole(entries: readonly ConsoleEntry[], frame: Frame, extensionId?: string): ConsoleEntry[] {
  const id = new URL(frame.url()).searchParams.get('id');
  return entries.filter(
    (e) => (id !== null && e.where.includes(`id=${id}`)) || (extensionId !== undefined && e.where.includes(`/${extensionId}-`)),
  );
}
