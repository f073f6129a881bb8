// An estimate of peak GPU memory per GPU for a run config, shown beside the config form.
//
// ## How the GPU memory estimate is computed
//
// The estimate (within about ±25%) is for one GPU. Every process holds a full copy of the
// model, because runs use data parallelism. It is the sum of four parts. GiB means 2^30 bytes.
//
// - **Weights.** Each parameter takes 2 bytes in bf16 or fp16 and 4 bytes in fp32. With
//   `quantization: 4bit` (bitsandbytes NF4 with double quantisation), the weights of the linear
//   layers take about 0.516 bytes each: 4 bits of weight, an 8-bit absmax for every block of 64
//   weights, and an fp32 constant for every 256 of those blocks. `lm_head`, the embeddings and
//   the norms stay in bf16.
// - **Adapters and optimizer.** LoRA adds r × (d_in + d_out) parameters to each adapted linear
//   layer. `all-linear` adapts every linear layer except `lm_head`, and the vision tower too
//   when `lora.include_vision_tower` is on. Each trainable parameter needs its weight, its
//   gradient and the AdamW moments:
//   - On a bf16 model, PEFT keeps LoRA weights in fp32, so each parameter takes 4 + 4 + 8 =
//     16 bytes.
//   - On a 4-bit model, TRL casts the trainable weights to bf16, so each takes 2 + 2 + 4 = 8
//     bytes.
//   - The 8-bit optimizers store 2 bytes of moments instead of 8 (or 4).
//
//   Each `modules_to_save` entry is a full trainable copy of the module in the model's dtype.
//   `embed_tokens` and `lm_head` are each vocab × hidden. Without LoRA, every parameter is
//   trained: a gradient plus AdamW moments in the weights' dtype.
// - **Activations.** Activations are counted for batch × sequence length tokens in each of the
//   L decoder layers (batch is `train.per_device_batch_size`). Each token stores (4h + 2q + 2kv
//   + 4i) values per layer, in bf16 (fp32 only when weights and precision are both fp32): the
//   norm and projection inputs, the attention's q, k, v and output, and the four h-to-i tensors
//   of the gated MLP. Here h is the hidden size, i the MLP
//   size, and q and kv are the query and key/value widths.
//   - LoRA with dropout adds d_in × 3 bytes per adapted layer: the dropped-out input and its mask.
//   - Eager attention adds heads × sequence length × 6 bytes per token: its fp32 softmax and the
//     bf16 copy that it keeps. SDPA and flash attention keep none.
//   - The vision tower counts the same way, per image patch and with its own sizes (SigLIP's
//     plain MLP keeps 2i, not 4i), but only when it has adapters (or is fully trained).
//     Otherwise no gradient flows through it, and it holds one layer at a time.
//   - The logits take sequence length × vocab × 10 bytes: bf16, an fp32 copy and the
//     log-softmax.
//   - With gradient checkpointing, each layer keeps only its input (h values per token), plus
//     one layer's full activations while it is recomputed.
//
//   The sequence length is `model.max_length` when set. Otherwise it is a typical MedVision
//   sample: about 190 text tokens plus the image. For Qwen2.5-VL, a 512 × 512 slice becomes
//   504 × 504, which is 1296 patches or 324 tokens, so 514 tokens in all. For MedGemma, the
//   image is 896 × 896, which is 4096 patches or 256 tokens, so 446 tokens in all.
// - **Overhead.** The CUDA context, the cuBLAS workspaces and allocator slack take about
//   1 GiB. With several processes, add 0.5 GiB of NCCL buffers and DDP's gradient buckets (one
//   more copy of the trainable gradients).
//
// Model shapes come from each model's published config.json on the Hugging Face Hub; see
// KNOWN_MODELS. Other models' shapes come from their own config.json (modelShapes.ts), through
// the lookup estimateMemory is given.

import { isPlainObject } from '../../shared/configSchema';
import type { JsonValue } from '../../shared/configSchema';

export interface MemoryBreakdown {
  readonly weightsGiB: number;
  /** Trainable weights (LoRA, modules_to_save copies, or all of them), their gradients and optimizer state. */
  readonly adaptersGiB: number;
  readonly activationsGiB: number;
  readonly overheadGiB: number;
}

export interface MemoryEstimate {
  /** Peak GPU memory per GPU, an estimate within about ±25%; null when it cannot be estimated. */
  readonly totalGiB: number | null;
  readonly breakdown: MemoryBreakdown | null;
  /** What the estimate assumed, or why there is none. */
  readonly why: string;
  readonly trainableParameters: number | null;
}

interface TextTower {
  readonly hidden: number;
  readonly intermediate: number;
  readonly layers: number;
  readonly heads: number;
  readonly kvHeads: number;
  readonly headDim: number;
  readonly vocab: number;
  readonly tiedEmbeddings: boolean;
}
interface VisionTower {
  readonly kind: 'qwen2_5_vl' | 'siglip';
  readonly hidden: number;
  readonly intermediate: number;
  readonly layers: number;
  readonly heads: number;
  /** Patches the encoder sees for a typical MedVision slice, and the tokens they become. */
  readonly patches: number;
  readonly imageTokens: number;
  /** Qwen2.5-VL attends within 8 × 8-patch windows except in these layers. */
  readonly fullAttentionLayers: number;
}
export interface KnownModel {
  readonly id: string;
  readonly family: 'qwen2_5_vl' | 'medgemma';
  readonly text: TextTower;
  readonly vision: VisionTower;
  /** Where the numbers come from. */
  readonly source: string;
}

const QWEN_VISION = { kind: 'qwen2_5_vl', hidden: 1280, layers: 32, heads: 16, patches: 1296, imageTokens: 324, fullAttentionLayers: 4 } as const;
const SIGLIP_896 = { kind: 'siglip', hidden: 1152, intermediate: 4304, layers: 27, heads: 16, patches: 4096, imageTokens: 256, fullAttentionLayers: 27 } as const;

/** Text tokens of a typical MedVision sample besides the image: system, task prompt, format line, answer. */
const TEXT_TOKENS = 190;

export const KNOWN_MODELS: readonly KnownModel[] = [
  {
    id: 'google/medgemma-4b-it',
    family: 'medgemma',
    // Gemma 3 4B: text_config and SigLIP-so400m vision_config (896 px, patch 14) of the model's
    // config.json; heads, KV heads and head_dim are Gemma3TextConfig's values for 4B.
    text: { hidden: 2560, intermediate: 10240, layers: 34, heads: 8, kvHeads: 4, headDim: 256, vocab: 262208, tiedEmbeddings: true },
    vision: SIGLIP_896,
    source: 'huggingface.co/google/medgemma-4b-it config.json (Gemma 3 4B); 4.30B parameters',
  },
  {
    id: 'google/medgemma-27b-it',
    family: 'medgemma',
    text: { hidden: 5376, intermediate: 21504, layers: 62, heads: 32, kvHeads: 16, headDim: 128, vocab: 262208, tiedEmbeddings: true },
    vision: SIGLIP_896,
    source: 'huggingface.co/google/medgemma-27b-it config.json (Gemma 3 27B); 27.4B parameters',
  },
  {
    id: 'Qwen/Qwen2.5-VL-3B-Instruct',
    family: 'qwen2_5_vl',
    text: { hidden: 2048, intermediate: 11008, layers: 36, heads: 16, kvHeads: 2, headDim: 128, vocab: 151936, tiedEmbeddings: true },
    vision: { ...QWEN_VISION, intermediate: 3420 },
    source: 'huggingface.co/Qwen/Qwen2.5-VL-3B-Instruct config.json; 3.75B parameters',
  },
  {
    id: 'Qwen/Qwen2.5-VL-7B-Instruct',
    family: 'qwen2_5_vl',
    text: { hidden: 3584, intermediate: 18944, layers: 28, heads: 28, kvHeads: 4, headDim: 128, vocab: 152064, tiedEmbeddings: false },
    vision: { ...QWEN_VISION, intermediate: 3420 },
    source: 'huggingface.co/Qwen/Qwen2.5-VL-7B-Instruct config.json; 8.29B parameters',
  },
  {
    id: 'Qwen/Qwen2.5-VL-32B-Instruct',
    family: 'qwen2_5_vl',
    text: { hidden: 5120, intermediate: 27648, layers: 64, heads: 40, kvHeads: 8, headDim: 128, vocab: 152064, tiedEmbeddings: false },
    vision: { ...QWEN_VISION, intermediate: 3456 },
    source: 'huggingface.co/Qwen/Qwen2.5-VL-32B-Instruct config.json; 33.5B parameters',
  },
  {
    id: 'Qwen/Qwen2.5-VL-72B-Instruct',
    family: 'qwen2_5_vl',
    // 29568 as in Qwen2.5-72B; the AWQ repack pads it to 29696.
    text: { hidden: 8192, intermediate: 29568, layers: 80, heads: 64, kvHeads: 8, headDim: 128, vocab: 152064, tiedEmbeddings: false },
    vision: { ...QWEN_VISION, intermediate: 3456 },
    source: 'huggingface.co/Qwen/Qwen2.5-VL-72B-Instruct config.json; 73.4B parameters',
  },
  {
    id: 'tiny-qwen2_5_vl',
    family: 'qwen2_5_vl',
    // `medvlm-sft make-tiny-model` (python/src/medvlm_sft/models/tiny.py): 64 x 64 slices resized to 56 x 56.
    text: { hidden: 64, intermediate: 128, layers: 2, heads: 4, kvHeads: 2, headDim: 16, vocab: 692, tiedEmbeddings: false },
    vision: { kind: 'qwen2_5_vl', hidden: 32, intermediate: 64, layers: 2, heads: 2, patches: 16, imageTokens: 4, fullAttentionLayers: 1 },
    source: 'medvlm-sft make-tiny-model (models/tiny.py)',
  },
  {
    id: 'tiny-medgemma',
    family: 'medgemma',
    text: { hidden: 64, intermediate: 128, layers: 2, heads: 4, kvHeads: 2, headDim: 16, vocab: 713, tiedEmbeddings: true },
    vision: { kind: 'siglip', hidden: 32, intermediate: 64, layers: 2, heads: 2, patches: 16, imageTokens: 4, fullAttentionLayers: 2 },
    source: 'medvlm-sft make-tiny-model --family medgemma (models/tiny.py)',
  },
];

/** The known model a `model.base` names: a Hub id (any case), or a local folder named after the tiny models. */
export function findModel(base: string): KnownModel | undefined {
  const trimmed = base.trim().replace(/[\\/]+$/, '');
  const lower = trimmed.toLowerCase();
  const folder = lower.split(/[\\/]/).pop() ?? '';
  return KNOWN_MODELS.find((m) => m.id.toLowerCase() === lower || (m.id.startsWith('tiny-') && folder === m.id));
}

interface Linear {
  readonly name: string;
  readonly dIn: number;
  readonly dOut: number;
  readonly count: number;
  readonly vision: boolean;
}

/** Every nn.Linear of the model except lm_head, with PEFT's module-name suffixes. */
function linearLayers(model: KnownModel): Linear[] {
  const t = model.text;
  const q = t.heads * t.headDim;
  const kv = t.kvHeads * t.headDim;
  const lm = (name: string, dIn: number, dOut: number): Linear => ({ name, dIn, dOut, count: t.layers, vision: false });
  const v = model.vision;
  const vis = (name: string, dIn: number, dOut: number, count = v.layers): Linear => ({ name, dIn, dOut, count, vision: true });
  const vision =
    v.kind === 'qwen2_5_vl'
      ? [
          vis('qkv', v.hidden, 3 * v.hidden),
          vis('proj', v.hidden, v.hidden),
          vis('gate_proj', v.hidden, v.intermediate),
          vis('up_proj', v.hidden, v.intermediate),
          vis('down_proj', v.intermediate, v.hidden),
          // The patch merger's MLP (visual.merger.mlp.0 and .2) over 2 x 2 merged patches.
          vis('0', 4 * v.hidden, 4 * v.hidden, 1),
          vis('2', 4 * v.hidden, t.hidden, 1),
        ]
      : [
          vis('q_proj', v.hidden, v.hidden),
          vis('k_proj', v.hidden, v.hidden),
          vis('v_proj', v.hidden, v.hidden),
          vis('out_proj', v.hidden, v.hidden),
          vis('fc1', v.hidden, v.intermediate),
          vis('fc2', v.intermediate, v.hidden),
        ];
  return [
    lm('q_proj', t.hidden, q),
    lm('k_proj', t.hidden, kv),
    lm('v_proj', t.hidden, kv),
    lm('o_proj', q, t.hidden),
    lm('gate_proj', t.hidden, t.intermediate),
    lm('up_proj', t.hidden, t.intermediate),
    lm('down_proj', t.intermediate, t.hidden),
    ...vision,
  ];
}

const sum = (values: readonly number[]): number => values.reduce((a, b) => a + b, 0);

/** Parameter counts from the shapes (norms and biases left out: well under 0.1%). */
export function parameterCounts(model: KnownModel): { language: number; vision: number; linear: number; total: number } {
  const t = model.text;
  const v = model.vision;
  const linears = linearLayers(model);
  const linear = sum(linears.map((l) => l.dIn * l.dOut * l.count));
  const languageLinear = sum(linears.filter((l) => !l.vision).map((l) => l.dIn * l.dOut * l.count));
  const embeddings = t.vocab * t.hidden * (t.tiedEmbeddings ? 1 : 2);
  const visionOther =
    v.kind === 'qwen2_5_vl'
      ? 3 * 2 * 14 * 14 * v.hidden // Conv3d patch embedding (2 frames x 14 x 14)
      : 3 * 14 * 14 * v.hidden + v.patches * v.hidden + v.hidden * t.hidden; // patch conv, position table, projector
  const language = languageLinear + embeddings;
  const vision = linear - languageLinear + visionOther;
  return { language, vision, linear, total: language + vision };
}

const GIB = 2 ** 30;
const NF4_BYTES = 0.5 + 1 / 64 + 4 / (64 * 256);
const OVERHEAD_GIB = 1;
const MULTI_PROCESS_GIB = 0.5;

function get(config: JsonValue, ...path: string[]): JsonValue | undefined {
  let node: JsonValue | undefined = config;
  for (const key of path) node = isPlainObject(node) ? node[key] : undefined;
  return node;
}

const unknown = (why: string): MemoryEstimate => ({ totalGiB: null, breakdown: null, why, trainableParameters: null });

function positive(value: JsonValue | undefined): number | undefined {
  return typeof value === 'number' && Number.isFinite(value) && value >= 1 ? value : undefined;
}

/**
 * Shapes of a model outside KNOWN_MODELS, read from its config.json (see modelShapes.ts and
 * core/modelShapeCache.ts): the model, or why there is none (yet).
 */
export type ModelLookup = (base: string) => KnownModel | { readonly why: string } | undefined;

/** Peak GPU memory per GPU for a run config whose defaults are filled in (see withDefaults). */
export function estimateMemory(config: JsonValue, lookup?: ModelLookup): MemoryEstimate {
  const base = get(config, 'model', 'base');
  if (typeof base !== 'string' || base.trim() === '') return unknown('needs `model.base`');
  if (get(config, 'train', 'use_cpu') === true) return unknown('training on the CPU (`train.use_cpu`): no GPU memory is used');
  const found = findModel(base) ?? lookup?.(base);
  if (found === undefined) return unknown('unknown model; the estimate covers the models listed in the docs and models whose config.json can be read');
  if ('why' in found) return unknown(found.why);
  const model = found;
  const batch = positive(get(config, 'train', 'per_device_batch_size'));
  if (batch === undefined) return unknown('needs `train.per_device_batch_size`');
  const quantized = get(config, 'model', 'quantization') === '4bit';
  const lora = get(config, 'lora', 'enabled') !== false;
  if (quantized && !lora) return unknown('full fine-tuning cannot train 4-bit weights: turn LoRA on or set `model.quantization: none`');
  const rank = positive(get(config, 'lora', 'r'));
  if (lora && rank === undefined) return unknown('needs `lora.r`');

  const t = model.text;
  const v = model.vision;
  const counts = parameterCounts(model);
  const linears = linearLayers(model);
  const weightBytes = get(config, 'model', 'dtype') === 'float32' ? 4 : 2;
  const precision = get(config, 'train', 'precision');
  const activationBytes = weightBytes === 4 && precision === 'fp32' ? 4 : 2;
  const eightBit = String(get(config, 'train', 'optimizer') ?? '').includes('8bit');
  const stateBytes = (paramBytes: number): number => (eightBit ? 2 : 2 * paramBytes);

  // Weights.
  const weights = quantized ? counts.linear * NF4_BYTES + (counts.total - counts.linear) * weightBytes : counts.total * weightBytes;

  // Adapters (or every weight) with gradients and optimizer state.
  const adapted = lora ? adaptedLayers(linears, get(config, 'lora', 'target_modules'), get(config, 'lora', 'include_vision_tower') !== false) : [];
  const loraParams = sum(adapted.map((l) => (rank ?? 0) * (l.dIn + l.dOut) * l.count));
  const loraBytes = quantized ? 2 : 4;
  const saved = lora ? modulesToSave(model, get(config, 'lora', 'modules_to_save')) : 0;
  const savedBytes = quantized ? 2 : weightBytes;
  const trainable = lora ? loraParams + saved : counts.total;
  const adapters = lora
    ? loraParams * (2 * loraBytes + stateBytes(loraBytes)) + saved * (2 * savedBytes + stateBytes(savedBytes))
    : counts.total * (weightBytes + stateBytes(weightBytes));
  const gradientBytes = lora ? loraParams * loraBytes + saved * savedBytes : counts.total * weightBytes;

  // Activations for one sample, then the batch.
  const maxLength = positive(get(config, 'model', 'max_length'));
  const sequence = maxLength ?? v.imageTokens + TEXT_TOKENS;
  const attention = get(config, 'model', 'attn_implementation');
  // `auto` is eager for MedGemma (the trainer follows Hugging Face's advice for Gemma 3), else SDPA.
  const eager = attention === 'eager' || ((attention === 'auto' || attention === undefined) && model.family === 'medgemma');
  const checkpointing = get(config, 'model', 'gradient_checkpointing') === true;
  const dropout = get(config, 'lora', 'dropout');
  const dropoutBytes = lora && typeof dropout === 'number' && dropout > 0 ? activationBytes + 1 : 0;
  const visionTrained = !lora || adapted.some((l) => l.vision);

  const q = t.heads * t.headDim;
  const kv = t.kvHeads * t.headDim;
  const lmTokenLayer =
    activationBytes * (4 * t.hidden + 2 * q + 2 * kv + 4 * t.intermediate) +
    dropoutBytes * sum(adapted.filter((l) => !l.vision && l.count === t.layers).map((l) => l.dIn)) +
    (eager ? t.heads * sequence * (4 + activationBytes) : 0);
  const mlpTensors = v.kind === 'qwen2_5_vl' ? 4 : 2;
  const windowPatches = v.kind === 'qwen2_5_vl' ? Math.min(64, v.patches) : v.patches;
  const visionPatchLayer =
    activationBytes * (8 * v.hidden + mlpTensors * v.intermediate) +
    dropoutBytes * sum(adapted.filter((l) => l.vision && l.count === v.layers).map((l) => l.dIn));
  // Eager attention's probabilities per patch, averaged over windowed and full-attention layers.
  const visionEager = eager ? (v.heads * (4 + activationBytes) * (v.fullAttentionLayers * v.patches + (v.layers - v.fullAttentionLayers) * windowPatches)) / v.layers : 0;
  const lmLayer = sequence * lmTokenLayer;
  const visionLayer = v.patches * (visionPatchLayer + visionEager);
  const lmStored = checkpointing ? t.layers * sequence * t.hidden * activationBytes : t.layers * lmLayer;
  const visionStored = !visionTrained ? 0 : checkpointing ? v.layers * v.patches * v.hidden * activationBytes : v.layers * visionLayer;
  // One layer's full activations exist at a time while a checkpointed layer is recomputed, or
  // while the frozen vision tower runs without keeping anything.
  const transient = checkpointing ? Math.max(lmLayer, visionLayer) : visionTrained ? 0 : visionLayer;
  const logits = sequence * t.vocab * (activationBytes + 8);
  const activations = batch * (lmStored + visionStored + transient + logits);

  const processes = positive(get(config, 'launch', 'num_processes')) ?? 1;
  const overhead = OVERHEAD_GIB * GIB + (processes > 1 ? MULTI_PROCESS_GIB * GIB + gradientBytes : 0);

  const breakdown: MemoryBreakdown = {
    weightsGiB: weights / GIB,
    adaptersGiB: adapters / GIB,
    activationsGiB: activations / GIB,
    overheadGiB: overhead / GIB,
  };
  const total = breakdown.weightsGiB + breakdown.adaptersGiB + breakdown.activationsGiB + breakdown.overheadGiB;
  if (!Number.isFinite(total)) return unknown('the settings are too large to estimate');
  const how = [
    `${model.source.startsWith('config.json') ? `${model.id} (shapes from its config.json)` : model.id}, ${quantized ? '4-bit NF4' : weightBytes === 4 ? 'fp32' : 'bf16'} weights`,
    lora ? `LoRA r${rank}` : 'full fine-tuning',
    `batch ${batch} x ${sequence} tokens${maxLength === undefined ? ' (a typical MedVision sample)' : ''}`,
    checkpointing ? 'gradient checkpointing' : 'no gradient checkpointing',
  ].join(', ');
  return { totalGiB: total, breakdown, why: `estimate (±25%): ${how}`, trainableParameters: trainable };
}

/** The linear layers LoRA adapts: PEFT matches `all-linear`, or list entries as module-name suffixes. */
function adaptedLayers(linears: readonly Linear[], targets: JsonValue | undefined, includeVision: boolean): Linear[] {
  const names = Array.isArray(targets) ? targets.filter((t): t is string => typeof t === 'string') : undefined;
  return linears.filter((l) => (includeVision || !l.vision) && (names === undefined ? targets === 'all-linear' || targets === undefined : names.some((n) => n === l.name || n.endsWith(`.${l.name}`))));
}

/** Parameters of the full copies `modules_to_save` trains; modules other than the embeddings and lm_head count as small. */
function modulesToSave(model: KnownModel, names: JsonValue | undefined): number {
  if (!Array.isArray(names)) return 0;
  const table = model.text.vocab * model.text.hidden;
  return names.filter((n) => n === 'embed_tokens' || n === 'lm_head').length * table;
}
