// The base-model picker's Hub calls (src/core/hubModels.ts) against the local stand-in Hub on
// 127.0.0.1 (localHub.ts; the real Hub cannot be reached from here), through @huggingface/hub's
// listModels / modelInfo with their hubUrl option.

import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { checkModelAccess } from '../../src/core/accounts';
import { accessWords, hubModelSummary, searchHubModels, sizeWords } from '../../src/core/hubModels';
import type { LocalHub } from './localHub';
import { startLocalHub } from './localHub';

const TOKEN = 'hf_pickerToken';

describe('Hub models for the base-model picker', () => {
  let hub: LocalHub;
  before(async () => {
    hub = await startLocalHub({
      hfToken: TOKEN,
      user: 'radiologist',
      wandbKey: 'unused',
      models: [
        { id: 'google/medgemma-4b-it', gated: 'manual', parameters: 4_300_079_472, downloads: 900 },
        { id: 'google/medgemma-27b-it', gated: 'manual', parameters: 27_432_406_640, downloads: 300 },
        { id: 'Qwen/Qwen2.5-VL-7B-Instruct', parameters: 8_292_166_656, downloads: 5000 },
        { id: 'someone/medgemma-text-only', task: 'text-generation', downloads: 10_000 },
        { id: 'lab/medgemma-ct-lora', downloads: 5 },
      ],
    });
  });
  after(() => hub.close());

  it('searches image-text-to-text models, most downloaded first, with size and gating', async () => {
    const found = await searchHubModels('medgemma', { hubUrl: hub.url, token: TOKEN });
    assert.deepEqual(found.map((m) => m.id), ['google/medgemma-4b-it', 'google/medgemma-27b-it', 'lab/medgemma-ct-lora'], 'the text-only model is left out');
    assert.deepEqual(found[0], { id: 'google/medgemma-4b-it', gated: 'manual', private: false, parameters: 4_300_079_472, downloads: 900, task: 'image-text-to-text' });
    assert.equal(found[2]?.parameters, undefined, 'no safetensors metadata, no size');
    const query = hub.requests.find((r) => r.startsWith('GET /api/models?')) ?? '';
    assert.match(query, /search=medgemma/);
    assert.match(query, /pipeline_tag=image-text-to-text/);
    assert.match(query, /expand=safetensors/);
  });

  it('describes one model, and says what a missing one is', async () => {
    const qwen = await hubModelSummary('Qwen/Qwen2.5-VL-7B-Instruct', { hubUrl: hub.url });
    assert.equal(qwen.gated, false);
    assert.equal(sizeWords(qwen.parameters), '8.29B parameters, 16.6 GB of bf16 weights');
    assert.equal(sizeWords(undefined), 'size unknown');
    assert.equal(sizeWords(2_500_000), '2.5M parameters, 0.0 GB of bf16 weights');
    await assert.rejects(hubModelSummary('nobody/nothing', { hubUrl: hub.url }), /not found/i);
  });

  it('says whether the signed-in account may download a gated model', async () => {
    const medgemma = await hubModelSummary('google/medgemma-4b-it', { hubUrl: hub.url, token: TOKEN });
    assert.equal(accessWords(medgemma, await checkModelAccess(medgemma.id, TOKEN, hub.url)), 'gated, the authors approve requests; you have access');
    assert.equal(accessWords(medgemma, await checkModelAccess(medgemma.id, undefined, hub.url)), 'gated, the authors approve requests; sign in to Hugging Face to use it');
    assert.equal(
      accessWords(medgemma, await checkModelAccess(medgemma.id, 'hf_someoneElse', hub.url)),
      'gated, the authors approve requests; your account has no access yet: request it on the model page',
    );
    assert.equal(accessWords(medgemma, undefined), 'gated, the authors approve requests; checking your access…');
    assert.equal(accessWords({ ...medgemma, gated: false }, undefined), 'open');
    assert.equal(accessWords({ ...medgemma, gated: 'auto' }, { kind: 'unknown', why: 'offline' }), 'gated, accept its terms on the Hub; access not checked (offline)');
  });
});
