import assert from 'node:assert/strict';
import { test } from 'node:test';
import { estimateMemory, findModel, KNOWN_MODELS, parameterCounts } from '../../src/core/config/memoryEstimate';
import type { MemoryEstimate } from '../../src/core/config/memoryEstimate';
import type { JsonValue } from '../../src/shared/configSchema';

const GIB = 2 ** 30;

function close(actual: number | null | undefined, expected: number, what: string): void {
  assert.ok(actual !== null && actual !== undefined && Math.abs(actual - expected) <= 1e-9 * Math.max(1, Math.abs(expected)), `${what}: ${actual} != ${expected}`);
}

function breakdown(estimate: MemoryEstimate): { weights: number; adapters: number; activations: number; overhead: number } {
  const b = estimate.breakdown;
  assert.ok(b !== null, estimate.why);
  return { weights: b.weightsGiB * GIB, adapters: b.adaptersGiB * GIB, activations: b.activationsGiB * GIB, overhead: b.overheadGiB * GIB };
}

// The MedGemma 4B QLoRA example config, with the schema defaults it relies on written out.
const medgemmaQlora = {
  model: { base: 'google/medgemma-4b-it', dtype: 'bfloat16', attn_implementation: 'eager', quantization: '4bit', gradient_checkpointing: true, max_length: null },
  train: { per_device_batch_size: 2, optimizer: 'paged_adamw_8bit', precision: 'bf16', use_cpu: false },
  lora: { enabled: true, r: 16, dropout: 0.05, target_modules: 'all-linear', include_vision_tower: true, modules_to_save: [] },
  launch: { num_processes: 1 },
};

test('MedGemma 4B QLoRA, by hand from the published config.json', () => {
  // Gemma 3 4B text: hidden 2560, MLP 10240, 34 layers, 8 heads x 256, 4 KV heads x 256, vocab 262208 (tied).
  const lmLinear = 34 * (2560 * 2048 + 2 * 2560 * 1024 + 2048 * 2560 + 3 * 2560 * 10240);
  // SigLIP so400m: hidden 1152, MLP 4304, 27 layers, 896 px / 14 = 64 x 64 = 4096 patches.
  const visionLinear = 27 * (4 * 1152 * 1152 + 2 * 1152 * 4304);
  const other = 262208 * 2560 + 3 * 14 * 14 * 1152 + 4096 * 1152 + 1152 * 2560; // embeddings, patch conv, positions, projector
  assert.equal(lmLinear + visionLinear + other, 4_299_310_592);
  const nf4 = 0.5 + 1 / 64 + 4 / (64 * 256);
  const weights = (lmLinear + visionLinear) * nf4 + other * 2;

  // LoRA r16 on every linear layer of both towers; bf16 weight + bf16 grad + 2 bytes of 8-bit Adam state.
  const lora = 16 * (34 * (2560 + 2048 + 2 * (2560 + 1024) + 2048 + 2560 + 2 * (2560 + 10240) + 10240 + 2560) + 27 * (4 * 2304 + (1152 + 4304) * 2));
  assert.equal(lora, 38_497_792);
  const adapters = lora * (2 + 2 + 2);

  // 446 tokens (256 image + 190 text), batch 2, bf16, checkpointing, eager attention, LoRA dropout.
  const s = 446;
  const lmToken = 2 * (4 * 2560 + 2 * 2048 + 2 * 1024 + 4 * 10240) + 3 * (3 * 2560 + 2048 + 2 * 2560 + 10240) + 8 * s * 6;
  const visionPatch = 2 * (8 * 1152 + 2 * 4304) + 3 * (4 * 1152 + 1152 + 4304) + 16 * 4096 * 6;
  const stored = 34 * s * 2560 * 2 + 27 * 4096 * 1152 * 2; // layer inputs only
  const recomputed = Math.max(s * lmToken, 4096 * visionPatch); // one vision layer is the larger
  const logits = s * 262208 * 10;
  const activations = 2 * (stored + recomputed + logits);

  const estimate = estimateMemory(medgemmaQlora);
  const got = breakdown(estimate);
  close(got.weights, weights, 'weights');
  close(got.adapters, adapters, 'adapters');
  close(got.activations, activations, 'activations');
  close(got.overhead, GIB, 'overhead');
  close(estimate.totalGiB, (weights + adapters + activations + GIB) / GIB, 'total');
  assert.equal(estimate.trainableParameters, lora);
  assert.ok(estimate.totalGiB !== null && estimate.totalGiB > 8 && estimate.totalGiB < 16, 'fits the 16-24 GB GPU the example is for');
  assert.match(estimate.why, /^estimate \(±25%\): google\/medgemma-4b-it, 4-bit NF4 weights, LoRA r16, batch 2 x 446 tokens/);
});

test('Qwen2.5-VL 7B bf16 LoRA on q and v only, by hand', () => {
  const config = {
    model: { base: 'Qwen/Qwen2.5-VL-7B-Instruct', dtype: 'bfloat16', attn_implementation: 'sdpa', quantization: 'none', gradient_checkpointing: false, max_length: 1000 },
    train: { per_device_batch_size: 1, optimizer: 'adamw_torch', precision: 'bf16' },
    lora: { enabled: true, r: 8, dropout: 0, target_modules: ['q_proj', 'v_proj'], include_vision_tower: false, modules_to_save: [] },
    launch: { num_processes: 1 },
  };
  // Qwen2.5-VL-7B: hidden 3584, MLP 18944, 28 layers, 28 heads x 128, 4 KV heads, vocab 152064 (untied);
  // vision: hidden 1280, MLP 3420, 32 blocks, merger 5120 -> 5120 -> 3584.
  const total =
    28 * (2 * 3584 * 3584 + 2 * 3584 * 512 + 3 * 3584 * 18944) +
    2 * 152064 * 3584 +
    32 * (1280 * 3840 + 1280 * 1280 + 3 * 1280 * 3420) +
    5120 * 5120 +
    5120 * 3584 +
    3 * 2 * 14 * 14 * 1280;
  const lora = 8 * 28 * (3584 + 3584 + 3584 + 512);
  // No checkpointing: every LM layer keeps (4h + 2q + 2kv + 4i) bf16 values per token; no dropout copies,
  // SDPA keeps no probabilities; the vision tower has no adapters, so it holds one layer at a time.
  const lm = 28 * 1000 * 2 * (4 * 3584 + 2 * 3584 + 2 * 512 + 4 * 18944);
  const vision = 1296 * 2 * (8 * 1280 + 4 * 3420);
  const logits = 1000 * 152064 * 10;
  const got = breakdown(estimateMemory(config));
  close(got.weights, total * 2, 'weights');
  close(got.adapters, lora * (4 + 4 + 8), 'adapters: fp32 LoRA weights, grads and two Adam moments');
  close(got.activations, lm + vision + logits, 'activations');
  close(got.overhead, GIB, 'overhead');
});

const vary = (changes: Record<string, Record<string, JsonValue>>): JsonValue => {
  const out = structuredClone(medgemmaQlora) as Record<string, Record<string, JsonValue>>;
  for (const [section, keys] of Object.entries(changes)) out[section] = { ...out[section], ...keys };
  return out;
};
const total = (config: JsonValue): number => estimateMemory(config).totalGiB ?? NaN;
const part = (config: JsonValue, key: 'weights' | 'adapters' | 'activations' | 'overhead'): number => breakdown(estimateMemory(config))[key];

test('monotonic effects: 4-bit, checkpointing, batch, rank, eager attention, vision adapters, processes', () => {
  assert.ok(part(medgemmaQlora, 'weights') < part(vary({ model: { quantization: 'none' } }), 'weights'));
  assert.ok(total(medgemmaQlora) < total(vary({ model: { quantization: 'none' } })), '4-bit < bf16');
  assert.ok(total(vary({ model: { quantization: 'none' } })) < total(vary({ model: { quantization: 'none', dtype: 'float32' } })), 'bf16 < fp32');
  assert.ok(part(medgemmaQlora, 'activations') < part(vary({ model: { gradient_checkpointing: false } }), 'activations'), 'checkpointing lowers activations');
  assert.ok(part(medgemmaQlora, 'activations') < part(vary({ train: { per_device_batch_size: 4 } }), 'activations'), 'batch raises activations');
  assert.equal(part(vary({ train: { per_device_batch_size: 4 } }), 'activations'), 2 * part(medgemmaQlora, 'activations'));
  assert.ok(part(medgemmaQlora, 'adapters') < part(vary({ lora: { r: 64 } }), 'adapters'), 'rank raises adapters');
  assert.equal(part(vary({ lora: { r: 64 } }), 'adapters'), 4 * part(medgemmaQlora, 'adapters'));
  assert.ok(part(vary({ model: { attn_implementation: 'sdpa' } }), 'activations') < part(medgemmaQlora, 'activations'), 'eager keeps attention probabilities');
  assert.ok(part(vary({ model: { max_length: 2048 } }), 'activations') > part(medgemmaQlora, 'activations'), 'longer sequences');
  assert.ok(part(vary({ lora: { include_vision_tower: false } }), 'adapters') < part(medgemmaQlora, 'adapters'));
  assert.ok(part(vary({ lora: { modules_to_save: ['lm_head', 'embed_tokens'] } }), 'adapters') > 10 * part(medgemmaQlora, 'adapters'), 'full copies of 0.67B-parameter tables');
  assert.ok(part(vary({ train: { optimizer: 'adamw_torch' } }), 'adapters') > part(medgemmaQlora, 'adapters'), '8-bit optimizer state is smaller');
  assert.ok(part(vary({ launch: { num_processes: 2 } }), 'overhead') > part(medgemmaQlora, 'overhead'), 'NCCL and DDP buckets');
  assert.ok(total(vary({ model: { base: 'google/medgemma-27b-it' } })) > total(medgemmaQlora));
  const full = vary({ model: { quantization: 'none' }, lora: { enabled: false } });
  assert.ok(part(full, 'adapters') > part(vary({ model: { quantization: 'none' } }), 'adapters'), 'full fine-tuning trains every weight');
});

test('no estimate for unknown models, CPU runs and impossible setups, each with a reason', () => {
  assert.deepEqual(estimateMemory(vary({ model: { base: 'someone/other-vlm' } })), {
    totalGiB: null,
    breakdown: null,
    why: 'unknown model; the estimate covers the models listed in the docs and models whose config.json can be read',
    trainableParameters: null,
  });
  assert.match(estimateMemory(vary({ train: { use_cpu: true } })).why, /on the CPU/);
  assert.match(estimateMemory(vary({ lora: { enabled: false } })).why, /full fine-tuning cannot train 4-bit weights/);
  assert.equal(estimateMemory({}).why, 'needs `model.base`');
  assert.equal(estimateMemory(vary({ train: { per_device_batch_size: 0 } })).totalGiB, null);
  assert.equal(estimateMemory(null).totalGiB, null);
});

test('the model table: parameter counts match the published totals', () => {
  const published: Record<string, number> = {
    'google/medgemma-4b-it': 4.30e9,
    'google/medgemma-27b-it': 27.43e9,
    'Qwen/Qwen2.5-VL-3B-Instruct': 3.75e9,
    'Qwen/Qwen2.5-VL-7B-Instruct': 8.29e9,
    'Qwen/Qwen2.5-VL-32B-Instruct': 33.45e9,
    'Qwen/Qwen2.5-VL-72B-Instruct': 73.41e9,
  };
  for (const [id, expected] of Object.entries(published)) {
    const model = findModel(id);
    assert.ok(model !== undefined, id);
    const counts = parameterCounts(model);
    assert.ok(Math.abs(counts.total / expected - 1) < 0.003, `${id}: ${counts.total}`);
    assert.ok(counts.vision > 0.4e9 && counts.vision < 0.75e9, `${id}: vision tower ${counts.vision}`);
  }
  assert.equal(KNOWN_MODELS.length, 8);
  assert.equal(findModel('qwen/qwen2.5-vl-7b-instruct')?.id, 'Qwen/Qwen2.5-VL-7B-Instruct', 'Hub ids are case-insensitive');
  assert.equal(findModel('tiny-qwen2_5_vl')?.id, 'tiny-qwen2_5_vl');
  assert.equal(findModel('demo-workspace/tiny-qwen2_5_vl/')?.id, 'tiny-qwen2_5_vl', 'the tiny model by its folder name');
  assert.equal(findModel('C:\\work\\tiny-medgemma')?.id, 'tiny-medgemma');
  assert.equal(findModel('google/medgemma-4b-pt'), undefined);
  const tiny = estimateMemory(vary({ model: { base: 'tiny-qwen2_5_vl', quantization: 'none' } }));
  assert.ok(tiny.totalGiB !== null && tiny.totalGiB < 1.1, 'the tiny model is all overhead');
});
