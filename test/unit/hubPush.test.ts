// Pushing a model folder to the Hub (src/core/hubPush.ts) against the local stand-in Hub on
// 127.0.0.1 (localHub.ts; the real Hub cannot be reached from here): @huggingface/hub is pointed
// at it with its hubUrl option. The stand-in checks the token and namespace rights on every
// call, the sha256 of every LFS upload and of multipart uploads once assembled, and that each
// LFS file of the commit was uploaded; the test downloads every file again and compares bytes.

import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { modelFiles, PushError, pushToHub, repoIdProblem } from '../../src/core/hubPush';
import type { PushProgress } from '../../src/core/hubPush';
import type { LocalHub } from './localHub';
import { startLocalHub } from './localHub';
import { tempDir } from './testUtil';

const TOKEN = 'hf_pushTokenOfTheRadiologist';
const OTHER_TOKEN = 'hf_tokenOfAnotherAccount';
const KB = 1024;

function sha256(bytes: Buffer): string {
  return createHash('sha256').update(bytes).digest('hex');
}

/** A checkpoint folder as the trainer writes one: weights, configs, and training state. */
function checkpointFolder(dir: string, sizes: { adapter: number; big: number }): Record<string, Buffer> {
  const model: Record<string, Buffer> = {
    'adapter_config.json': Buffer.from(JSON.stringify({ r: 8, lora_alpha: 16, target_modules: 'all-linear' })),
    'adapter_model.safetensors': randomBytes(sizes.adapter),
    'tokenizer.json': Buffer.from(JSON.stringify({ vocab: Array.from({ length: 200 }, (_, i) => `t${i}`) })),
    'shards/model-00001.safetensors': randomBytes(sizes.big),
  };
  const state = { 'optimizer.pt': randomBytes(4 * KB), 'rng_state_0.pth': randomBytes(KB), 'trainer_state.json': Buffer.from('{}'), 'training_args.bin': randomBytes(KB) };
  for (const [name, bytes] of Object.entries({ ...model, ...state, 'README.md': Buffer.from('the card peft generates') })) {
    mkdirSync(path.dirname(path.join(dir, name)), { recursive: true });
    writeFileSync(path.join(dir, name), bytes);
  }
  return model;
}

async function download(hub: LocalHub, repoId: string, file: string, token = TOKEN): Promise<Buffer> {
  const response = await fetch(`${hub.url}/${repoId}/resolve/main/${file}`, { headers: { Authorization: `Bearer ${token}` } });
  assert.equal(response.status, 200, `${file} can be downloaded from ${repoId}`);
  return Buffer.from(await response.arrayBuffer());
}

describe('push to the Hub', () => {
  let hub: LocalHub;
  before(async () => {
    hub = await startLocalHub({
      hfToken: TOKEN,
      user: 'radiologist',
      wandbKey: 'unused',
      otherAccounts: { [OTHER_TOKEN]: 'other-lab' },
      multipartSize: 256 * KB,
      partSize: 100 * KB,
    });
  });
  after(() => hub.close());

  it('sends the model files (not the training state) with the card, privately; every file downloads back byte-equal', async (t) => {
    const dir = tempDir(t);
    const model = checkpointFolder(dir, { adapter: 120 * KB, big: 300 * KB });
    const files = await modelFiles(dir);
    assert.deepEqual(files.map((f) => f.path), Object.keys(model).sort(), "training state and peft's own README are left out");
    const progress: PushProgress[] = [];
    const card = '---\nlibrary_name: peft\n---\n# card\n';
    const result = await pushToHub({
      hubUrl: hub.url,
      token: TOKEN,
      repoId: 'radiologist/ct-lora',
      private: true,
      files,
      extra: { 'README.md': card, 'loss_curve.svg': '<svg xmlns="http://www.w3.org/2000/svg"/>' },
      commitTitle: 'Adapter of run 1',
      onProgress: (p) => progress.push(p),
    });
    assert.equal(result.created, true);
    assert.equal(result.repoUrl, `${hub.url}/radiologist/ct-lora`);
    const repo = hub.repos.repos.get('radiologist/ct-lora');
    assert.ok(repo, 'the repository was created');
    assert.equal(repo.private, true, 'private by default');
    assert.deepEqual(repo.commits.map((c) => c.title), ['Adapter of run 1'], 'one commit');
    for (const [name, bytes] of Object.entries(model)) {
      assert.ok((await download(hub, 'radiologist/ct-lora', name)).equals(bytes), `${name} came back byte-equal`);
    }
    assert.equal((await download(hub, 'radiologist/ct-lora', 'README.md')).toString('utf8'), card, "our card replaced peft's");
    // Weights went by LFS (the big one in parts), configs inline.
    assert.equal(repo.files.get('adapter_model.safetensors')?.lfsOid, sha256(model['adapter_model.safetensors'] as Buffer));
    assert.equal(repo.files.get('shards/model-00001.safetensors')?.lfsOid, sha256(model['shards/model-00001.safetensors'] as Buffer));
    assert.equal(repo.files.get('adapter_config.json')?.lfsOid, undefined);
    const bigOid = sha256(model['shards/model-00001.safetensors'] as Buffer);
    assert.equal(hub.repos.uploads.filter((oid) => oid === bigOid).length, 3, '300 kB in 100 kB parts');
    // Progress: from nothing to everything, never backwards.
    const total = files.reduce((s, f) => s + f.size, 0) + Buffer.byteLength(card) + Buffer.byteLength('<svg xmlns="http://www.w3.org/2000/svg"/>');
    assert.equal(progress.at(-1)?.sentBytes, total);
    assert.ok(progress.every((p) => p.totalBytes === total));
    assert.ok(progress.some((p) => p.phase === 'uploading' && p.sentBytes > 0 && p.sentBytes < total), 'progress in between while the large files upload');
    for (let i = 1; i < progress.length; i += 1) assert.ok((progress[i] as PushProgress).sentBytes >= (progress[i - 1] as PushProgress).sentBytes, 'progress never goes back');

    // Pushing again (a new checkpoint of the same adapter, say) reuses the repository and sends no stored object again.
    const uploadsBefore = hub.repos.uploads.length;
    const again = await pushToHub({ hubUrl: hub.url, token: TOKEN, repoId: 'radiologist/ct-lora', private: true, files, extra: { 'README.md': card }, commitTitle: 'again' });
    assert.equal(again.created, false);
    assert.equal(hub.repos.uploads.length, uploadsBefore, 'no LFS object was uploaded twice');
    assert.equal(repo.commits.length, 2);
  });

  it('a dropped connection fails with a message that says a retry resumes; the retry sends only what is missing', async (t) => {
    const dir = tempDir(t);
    mkdirSync(dir, { recursive: true });
    const small = randomBytes(40 * KB);
    const large = randomBytes(200 * KB);
    writeFileSync(path.join(dir, 'a.safetensors'), small);
    writeFileSync(path.join(dir, 'b.safetensors'), large);
    const files = await modelFiles(dir);
    hub.repos.plantUploadFault({ oid: sha256(large), afterBytes: 150 * KB });
    const push = () => pushToHub({ hubUrl: hub.url, token: TOKEN, repoId: 'radiologist/drop', private: true, files, extra: {}, commitTitle: 'push' });
    await assert.rejects(push(), (err: unknown) => {
      assert.ok(err instanceof PushError, String(err));
      assert.equal(err.kind, 'network');
      assert.match(err.message, /the connection to http:\/\/127\.0\.0\.1:\d+\/radiologist\/drop failed.*Pushing again sends only the files that are not on the Hub yet/);
      return true;
    });
    assert.deepEqual(hub.repos.cut, [sha256(large)], 'the planted fault cut the large upload');
    assert.equal(hub.repos.repos.get('radiologist/drop')?.commits.length, 0, 'nothing was committed');
    assert.ok(hub.repos.objects.has(sha256(small)), 'the small file had arrived before the cut');

    await push();
    assert.equal(hub.repos.uploads.filter((oid) => oid === sha256(small)).length, 1, 'the retry did not send the small file again');
    assert.equal(hub.repos.uploads.filter((oid) => oid === sha256(large)).length, 1, 'it sent the large one whole');
    assert.ok((await download(hub, 'radiologist/drop', 'b.safetensors')).equals(large));
  });

  it('an upload that stalls (no reset, no bytes) fails after the idle time instead of hanging; pushing again finishes', async (t) => {
    const dir = tempDir(t);
    const weights = randomBytes(300 * KB);
    writeFileSync(path.join(dir, 'adapter_model.safetensors'), weights);
    const files = await modelFiles(dir);
    hub.repos.plantUploadFault({ oid: sha256(weights), afterBytes: 64 * KB, stall: true });
    const push = () => pushToHub({ hubUrl: hub.url, token: TOKEN, repoId: 'radiologist/stall', private: true, files, extra: {}, commitTitle: 'push', uploadIdleMs: 500 });
    await assert.rejects(push(), (err: unknown) => err instanceof PushError && err.kind === 'network' && /no progress for 0\.5 s/.test(err.message));
    await push();
    assert.ok((await download(hub, 'radiologist/stall', 'adapter_model.safetensors')).equals(weights));
  });

  it('says what is wrong with a bad token, another account\'s namespace, a bad name, an unreachable Hub', async (t) => {
    const dir = tempDir(t);
    writeFileSync(path.join(dir, 'adapter_config.json'), '{}');
    const files = await modelFiles(dir);
    const push = (repoId: string, token = TOKEN, hubUrl = hub.url) => pushToHub({ hubUrl, token, repoId, private: true, files, extra: {}, commitTitle: 'x' });
    const kind = (k: PushError['kind'], text: RegExp) => (err: unknown) => err instanceof PushError && err.kind === k && text.test(err.message);

    await assert.rejects(push('radiologist/x', 'hf_expired'), kind('auth', /refused the token \(401\).*Sign in to Hugging Face again/));
    await assert.rejects(push('other-lab/x'), kind('forbidden', /may not write to .*other-lab\/x \(403.*namespace "other-lab"/));
    // A name taken by another account in its own namespace: the push must not touch it.
    await pushToHub({ hubUrl: hub.url, token: OTHER_TOKEN, repoId: 'other-lab/public-model', private: false, files, extra: {}, commitTitle: 'theirs' });
    await assert.rejects(push('other-lab/public-model'), kind('forbidden', /may not write/));
    assert.equal(hub.repos.repos.get('other-lab/public-model')?.commits.length, 1, 'their repository is as they left it');

    const before = hub.requests.length;
    for (const bad of ['ct-lora', 'radiologist/', 'radiologist/-lora', 'radiologist/a..b', 'radiologist/with space', 'a/b/c', `radiologist/${'x'.repeat(97)}`]) {
      assert.ok(repoIdProblem(bad), `${bad} is refused`);
      await assert.rejects(push(bad), kind('invalid', /is not a valid repository name/));
    }
    assert.equal(hub.requests.length, before, 'a bad name is refused before any request');
    assert.equal(repoIdProblem('my-lab/medgemma_4b.ct-lora'), undefined);

    const dead = await startLocalHub({ hfToken: TOKEN, user: 'radiologist', wandbKey: 'x' });
    await dead.close();
    await assert.rejects(push('radiologist/x', TOKEN, dead.url), kind('network', /ECONNREFUSED/));
  });
});
