// The walking skeleton as a user meets it, in a real VS Code (code-server) driven by a real
// browser: the packaged VSIX activates only when used, "Start SFT run" on the demo config
// trains the tiny model on the CPU, the Runs view follows the run to `finished`, and the run
// panel draws exactly the loss points the trainer wrote. Signed in to Hugging Face (a local
// stand-in for the Hub on 127.0.0.1, see test/unit/localHub.ts), the run gets the token in its
// environment and nowhere else. The tests share one session and run in order (each builds on
// the state the previous one left).

import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { after, afterEach, before, describe, test } from 'node:test';
import type { SeriesName, SeriesPoint } from '../../webview/runPanel/series';
import type { LocalHub } from '../unit/localHub';
import { startLocalHub } from '../unit/localHub';
import { artifactsDir, resetArtifacts, saveArtifactsAfterEach } from './harness/artifacts';
import { DEMO_CONFIG, makeDemoWorkspace, PLAIN_FILE } from './harness/demoWorkspace';
import { countColour, decodePng, parseCssColour } from './harness/png';
import { lossPoints, statusOf, TERMINAL } from './harness/runs';
import type { Session } from './harness/session';
import { EXTENSION_ID, startSession } from './harness/session';
import {
  expectWebviewRendered,
  frameOffset,
  openFile,
  pickEntry,
  runCommandAndPick,
  readRunsView,
  runCommand,
  showRunsView,
  waitUntil,
  webviewConsole,
} from './harness/workbench';

const SUITE = 'walking-skeleton';

/**
 * Waits for a notification matching `text`. A toast may come and go between two looks (the
 * workbench hides info toasts on its own schedule): what is not seen as a toast is looked for
 * in the notification centre.
 */
async function expectNotification(s: Session, text: RegExp, hubRequests: () => readonly string[]): Promise<void> {
  const seen = new Set<string>();
  const look = async (where: string) => {
    for (const message of await s.page.locator(`${where} .notification-list-item-message`).allTextContents()) seen.add(message);
    return [...seen].some((m) => text.test(m));
  };
  const deadline = Date.now() + 5_000;
  while (Date.now() < deadline) {
    if (await look('.notifications-toasts')) return;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  await runCommand(s.page, 'Notifications: Show Notifications');
  await waitUntil(`a notification matching ${text} (seen: ${JSON.stringify([...seen])}; the Hub saw ${JSON.stringify(hubRequests())})`, () => look('.notifications-center'), 30_000, 200);
  await s.page.keyboard.press('Escape');
}
const HF_TOKEN = 'hf_e2eTokenThatMustOnlyBeInTheEnvironment';
const ACTIVATED = new RegExp(`ExtensionService#_doActivateExtension ${EXTENSION_ID.replace('.', '\\.')}\\b.*`);

describe('MedVLM Studio in VS Code (code-server + Chromium)', () => {
  let session: Session | undefined;
  let runId: string | undefined;
  let hub: LocalHub | undefined;
  const need = (): Session => {
    assert.ok(session, 'the e2e session did not start (see the before hook)');
    return session;
  };

  // Cold, this includes the one-time code-server install (a few minutes).
  before(async () => {
    resetArtifacts(SUITE);
    hub = await startLocalHub({
      hfToken: HF_TOKEN,
      wandbKey: 'unused-in-this-suite',
      user: 'radiologist',
      models: [
        { id: 'google/medgemma-4b-it', gated: 'manual', parameters: 4_300_079_472, downloads: 900 },
        { id: 'lab/medgemma-ct-lora', downloads: 5 },
      ],
    });
    session = await startSession({ name: 'skeleton', prepareWorkspace: makeDemoWorkspace, userSettings: { 'medvlm.huggingFace.endpoint': hub.url } });
  }, { timeout: 20 * 60_000 });
  after(async () => {
    await session?.close();
    await hub?.close();
  });
  afterEach(saveArtifactsAfterEach(SUITE, () => session));

  test('activates only when one of its commands is used', { timeout: 90_000 }, async () => {
    const s = need();
    await openFile(s.page, PLAIN_FILE);
    // Activation events are handled in order: once the startup ones and the markdown file's
    // onLanguage have been, an activation caused by the workbench or the open file would have.
    await waitUntil(
      'the extension host to finish starting up and handle the open markdown file',
      () => /Eager extensions activated/.test(s.extHostLog()) && /activationEvent: 'onLanguage:markdown'/.test(s.extHostLog()),
      45_000,
    );
    await new Promise((resolve) => setTimeout(resolve, 1000));
    assert.doesNotMatch(s.extHostLog(), ACTIVATED, 'MedVLM activated although none of its commands, views or files was used');

    await runCommand(s.page, 'MedVLM: Refresh runs');
    const line = await waitUntil('MedVLM to activate', () => ACTIVATED.exec(s.extHostLog())?.[0], 20_000);
    assert.match(line, /activationEvent: 'onCommand:medvlm\.refreshRuns'/);
  });

  test('Sign in to Hugging Face checks the token with the Hub, refuses a bad one, keeps a good one', { timeout: 90_000 }, async () => {
    const s = need();
    const signIn = async (token: string) => {
      await runCommand(s.page, 'MedVLM: Sign in to Hugging Face');
      // The command's own input box, a password box (the palette's input is the same element
      // until the command's box replaces it).
      const input = s.page.locator('.quick-input-widget input.input[type="password"]');
      await input.waitFor({ state: 'visible', timeout: 10_000 });
      await s.page.locator('.quick-input-widget .quick-input-message', { hasText: 'settings/tokens' }).waitFor({ timeout: 10_000 });
      await input.fill(token);
      // An Enter that arrives while the box still validates the typed text is not taken:
      // press again until the box closes.
      await waitUntil(
        'the token box to take the token',
        async () => {
          if (!(await input.isVisible())) return true;
          await input.press('Enter');
          return input.waitFor({ state: 'hidden', timeout: 1_000 }).then(
            () => true,
            () => false,
          );
        },
        10_000,
      );
    };
    const toast = (text: RegExp) => expectNotification(need(), text, () => hub?.requests ?? []);
    await signIn('hf_NotTheRightOne');
    await toast(/Hugging Face refused the token \(401\)/);
    await signIn(HF_TOKEN);
    await toast(/signed in to Hugging Face as radiologist \(A\. Radiologist\), token "medvlm" with read access/);
    assert.deepEqual(hub?.requests.filter((r) => r.endsWith('/api/whoami-v2')).length, 2, 'both tokens were checked with the (local) Hub');
    await runCommand(s.page, 'Notifications: Clear All Notifications');
  });

  test('Start SFT run on the demo config trains on the CPU; the Runs view follows it to finished', { timeout: 240_000 }, async (t) => {
    const s = need();
    await openFile(s.page, DEMO_CONFIG);
    // The view first, so it is watched from the moment the run starts.
    await showRunsView(s.page);
    await runCommand(s.page, 'MedVLM: Start SFT run');
    // The kept token reaches the run's processes through their environment, never their argv.
    const runs = path.join(s.workspace, '.medvlm', 'runs');
    const pid = await waitUntil(
      'the run to record its process',
      () => {
        const dirs = existsSync(runs) ? readdirSync(runs) : [];
        const info = dirs.length === 1 ? path.join(runs, dirs[0] as string, 'run.json') : undefined;
        try {
          return info !== undefined && existsSync(info) ? (JSON.parse(readFileSync(info, 'utf8')) as { pid?: number }).pid : undefined;
        } catch {
          return undefined; // caught while being written
        }
      },
      60_000,
    );
    const environ = readFileSync(`/proc/${pid}/environ`, 'utf8').split('\0');
    assert.ok(environ.includes(`HF_TOKEN=${HF_TOKEN}`), 'the run has the signed-in token');
    assert.ok(environ.includes(`HF_ENDPOINT=${hub?.url ?? ''}`), 'and the Hub it was checked with');
    assert.ok(!readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes(HF_TOKEN), 'not on its command line');
    const seen: string[] = [];
    const row = await waitUntil(
      'the run to finish in the Runs view',
      async () => {
        const rows = await readRunsView(s.page);
        assert.ok(rows.length <= 1, `one run was started, the Runs view shows ${JSON.stringify(rows)}`);
        const current = rows[0];
        if (current === undefined) return undefined;
        const status = statusOf(current);
        if (seen[seen.length - 1] !== status) seen.push(status);
        if (TERMINAL.has(status) && status !== 'finished') {
          const log = readFileSync(path.join(s.workspace, '.medvlm', 'runs', current.label, 'stdout.log'), 'utf8');
          assert.fail(`the run ended ${status}; its stdout.log ends:\n${log.split('\n').slice(-30).join('\n')}`);
        }
        return status === 'finished' ? current : undefined;
      },
      180_000,
      250,
    );
    runId = row.label;
    t.diagnostic(`Runs view statuses: ${seen.join(' -> ')}`);
    assert.match(runId, /^\d{8}-\d{6}-demo/, 'a run id named after its config');
    assert.ok(
      seen.some((status) => !TERMINAL.has(status)),
      `the Runs view showed the run while it was live (statuses seen: ${seen.join(' -> ')})`,
    );
    const maxSteps = /^\s*max_steps:\s*(\d+)/m.exec(readFileSync(path.join(s.workspace, DEMO_CONFIG), 'utf8'))?.[1];
    assert.equal(row.description, `finished · step ${maxSteps}/${maxSteps}`);
    for (const file of readdirSync(path.join(runs, runId), { recursive: true }) as string[]) {
      const full = path.join(runs, runId, file);
      if (statSync(full).isFile() && statSync(full).size < 64 * 1024 * 1024) assert.ok(!readFileSync(full).includes(HF_TOKEN), `no token in ${file}`);
    }
  });

  test('the run panel charts exactly the loss points of events.jsonl, in the series colours', { timeout: 90_000 }, async () => {
    const s = need();
    assert.ok(runId, 'needs the run of the previous test');
    // Toasts ("run finished") must not cover the chart in the screenshot.
    await runCommand(s.page, 'Notifications: Clear All Notifications');
    const frame = await expectWebviewRendered(s, {
      name: `run panel of ${runId}`,
      frame: 'main#app canvas',
      rendered: 'body[data-run-status="finished"]',
    });
    const expected = lossPoints(readFileSync(path.join(s.workspace, '.medvlm', 'runs', runId, 'events.jsonl'), 'utf8'));
    // The demo logs the train loss every step and evaluates during the run.
    assert.ok(expected.trainLoss.length >= 2 && expected.evalLoss.length >= 1, `loss points in events.jsonl: ${JSON.stringify(expected)}`);
    await frame.waitForFunction(
      ([train, evalLoss]) =>
        document.body.dataset.trainLossPoints === String(train) && document.body.dataset.evalLossPoints === String(evalLoss),
      [expected.trainLoss.length, expected.evalLoss.length],
      { timeout: 15_000 },
    );
    const { chart, area, colours } = await frame.evaluate(() => {
      const hooks = window.__medvlmRunPanel;
      if (hooks === undefined) throw new Error('the run panel exposes no test hooks');
      return { chart: hooks.chartData(), area: hooks.lossPlotArea(), colours: hooks.seriesColours() };
    });
    const drawn = (name: SeriesName): SeriesPoint[] => chart[name];
    assert.deepEqual(drawn('trainLoss'), expected.trainLoss);
    assert.deepEqual(drawn('evalLoss'), expected.evalLoss);

    const offset = await frameOffset(frame);
    const clip = { x: offset.x + area.left, y: offset.y + area.top, width: area.right - area.left, height: area.bottom - area.top };
    assert.ok(clip.width > 100 && clip.height > 100, `a plot area big enough to see: ${JSON.stringify(clip)}`);
    const png = await s.page.screenshot({ clip, path: path.join(artifactsDir(SUITE), 'loss-plot-area.png') });
    const image = decodePng(png);
    const train = countColour(image, parseCssColour(colours.trainLoss));
    const evalLoss = countColour(image, parseCssColour(colours.evalLoss));
    // A 2 px line across the plot plus a marker per point: hundreds of pixels, not a stray few.
    assert.ok(train >= 200, `the train loss curve (${colours.trainLoss}) covers ${train} pixels of the plot area`);
    assert.ok(evalLoss >= 20, `the eval loss curve (${colours.evalLoss}) covers ${evalLoss} pixels of the plot area`);

    // Under the real CSP and resource loading of VS Code: no CSP violation, no failed load, no throw.
    const errors = webviewConsole(s.consoleEntries, frame, EXTENSION_ID).filter((e) => e.type === 'error' || e.type === 'pageerror');
    assert.deepEqual(errors.map((e) => e.text), [], 'the run panel logged no errors');
  });

  test('Push adapter to Hub sends the final adapter with a model card; after a dropped connection, Retry finishes it', { timeout: 120_000 }, async () => {
    const s = need();
    assert.ok(runId && hub, 'needs the run of the earlier test and the local Hub');
    const final = path.join(s.workspace, '.medvlm', 'runs', runId, 'checkpoints', 'final');
    const weights = readFileSync(path.join(final, 'adapter_model.safetensors'));
    const oid = createHash('sha256').update(weights).digest('hex');
    // The first upload of the adapter's weights loses its connection half way.
    hub.repos.plantUploadFault({ oid, afterBytes: Math.floor(weights.length / 2) });
    await runCommand(s.page, 'Notifications: Clear All Notifications');
    await runCommand(s.page, 'MedVLM: Push adapter to Hub');
    await pickEntry(s.page, runId);
    await pickEntry(s.page, 'final');
    // The repository box suggests the signed-in account's namespace and the run's name.
    const input = s.page.locator('.quick-input-widget input.input');
    await waitUntil('the repository box to suggest radiologist/<run>', async () => (await input.inputValue()) === `radiologist/${runId}`, 15_000);
    await input.fill('radiologist/bad..name');
    await s.page.locator('.quick-input-widget .quick-input-message', { hasText: 'may not start or end' }).waitFor({ timeout: 10_000 });
    await input.fill('radiologist/demo-ct-lora');
    await waitUntil(
      'the repository box to take the name',
      async () => {
        if (!(await s.page.locator('.quick-input-widget .label-name', { hasText: 'Private' }).isVisible())) await input.press('Enter');
        return s.page.locator('.quick-input-widget .label-name', { hasText: 'Private' }).isVisible();
      },
      10_000,
    );
    await pickEntry(s.page, 'Private');

    const failure = s.page.locator('.notifications-toasts .notification-list-item', { hasText: 'Pushing again sends only the files that are not on the Hub yet' });
    await failure.waitFor({ timeout: 60_000 });
    assert.deepEqual(hub.repos.cut, [oid], 'the planted fault cut the weights upload');
    assert.equal(hub.repos.repos.get('radiologist/demo-ct-lora')?.commits.length, 0, 'nothing committed yet');
    const uploadsBefore = hub.repos.uploads.length;
    await failure.locator('.monaco-button', { hasText: 'Retry' }).click();
    await expectNotification(s, /pushed the adapter of .* to radiologist\/demo-ct-lora/, () => hub?.requests ?? []);

    const repo = hub.repos.repos.get('radiologist/demo-ct-lora');
    assert.ok(repo, 'the repository was created');
    assert.equal(repo.private, true);
    assert.equal(repo.commits.length, 1, 'one commit, by the retry');
    assert.deepEqual(hub.repos.uploads.slice(uploadsBefore), [oid], 'the retry uploaded the weights, and nothing it had already');
    const stateFiles = /^(optimizer\.pt|scheduler\.pt|rng_state.*\.pth|trainer_state\.json|training_args\.bin|README\.md)$/;
    const expected = readdirSync(final).filter((f) => !stateFiles.test(f));
    assert.deepEqual([...repo.files.keys()].filter((f) => f !== 'README.md' && f !== 'loss_curve.svg').sort(), expected.sort());
    for (const file of expected) {
      const response = await fetch(`${hub.url}/radiologist/demo-ct-lora/resolve/main/${file}`, { headers: { Authorization: `Bearer ${HF_TOKEN}` } });
      assert.ok(Buffer.from(await response.arrayBuffer()).equals(readFileSync(path.join(final, file))), `${file} downloads back byte-equal`);
    }
    const card = repo.files.get('README.md')?.content.toString('utf8') ?? '';
    assert.match(card, /library_name: peft/);
    assert.match(card, new RegExp(`Pushed from \`checkpoints/final\` of run \`${runId}\``));
    assert.match(card, /!\[Training and evaluation loss by step\]\(loss_curve\.svg\)/);
    assert.ok(repo.files.has('loss_curve.svg'));
  });

  // The trainer handles SIGTERM (checkpoint, then run_finished stopped) only once its imports
  // are done; a stop in the first seconds of a run used to kill it mid-import, and the run the
  // user had stopped then read "lost".
  test('Stop run on a run that is still starting ends it stopped, not lost', { timeout: 180_000 }, async (t) => {
    const s = need();
    const before = new Set((await readRunsView(s.page)).map((row) => row.label));
    await openFile(s.page, DEMO_CONFIG);
    await showRunsView(s.page);
    await runCommand(s.page, 'MedVLM: Start SFT run');
    const fresh = await waitUntil('the second run in the Runs view', async () => (await readRunsView(s.page)).find((row) => !before.has(row.label)), 60_000);
    // Its panel opens (and takes the focus) right after; a quick pick open then would close.
    await s.page.locator('.tabs-container .tab', { hasText: `Run: ${fresh.label}` }).waitFor({ timeout: 30_000 });
    await expectWebviewRendered(s, { name: `run panel of ${fresh.label}`, frame: 'main#app canvas', rendered: 'body[data-run-status]' });
    // The new run's panel opening may close the pick: then Stop run is run again, as a user would.
    await runCommandAndPick(s.page, 'MedVLM: Stop run', fresh.label);
    t.diagnostic(`stopped while the Runs view said: ${fresh.description}`);
    const ended = await waitUntil(
      'the stopped run to end',
      async () => (await readRunsView(s.page)).find((row) => row.label === fresh.label && TERMINAL.has(statusOf(row))),
      150_000,
      250,
    );
    assert.equal(statusOf(ended), 'stopped', `the run the user stopped reads ${JSON.stringify(ended.description)}`);
  });
  test('the CodeLens over model.base opens the Hub picker: search shows size and access; the pick edits the YAML', { timeout: 90_000 }, async () => {
    const s = need();
    await openFile(s.page, DEMO_CONFIG);
    const lens = s.page.locator('.codelens-decoration a', { hasText: 'Pick base model from Hugging Face' });
    await lens.waitFor({ timeout: 20_000 });
    await lens.click();
    const input = s.page.locator('.quick-input-widget input.input');
    await input.waitFor({ state: 'visible', timeout: 10_000 });
    await input.fill('medgemma');
    // A model only the search finds (the presets are listed before any search).
    await s.page.locator('.quick-input-widget .monaco-list-row', { hasText: 'lab/medgemma-ct-lora' }).waitFor({ timeout: 20_000 });
    const row = s.page.locator('.quick-input-widget .monaco-list-row', { hasText: 'google/medgemma-4b-it' });
    await waitUntil(
      'the search result to say its size and that the signed-in account has access',
      async () => {
        const text = (await row.allTextContents()).join(' ');
        return /4\.30B parameters, 8\.6 GB of bf16 weights/.test(text) && /gated, the authors approve requests; you have access/.test(text);
      },
      20_000,
      200,
    );
    assert.ok(hub?.requests.some((r) => /^GET \/api\/models\?.*search=medgemma/.test(r)), 'the search went to the (local) Hub');
    await pickEntry(s.page, 'google/medgemma-4b-it');
    // Monaco draws spaces as no-break spaces.
    const editorText = async () => ((await s.page.locator('.editor-instance .view-lines').first().textContent()) ?? '').replace(/\u00a0/g, ' ');
    await waitUntil('model.base to read google/medgemma-4b-it in the editor', async () => (await editorText()).includes('base: google/medgemma-4b-it'), 10_000);
    // The pick is an edit of the open document (undoable), not a write behind its back.
    assert.match(readFileSync(path.join(s.workspace, DEMO_CONFIG), 'utf8'), /base: tiny-qwen2_5_vl/, 'the file on disk is unchanged until saved');
    await s.page.locator('.editor-instance .view-lines').first().click();
    await s.page.keyboard.press('Control+z');
    await waitUntil('the undo to bring tiny-qwen2_5_vl back', async () => (await editorText()).includes('base: tiny-qwen2_5_vl'), 10_000);
  });
});
