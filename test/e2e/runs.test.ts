// Runs that survive the editor, in a real VS Code (code-server + Chromium): a window reload
// during a run re-attaches it (the Runs view and its panel keep streaming, the chart has every
// step once, no gap), and a stopped run resumes from its checkpoint to the end.

import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { after, afterEach, before, describe, test } from 'node:test';
import type { Page } from 'playwright-core';
import { resetArtifacts, saveArtifactsAfterEach } from './harness/artifacts';
import { DEMO_CONFIG, makeDemoWorkspace } from './harness/demoWorkspace';
import { lossPoints, statusOf, stepOf, TERMINAL } from './harness/runs';
import type { Session } from './harness/session';
import { startSession } from './harness/session';
import type { TreeRow } from './harness/workbench';
import { expectWebviewRendered, openFile, readRunsView, runCommand, runCommandAndPick, showRunsView, waitUntil } from './harness/workbench';

const SUITE = 'runs';
/**
 * Long enough that a reload or a stop lands mid-run. The tiny model trains about four steps a
 * second here: with 24 steps the run went from its first checkpoint to its end in 5 s, and CI
 * once saw "Stop run" offer no active run because the run had finished before the palette did.
 */
const MAX_STEPS = 96;

/** The demo workspace, with a longer run that saves a checkpoint every 4 steps. */
async function longerDemo(dir: string): Promise<void> {
  await makeDemoWorkspace(dir);
  const file = path.join(dir, DEMO_CONFIG);
  const text = readFileSync(file, 'utf8');
  const longer = text.replace(/^(\s*)max_steps: \d+/m, `$1max_steps: ${MAX_STEPS}`);
  assert.notEqual(longer, text, 'the demo config sets max_steps');
  writeFileSync(file, longer);
}

async function runRow(page: Page, runId: string): Promise<TreeRow | undefined> {
  return (await readRunsView(page)).find((row) => row.label === runId);
}

describe('runs in VS Code (code-server + Chromium)', () => {
  let session: Session | undefined;
  const need = (): Session => {
    assert.ok(session, 'the session did not start');
    return session;
  };
  const eventsOf = (runId: string): string => readFileSync(path.join(need().workspace, '.medvlm', 'runs', runId, 'events.jsonl'), 'utf8');

  before(async () => {
    resetArtifacts(SUITE);
    session = await startSession({ name: 'runs', prepareWorkspace: longerDemo });
  }, { timeout: 20 * 60_000 });
  after(async () => {
    await session?.close();
  });
  afterEach(saveArtifactsAfterEach(SUITE, () => session));

  /** Starts the demo run and waits until it is training; returns its id. */
  async function startTraining(page: Page): Promise<string> {
    const before = new Set((await readRunsView(page)).map((row) => row.label));
    await openFile(page, DEMO_CONFIG);
    await showRunsView(page);
    await runCommand(page, 'MedVLM: Start SFT run');
    const row = await waitUntil(
      'the new run to train',
      async () => {
        const fresh = (await readRunsView(page)).find((r) => !before.has(r.label));
        if (fresh && TERMINAL.has(statusOf(fresh))) assert.fail(`the run ended ${fresh.description} before the test could act`);
        return fresh && statusOf(fresh) === 'training' && (stepOf(fresh) ?? 0) >= 2 ? fresh : undefined;
      },
      180_000,
      250,
    );
    return row.label;
  }

  test('a window reload during a run re-attaches it: the view and panel keep streaming, each step charted once', { timeout: 360_000 }, async () => {
    const s = need();
    const runId = await startTraining(s.page);
    const stepBefore = stepOf((await runRow(s.page, runId))!) ?? 0;
    await runCommand(s.page, 'Developer: Reload Window');
    await s.page.waitForSelector('.monaco-workbench', { timeout: 60_000 });
    // The window comes back with the Runs view where it was; its tree fills once the
    // extension host is up again (the palette may not list the extension's commands before).
    await s.page.locator('.monaco-list[role="tree"][aria-label="Runs"]').waitFor({ state: 'visible', timeout: 90_000 });
    // Back from the run folder, and still live: its step moves on after the reload.
    const seen = await waitUntil(
      'the run to reappear and move on after the reload',
      async () => {
        const row = await runRow(s.page, runId);
        return row && (stepOf(row) ?? 0) > stepBefore ? row : undefined;
      },
      120_000,
      250,
    );
    assert.ok(!TERMINAL.has(statusOf(seen)) || statusOf(seen) === 'finished', `after the reload the run reads ${seen.description}`);
    await runCommandAndPick(s.page, 'MedVLM: Open run panel', runId);
    await waitUntil('the run to finish', async () => statusOf((await runRow(s.page, runId)) ?? { label: '', description: '' }) === 'finished', 240_000, 500);
    const frame = await expectWebviewRendered(s, { name: `run panel of ${runId}`, frame: 'main#app canvas', rendered: 'body[data-run-status="finished"]' });
    const expected = lossPoints(eventsOf(runId));
    assert.equal(expected.trainLoss.length, MAX_STEPS, 'the demo logs the train loss every step');
    await frame.waitForFunction((n) => document.body.dataset.trainLossPoints === String(n), expected.trainLoss.length, { timeout: 15_000 });
    const chart = await frame.evaluate(() => window.__medvlmRunPanel!.chartData());
    assert.deepEqual(chart.trainLoss, expected.trainLoss, 'every step once, in order, with the values the trainer wrote');
    assert.deepEqual(chart.evalLoss, expected.evalLoss);
  });

  test('a stopped run resumes from its checkpoint to the end: each step charted once, the latest value', { timeout: 420_000 }, async () => {
    const s = need();
    const runId = await startTraining(s.page);
    // Stop once a checkpoint exists (the demo saves every 4 steps).
    await waitUntil('a checkpoint of the run', () => /"type": ?"checkpoint"/.test(eventsOf(runId)), 120_000, 250);
    await runCommandAndPick(s.page, 'MedVLM: Stop run', runId);
    const stopped = await waitUntil('the run to stop', async () => {
      const row = await runRow(s.page, runId);
      return row && TERMINAL.has(statusOf(row)) ? row : undefined;
    }, 150_000, 250);
    assert.equal(statusOf(stopped), 'stopped', `the stopped run reads ${stopped.description}`);
    const stoppedAt = stepOf(stopped) ?? 0;
    assert.ok(stoppedAt < MAX_STEPS, `stopped before the end (${stopped.description})`);

    await runCommandAndPick(s.page, 'MedVLM: Resume run from checkpoint', runId);
    await waitUntil('the resumed run to finish', async () => statusOf((await runRow(s.page, runId)) ?? { label: '', description: '' }) === 'finished', 300_000, 500);
    const events = eventsOf(runId);
    const starts = events.split('\n').filter((line) => /"type": ?"run_started"/.test(line)).map((line) => JSON.parse(line) as { attempt?: number; resume_step?: number | null });
    assert.equal(starts.length, 2, 'a second attempt in the same run folder');
    assert.equal(starts[1]?.attempt, 2);
    assert.ok(typeof starts[1]?.resume_step === 'number' && starts[1].resume_step > 0 && starts[1].resume_step <= stoppedAt, `resumed from a checkpoint at or before step ${stoppedAt}: ${JSON.stringify(starts[1])}`);

    await runCommandAndPick(s.page, 'MedVLM: Open run panel', runId);
    const frame = await expectWebviewRendered(s, { name: `run panel of ${runId}`, frame: 'main#app canvas', rendered: 'body[data-run-status="finished"]' });
    const expected = lossPoints(events);
    assert.deepEqual(expected.trainLoss.map((p) => p.x), Array.from({ length: MAX_STEPS }, (_, i) => i + 1), 'the events hold every step');
    await frame.waitForFunction((n) => document.body.dataset.trainLossPoints === String(n), expected.trainLoss.length, { timeout: 15_000 });
    const chart = await frame.evaluate(() => window.__medvlmRunPanel!.chartData());
    assert.deepEqual(chart.trainLoss, expected.trainLoss, 'each step once, with the resumed attempt’s value where both logged it');
  });
});
