// Hugging Face and W&B accounts against a local HTTP server on 127.0.0.1 (localHub.ts) that
// speaks the endpoints the code uses (the Hub's /api/whoami-v2 through @huggingface/hub,
// W&B's GraphQL `viewer`), since neither service can be reached from here; it checks the
// auth headers as the services do. Then a run started with the kept tokens: they are in the trainer's
// environment, and nowhere in any process's argv, the run files or its logs.

import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { AccountError, baseUrl, checkHubToken, checkModelAccess, checkWandbKey, hubModelId, runEnvironment } from '../../src/core/accounts';
import { runPaths } from '../../src/core/runDir';
import { startLocalRun } from '../../src/launch/localLauncher';
import { stopLocalRun } from '../../src/launch/localStop';
import type { LocalHub } from './localHub';
import { startLocalHub } from './localHub';
import { repoRoot, tempDir, waitFor } from './testUtil';

const HF_TOKEN = 'hf_TestTokenThatMustNeverLeak0123456789';
const WANDB_KEY = 'f00dfacecafe0123456789abcdef0123456789ab';

describe('accounts', () => {
  let hub: LocalHub | undefined;
  let url = '';

  before(async () => {
    hub = await startLocalHub({ hfToken: HF_TOKEN, wandbKey: WANDB_KEY, user: 'radiologist', openModels: ['Qwen/Qwen2.5-VL-3B-Instruct'], gatedModels: ['google/medgemma-4b-it'] });
    url = hub.url;
  });
  after(async () => {
    await hub?.close();
  });

  it('says whose Hugging Face token it is, and refuses a bad one with what to do', async () => {
    assert.deepEqual(await checkHubToken(HF_TOKEN, url), { name: 'radiologist', kind: 'user', fullname: 'A. Radiologist', tokenName: 'medvlm', role: 'read' });
    await assert.rejects(checkHubToken('hf_revoked', url), (err: unknown) => err instanceof AccountError && err.rejected && /refused the token \(401\).*settings\/tokens/.test(err.message));
    await assert.rejects(checkHubToken('not-a-token', url), (err: unknown) => err instanceof AccountError && err.rejected && /start with "hf_"/.test(err.message));
    await assert.rejects(checkHubToken(HF_TOKEN, `${url}/broken`), (err: unknown) => err instanceof AccountError && !err.rejected && /did not answer as the Hub does/.test(err.message));
  });

  it('says whose W&B key it is, and refuses an unknown one', async () => {
    assert.deepEqual(await checkWandbKey(WANDB_KEY, url), { username: 'radiologist', entity: 'lab' });
    await assert.rejects(checkWandbKey('0'.repeat(40), url), (err: unknown) => err instanceof AccountError && err.rejected && /does not know this API key/.test(err.message));
  });

  it('tells an unreachable service from a refused token', async () => {
    // A port nothing listens on: the server above, closed again.
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const dead = `http://127.0.0.1:${(closed.address() as AddressInfo).port}`;
    await new Promise<void>((resolve) => closed.close(() => resolve()));
    await assert.rejects(checkHubToken(HF_TOKEN, dead), (err: unknown) => err instanceof AccountError && !err.rejected && /cannot reach Hugging Face at .*ECONNREFUSED/.test(err.message));
    await assert.rejects(checkWandbKey(WANDB_KEY, dead), (err: unknown) => err instanceof AccountError && !err.rejected && /cannot reach W&B/.test(err.message));
  });

  it('knows before a run whether it may download its Hub model: open, gated, missing', async () => {
    assert.deepEqual(await checkModelAccess('Qwen/Qwen2.5-VL-3B-Instruct', undefined, url), { kind: 'ok' });
    assert.deepEqual(await checkModelAccess('google/medgemma-4b-it', undefined, url), { kind: 'sign-in' }, 'gated, no token');
    assert.deepEqual(await checkModelAccess('google/medgemma-4b-it', 'hf_someoneElse', url), { kind: 'no-access' }, 'gated, terms not accepted');
    assert.deepEqual(await checkModelAccess('google/medgemma-4b-it', HF_TOKEN, url), { kind: 'ok' });
    assert.deepEqual(await checkModelAccess('nobody/no-such-model', HF_TOKEN, url), { kind: 'not-found' });
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const dead = `http://127.0.0.1:${(closed.address() as AddressInfo).port}`;
    await new Promise<void>((resolve) => closed.close(() => resolve()));
    const unknown = await checkModelAccess('google/medgemma-4b-it', HF_TOKEN, dead);
    assert.equal(unknown.kind, 'unknown', 'an unreachable Hub never blocks a run');
    // model.base as the trainer resolves it: a local folder, or a Hub id.
    assert.equal(hubModelId('google/medgemma-4b-it', false), 'google/medgemma-4b-it');
    assert.equal(hubModelId('gpt2', false), 'gpt2');
    assert.equal(hubModelId('google/medgemma-4b-it', true), undefined, 'a folder of that name wins');
    for (const folderish of ['./tiny', '../models/x', '~/m', '/abs/model', 'a/b/c', 'C:\\m', 'has space/x']) assert.equal(hubModelId(folderish, false), undefined, folderish);
  });

  it('puts kept tokens and non-default endpoints in the run environment, over the editor’s own', () => {
    const env = runEnvironment({ PATH: '/bin', HF_TOKEN: 'hf_inherited' }, { hfToken: HF_TOKEN, wandbKey: WANDB_KEY, hubUrl: url, wandbUrl: 'https://api.wandb.ai' });
    assert.equal(env.HF_TOKEN, HF_TOKEN);
    assert.equal(env.HUGGING_FACE_HUB_TOKEN, HF_TOKEN);
    assert.equal(env.WANDB_API_KEY, WANDB_KEY);
    assert.equal(env.HF_ENDPOINT, url);
    assert.equal(env.WANDB_BASE_URL, undefined, 'the public W&B needs no variable');
    assert.equal(env.PATH, '/bin');
    assert.deepEqual(runEnvironment({ HF_TOKEN: 'hf_inherited' }, {}), { HF_TOKEN: 'hf_inherited' }, 'without kept tokens the inherited ones stay');
    assert.equal(baseUrl(' https://hub.example.org// ', 'x'), 'https://hub.example.org');
    assert.equal(baseUrl('', 'https://huggingface.co'), 'https://huggingface.co');
  });

  it('hands the tokens to a run through its environment only: never argv, run files or logs', async (t) => {
    const dir = tempDir(t);
    const config = path.join(dir, 'tokens.sft.yaml');
    writeFileSync(config, ['model:', '  base: tiny', 'fake_steps: 1000', 'fake_step_s: 0.2', ''].join('\n'));
    const env = runEnvironment(process.env, { hfToken: HF_TOKEN, wandbKey: WANDB_KEY });
    const started = await startLocalRun({
      pythonPath: 'python3',
      extensionRoot: path.join(repoRoot, 'test', 'fixtures', 'fakeTrainer'),
      configPath: config,
      runsRoot: path.join(dir, 'runs'),
      env,
    });
    t.after(() => {
      try {
        process.kill(-started.pid, 'SIGKILL');
      } catch {
        // already gone
      }
    });
    // Every process of the run's group: the supervisor and the trainer under it.
    const group = (): number[] =>
      readdirSync('/proc')
        .filter((name) => /^\d+$/.test(name))
        .map(Number)
        .filter((pid) => {
          try {
            return Number(readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.split(' ')[2]) === started.pid;
          } catch {
            return false;
          }
        });
    await waitFor('the supervisor and the trainer to run', () => group().length >= 2, 20_000);
    await waitFor('the trainer to report progress', () => existsSync(runPaths(started.runDir).events) && readFileSync(runPaths(started.runDir).events, 'utf8').includes('"progress"'), 30_000);
    let trainerHasToken = false;
    for (const pid of group()) {
      const argv = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
      assert.ok(!argv.includes(HF_TOKEN) && !argv.includes(WANDB_KEY), `no token in the argv of ${pid}: ${argv.replaceAll('\0', ' ')}`);
      const environ = readFileSync(`/proc/${pid}/environ`, 'utf8').split('\0');
      if (environ.includes(`HF_TOKEN=${HF_TOKEN}`) && environ.includes(`WANDB_API_KEY=${WANDB_KEY}`)) trainerHasToken = true;
    }
    assert.ok(trainerHasToken, 'the run has the tokens in its environment');
    await stopLocalRun(started.runDir, { graceMs: 10_000 });
    for (const file of readdirSync(started.runDir, { recursive: true }) as string[]) {
      const full = path.join(started.runDir, file);
      let text: string;
      try {
        text = readFileSync(full, 'utf8');
      } catch {
        continue; // a folder
      }
      assert.ok(!text.includes(HF_TOKEN) && !text.includes(WANDB_KEY), `no token in ${file}`);
    }
  });
});
