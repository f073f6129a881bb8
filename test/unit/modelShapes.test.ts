// Model shapes from config.json for the memory estimate (src/core/config/modelShapes.ts) and
// their cache (src/core/modelShapeCache.ts): the tiny models' real config.json files (written
// by transformers through `medvlm-sft make-tiny-model`) against the hand-written KNOWN_MODELS
// entries, the published MedGemma 4B and Qwen2.5-VL 7B layouts against theirs, and Hub reads
// against the local stand-in Hub on 127.0.0.1 (localHub.ts; the real Hub cannot be reached).

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import type { SpawnSyncReturns } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { deriveNumbers } from '../../src/core/config/derivedNumbers';
import { estimateMemory, KNOWN_MODELS } from '../../src/core/config/memoryEstimate';
import type { KnownModel } from '../../src/core/config/memoryEstimate';
import { ModelShapeError, modelFromConfigJson } from '../../src/core/config/modelShapes';
import { ModelShapeCache } from '../../src/core/modelShapeCache';
import type { LocalHub } from './localHub';
import { startLocalHub } from './localHub';
import { repoRoot } from './testUtil';

const known = (id: string): KnownModel => KNOWN_MODELS.find((m) => m.id === id) as KnownModel;

/** MedGemma 4B's config.json as published: Gemma3TextConfig's defaults left out. */
const MEDGEMMA_4B_CONFIG = {
  architectures: ['Gemma3ForConditionalGeneration'],
  model_type: 'gemma3',
  mm_tokens_per_image: 256,
  text_config: { hidden_size: 2560, intermediate_size: 10240, model_type: 'gemma3_text', num_hidden_layers: 34, sliding_window: 1024 },
  vision_config: { hidden_size: 1152, image_size: 896, intermediate_size: 4304, model_type: 'siglip_vision_model', num_attention_heads: 16, num_hidden_layers: 27, patch_size: 14 },
};
/** Qwen2.5-VL 7B's config.json as published (transformers 4 layout: text fields at the top). */
const QWEN_7B_CONFIG = {
  model_type: 'qwen2_5_vl',
  hidden_size: 3584,
  intermediate_size: 18944,
  num_hidden_layers: 28,
  num_attention_heads: 28,
  num_key_value_heads: 4,
  vocab_size: 152064,
  tie_word_embeddings: false,
  vision_config: { depth: 32, hidden_size: 1280, intermediate_size: 3420, num_heads: 16, fullatt_block_indexes: [7, 15, 23, 31], patch_size: 14, spatial_merge_size: 2, out_hidden_size: 3584 },
};

const RUN = { model: { base: 'x', dtype: 'bfloat16', quantization: 'none' }, train: { per_device_batch_size: 2, optimizer: 'adamw_torch' }, lora: { enabled: true, r: 16, target_modules: 'all-linear' } };

describe('model shapes from config.json', () => {
  let workspace = '';
  before(() => {
    const python = process.env.MEDVLM_PYTHON;
    assert.ok(python, 'MEDVLM_PYTHON must name the trainer environment (npm test sets it)');
    workspace = mkdtempSync(path.join(os.tmpdir(), 'medvlm-shapes-'));
    for (const family of ['qwen2_5_vl', 'medgemma']) {
      const made: SpawnSyncReturns<string> = spawnSync(python as string, ['-m', 'medvlm_sft', 'make-tiny-model', path.join(workspace, `tiny-${family}`), '--family', family], {
        env: { ...process.env, PYTHONPATH: path.join(repoRoot, 'python', 'src') },
        encoding: 'utf8',
      });
      assert.equal(made.status, 0, made.stderr);
    }
  });
  after(() => rmSync(workspace, { recursive: true, force: true }));

  it('the tiny models\' config.json give the shapes KNOWN_MODELS lists for them', () => {
    for (const id of ['tiny-qwen2_5_vl', 'tiny-medgemma']) {
      const parsed = modelFromConfigJson(id, JSON.parse(readFileSync(path.join(workspace, id, 'config.json'), 'utf8')));
      const listed = known(id);
      assert.equal(parsed.family, listed.family, id);
      assert.deepEqual(parsed.text, listed.text, `${id}: text tower`);
      const { patches, imageTokens, ...vision } = parsed.vision;
      const { patches: listedPatches, imageTokens: listedTokens, ...listedVision } = listed.vision;
      assert.deepEqual(vision, listedVision, `${id}: vision tower`);
      if (id === 'tiny-medgemma') assert.deepEqual([patches, imageTokens], [listedPatches, listedTokens], 'MedGemma: fixed image size');
    }
  });

  it('the published MedGemma 4B and Qwen2.5-VL 7B layouts give their KNOWN_MODELS shapes and the same estimate', () => {
    for (const [config, id] of [[MEDGEMMA_4B_CONFIG, 'google/medgemma-4b-it'], [QWEN_7B_CONFIG, 'Qwen/Qwen2.5-VL-7B-Instruct']] as const) {
      const parsed = modelFromConfigJson('my-lab/fine-tune', config);
      const listed = known(id);
      assert.deepEqual({ ...parsed, id: listed.id, source: listed.source }, listed, id);
      const viaLookup = estimateMemory({ ...RUN, model: { ...RUN.model, base: 'my-lab/fine-tune' } }, () => parsed);
      const direct = estimateMemory({ ...RUN, model: { ...RUN.model, base: id } });
      assert.equal(viaLookup.totalGiB, direct.totalGiB, id);
      assert.match(viaLookup.why, /^estimate \(±25%\): my-lab\/fine-tune \(shapes from its config\.json\)/);
    }
    // A processor with a smaller max_pixels sees fewer patches of the typical 512 x 512 slice.
    assert.equal(modelFromConfigJson('q', QWEN_7B_CONFIG, { maxPixels: 12544 }).vision.patches, 64);
  });

  it('says why a config.json gives no shapes', () => {
    assert.throws(() => modelFromConfigJson('m', { model_type: 'llava' }), (e: unknown) => e instanceof ModelShapeError && /model_type "llava"; the estimate covers qwen2_5_vl and gemma3/.test(e.message));
    assert.throws(() => modelFromConfigJson('m', [1]), /not a JSON object/);
    const { hidden_size: _dropped, ...noHidden } = QWEN_7B_CONFIG;
    assert.throws(() => modelFromConfigJson('m', noHidden), /no usable hidden_size \(null\)/);
    assert.throws(() => modelFromConfigJson('m', { ...QWEN_7B_CONFIG, vision_config: { ...QWEN_7B_CONFIG.vision_config, depth: 2.5 } }), /vision_config\.depth \(2\.5\)/);
    assert.equal(estimateMemory({ ...RUN, model: { ...RUN.model, base: 'a/b' } }, () => ({ why: 'a/b: nope' })).why, 'a/b: nope');
  });

  describe('the cache', () => {
    let hub: LocalHub;
    const TOKEN = 'hf_shapeToken';
    before(async () => {
      hub = await startLocalHub({
        hfToken: TOKEN,
        user: 'radiologist',
        wandbKey: 'unused',
        models: [
          { id: 'lab/medgemma-ct', gated: 'manual', files: { 'config.json': JSON.stringify(MEDGEMMA_4B_CONFIG) } },
          { id: 'lab/qwen-ct', files: { 'config.json': JSON.stringify(QWEN_7B_CONFIG) } },
          { id: 'lab/broken', files: { 'config.json': '{ not json' } },
          { id: 'lab/no-config' },
        ],
      });
    });
    after(() => hub.close());

    it('reads local folders and Hub models once, says "reading…" meanwhile, and why when it cannot', async () => {
      let token: string | undefined = undefined;
      let now = 0;
      let loaded = 0;
      const cache = new ModelShapeCache({ hubUrl: () => hub.url, token: async () => token, onLoaded: () => (loaded += 1), now: () => now, readDelayMs: 50 });
      const lookup = cache.lookup(workspace);
      // Typed one key at a time, only the name that stays is read.
      for (const typed of ['l', 'la', 'lab', 'lab/', 'lab/q', 'lab/qwen-ct']) assert.deepEqual(lookup(typed), { why: `reading the config.json of ${typed}…` });
      await cache.settled();
      assert.equal(loaded, 1);
      // (downloadFile asks for the size with a one-byte range first, then reads the file.)
      assert.deepEqual([...new Set(hub.requests.filter((r) => r.includes('/resolve/')))], ['GET /lab/qwen-ct/resolve/main/config.json']);
      // Each config folder reads its own; a settled name is read at once in the background.
      const bases = ['tiny-qwen2_5_vl', 'lab/medgemma-ct', 'lab/broken', 'lab/no-config', 'nobody/missing', './no-such-folder/x/y'];
      for (const base of bases) {
        assert.deepEqual(lookup(base), { why: `reading the config.json of ${base}…` });
        await cache.settled();
      }
      assert.equal(loaded, 1 + bases.length);
      const tiny = lookup('tiny-qwen2_5_vl');
      assert.ok(tiny && !('why' in tiny));
      assert.deepEqual(tiny.text, known('tiny-qwen2_5_vl').text);
      assert.equal(tiny.vision.patches, 64, 'the tiny processor\'s max_pixels (12544) resizes a 512 x 512 slice to 112 x 112');
      const qwen = lookup('lab/qwen-ct');
      assert.ok(qwen && !('why' in qwen));
      assert.deepEqual(qwen.text, known('Qwen/Qwen2.5-VL-7B-Instruct').text);
      assert.deepEqual(lookup('lab/medgemma-ct'), { why: 'lab/medgemma-ct is gated: sign in to Hugging Face with an account that has access, so its config.json can be read' });
      assert.deepEqual(lookup('lab/broken'), { why: 'lab/broken: its config.json is not valid JSON' });
      assert.deepEqual(lookup('lab/no-config'), { why: 'lab/no-config is not on the Hub (or it has no config.json)' });
      assert.match(String((lookup('nobody/missing') as { why: string }).why), /nobody\/missing is not on the Hub/);
      assert.deepEqual(lookup('./no-such-folder/x/y'), { why: './no-such-folder/x/y is neither a model folder nor a Hub model id' });
      const reads = hub.requests.filter((r) => r.includes('/resolve/')).length;
      lookup('lab/qwen-ct');
      await cache.settled();
      assert.equal(hub.requests.filter((r) => r.includes('/resolve/')).length, reads, 'a model that was read is not read again');

      // After a sign-in, a failed read is tried again once a minute has passed.
      token = TOKEN;
      now += 61_000;
      lookup('lab/medgemma-ct');
      await cache.settled();
      const medgemma = lookup('lab/medgemma-ct');
      assert.ok(medgemma && !('why' in medgemma));
      const derived = deriveNumbers({ ...RUN, model: { ...RUN.model, base: 'lab/medgemma-ct' } }, undefined, lookup).memory;
      assert.equal(derived.totalGiB, deriveNumbers({ ...RUN, model: { ...RUN.model, base: 'google/medgemma-4b-it' } }, undefined).memory.totalGiB);
      assert.equal(deriveNumbers({ ...RUN, model: { ...RUN.model, base: 'lab/medgemma-ct' } }, undefined).memory.totalGiB, null, 'without the lookup: unknown');
    });
  });
});
