// What an e2e test leaves behind for a person to look at: a screenshot of every test's end
// state and, when it failed, the page's console and the code-server and extension host logs.
// Folder: test-artifacts/e2e/<suite>/ (git-ignored), or E2E_ARTIFACTS_DIR/<suite>/.

import { copyFileSync, existsSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { SuiteContext, TestContext } from 'node:test';
import { repoRoot } from '../../unit/testUtil';
import type { ConsoleEntry, Session } from './session';

export function artifactsDir(suite: string): string {
  return path.join(process.env.E2E_ARTIFACTS_DIR || path.join(repoRoot, 'test-artifacts', 'e2e'), suite);
}

/** Empties the suite's folder, so what is there after a run belongs to that run. */
export function resetArtifacts(suite: string): string {
  const dir = artifactsDir(suite);
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  return dir;
}

const slug = (name: string): string => name.toLowerCase().replace(/[^a-z0-9]+/g, '-').replace(/^-|-$/g, '').slice(0, 80);

export function formatConsole(entries: readonly ConsoleEntry[]): string {
  return entries.map((e) => `${e.at.toISOString()} [${e.type}] ${e.text}${e.where ? `\n    at ${e.where.split('\n').join('\n    ')}` : ''}`).join('\n');
}

/**
 * An `afterEach` hook for node:test. The test context says whether the test passed (Node
 * 20.12+; @types/node 20 does not declare it yet). `session()` is read when the hook runs, so
 * a session created in `before` is seen.
 */
export function saveArtifactsAfterEach(suite: string, session: () => Session | undefined): (t: TestContext | SuiteContext) => Promise<void> {
  let index = 0;
  return async (t) => {
    index += 1;
    const current = session();
    if (current === undefined) return;
    const base = path.join(artifactsDir(suite), `${String(index).padStart(2, '0')}-${slug(t.name)}`);
    mkdirSync(path.dirname(base), { recursive: true });
    const outcome = t as { readonly passed?: boolean; readonly error?: unknown };
    await saveArtifacts(current, base, outcome.passed === false ? outcome.error ?? 'failed' : undefined);
  };
}

/** Screenshot always; console, logs and the error too when `failure` is given. */
export async function saveArtifacts(session: Session, base: string, failure?: unknown): Promise<void> {
  try {
    await session.page.screenshot({ path: `${base}.png`, timeout: 10_000 });
  } catch (err) {
    writeFileSync(`${base}.screenshot-failed.txt`, String(err));
  }
  if (failure === undefined) return;
  // node:test wraps what the test threw (ERR_TEST_FAILURE); the cause has the useful stack.
  const error = failure instanceof Error && failure.cause instanceof Error ? failure.cause : failure;
  writeFileSync(`${base}.error.txt`, error instanceof Error ? `${error.stack ?? error.message}\n` : `${String(error)}\n`);
  writeFileSync(`${base}.console.log`, `${formatConsole(session.consoleEntries)}\n`);
  if (existsSync(session.codeServerLog)) copyFileSync(session.codeServerLog, `${base}.code-server.log`);
  writeFileSync(`${base}.exthost.log`, session.extHostLog());
}
