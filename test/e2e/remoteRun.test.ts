// A run on a remote target from "Start SFT run", in a real VS Code (code-server + Chromium),
// against a real sshd on 127.0.0.1 (../unit/helpers/localSshd.ts) and the real trainer on the
// tiny model on CPU. The target comes from the medvlm.remote.targets user setting; the run
// config names it in `launch.target` and its data by paths on the host (relative to the
// target's work folder). The Runs view lists the run and the run panel charts exactly the loss
// points the trainer wrote on the host.

import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, afterEach, before, describe, test } from 'node:test';
import { closeSsh } from '../../src/core/remote/ssh';
import type { LocalSshd } from '../unit/helpers/localSshd';
import { startLocalSshd } from '../unit/helpers/localSshd';
import { hostConfig, makeHostData } from '../unit/helpers/hostData';
import { resetArtifacts, saveArtifactsAfterEach } from './harness/artifacts';
import { lossPoints, statusOf, TERMINAL } from './harness/runs';
import type { Session } from './harness/session';
import { startSession, trainerPython } from './harness/session';
import { expectWebviewRendered, openFile, readRunsView, runCommand, showRunsView, waitUntil } from './harness/workbench';

const SUITE = 'remote';
const CONFIG = 'remote.sft.yaml';
const TARGET = 'loopback gpu box';
const STEPS = 12;

describe('a run on a remote target in VS Code (code-server + Chromium, real sshd)', () => {
  let session: Session | undefined;
  let sshd: LocalSshd | undefined;
  let work = '';

  before(async () => {
    resetArtifacts(SUITE);
    sshd = await startLocalSshd();
    work = mkdtempSync(path.join(os.tmpdir(), 'medvlm-e2e-host-'));
    makeHostData(trainerPython(), work);
    const config = `${hostConfig(STEPS)}\nlaunch:\n  target: ${TARGET}\n`;
    const host = sshd;
    session = await startSession({
      name: 'remote',
      prepareWorkspace: (dir) => {
        writeFileSync(path.join(dir, CONFIG), config);
        return Promise.resolve();
      },
      userSettings: { 'medvlm.remote.targets': [{ name: TARGET, host: host.alias, workFolder: work, sshConfigFile: host.configFile }] },
    });
  }, { timeout: 20 * 60_000 });

  after(async () => {
    await session?.close();
    if (sshd) {
      await closeSsh({ alias: sshd.alias, configFile: sshd.configFile });
      await sshd.stop();
    }
    if (work) rmSync(work, { recursive: true, force: true });
  });
  afterEach(saveArtifactsAfterEach(SUITE, () => session));

  test('Start SFT run on the loopback target: the Runs view follows it to the end, the panel charts every step the host wrote', { timeout: 420_000 }, async () => {
    assert.ok(session, 'the session did not start');
    const s = session;
    await openFile(s.page, CONFIG);
    await showRunsView(s.page);
    await runCommand(s.page, 'MedVLM: Start SFT run');
    const seen: string[] = [];
    const row = await waitUntil(
      'the remote run to finish',
      async () => {
        const run = (await readRunsView(s.page)).find((r) => /-remote$/.test(r.label));
        if (run && seen.at(-1) !== run.description) seen.push(run.description);
        if (run && TERMINAL.has(statusOf(run)) && statusOf(run) !== 'finished') assert.fail(`the run ended ${run.description}`);
        return run && statusOf(run) === 'finished' ? run : undefined;
      },
      300_000,
      500,
    );
    console.log(`# Runs view: ${seen.join(' -> ')}`);
    const runId = row.label;
    const hostEvents = readFileSync(path.join(work, 'runs', runId, 'events.jsonl'), 'utf8');
    const mirrored = readFileSync(path.join(s.workspace, '.medvlm', 'runs', runId, 'events.jsonl'), 'utf8');
    assert.equal(mirrored, hostEvents, 'the run folder here holds the host’s events, byte for byte');
    const runJson = JSON.parse(readFileSync(path.join(s.workspace, '.medvlm', 'runs', runId, 'run.json'), 'utf8')) as { target: Record<string, unknown> };
    assert.deepEqual({ kind: runJson.target.kind, name: runJson.target.name, run_dir: runJson.target.run_dir }, { kind: 'ssh', name: TARGET, run_dir: path.join(work, 'runs', runId) });

    // "Start SFT run" opened the run's panel; it shows the run finished, every step once.
    const frame = await expectWebviewRendered(s, { name: `run panel of ${runId}`, frame: 'main#app canvas', rendered: 'body[data-run-status="finished"]' });
    const expected = lossPoints(hostEvents);
    assert.deepEqual(expected.trainLoss.map((p) => p.x), Array.from({ length: STEPS }, (_, i) => i + 1));
    await frame.waitForFunction((n) => document.body.dataset.trainLossPoints === String(n), expected.trainLoss.length, { timeout: 15_000 });
    const chart = await frame.evaluate(() => window.__medvlmRunPanel!.chartData());
    assert.deepEqual(chart.trainLoss, expected.trainLoss);
    assert.deepEqual(chart.evalLoss, expected.evalLoss);
  });
});
