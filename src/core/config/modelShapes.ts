// A model's shapes for the memory estimate, read from its config.json as transformers writes it,
// for the two families the trainer supports: Qwen2.5-VL (`qwen2_5_vl`; text fields at the top
// level in older files, under `text_config` in transformers 5) and Gemma 3 / MedGemma (`gemma3`,
// whose published files leave out fields equal to Gemma3TextConfig's and SiglipVisionConfig's
// defaults). So a model outside KNOWN_MODELS (a fine-tune on the Hub, a local copy under another
// name) still gets an estimate. No `vscode`.

import { smartResize } from '../../shared/preview/formatting';
import type { KnownModel } from './memoryEstimate';

type Json = Record<string, unknown>;

const isJson = (x: unknown): x is Json => typeof x === 'object' && x !== null && !Array.isArray(x);

/** transformers' Gemma3TextConfig defaults (the 4B model's), for fields a config.json leaves out. */
const GEMMA3_TEXT_DEFAULTS = { hidden_size: 2304, intermediate_size: 9216, num_hidden_layers: 26, num_attention_heads: 8, num_key_value_heads: 4, head_dim: 256, vocab_size: 262208 };
/** transformers' SiglipVisionConfig defaults. */
const SIGLIP_DEFAULTS = { hidden_size: 768, intermediate_size: 3072, num_hidden_layers: 12, num_attention_heads: 12, image_size: 224, patch_size: 16 };
/** The typical MedVision slice the estimate assumes (see memoryEstimate.ts). */
const TYPICAL_SLICE = 512;

export class ModelShapeError extends Error {}

/** Resize limits of the model's image processor (Qwen2.5-VL), when its folder has them. */
export interface ProcessorLimits {
  readonly minPixels?: number;
  readonly maxPixels?: number;
}

/**
 * The shapes of the model `id` from its config.json, or a ModelShapeError saying why not (a
 * family the trainer does not train, a field missing or not a positive whole number).
 */
export function modelFromConfigJson(id: string, json: unknown, limits: ProcessorLimits = {}): KnownModel {
  if (!isJson(json)) throw new ModelShapeError('its config.json is not a JSON object');
  const type = json.model_type;
  if (type === 'qwen2_5_vl') return qwen(id, json, limits);
  if (type === 'gemma3') return gemma3(id, json);
  throw new ModelShapeError(`its config.json says model_type ${JSON.stringify(type)}; the estimate covers qwen2_5_vl and gemma3 (MedGemma)`);
}

function field(section: Json, name: string, where: string, fallback?: number): number {
  const value = section[name] ?? fallback;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 1) {
    throw new ModelShapeError(`its config.json has no usable ${where}${name} (${JSON.stringify(value ?? null)})`);
  }
  return value;
}

function qwen(id: string, json: Json, limits: ProcessorLimits): KnownModel {
  const text = isJson(json.text_config) ? json.text_config : json;
  const where = isJson(json.text_config) ? 'text_config.' : '';
  const vision = json.vision_config;
  if (!isJson(vision)) throw new ModelShapeError('its config.json has no vision_config');
  const hidden = field(text, 'hidden_size', where);
  const heads = field(text, 'num_attention_heads', where);
  const patch = field(vision, 'patch_size', 'vision_config.', 14);
  const merge = field(vision, 'spatial_merge_size', 'vision_config.', 2);
  const [h, w] = smartResize(TYPICAL_SLICE, TYPICAL_SLICE, patch * merge, limits.minPixels, limits.maxPixels);
  const patches = (h / patch) * (w / patch);
  const layers = field(vision, 'depth', 'vision_config.');
  const full = Array.isArray(vision.fullatt_block_indexes) ? vision.fullatt_block_indexes.length : layers;
  return {
    id,
    family: 'qwen2_5_vl',
    text: {
      hidden,
      intermediate: field(text, 'intermediate_size', where),
      layers: field(text, 'num_hidden_layers', where),
      heads,
      kvHeads: field(text, 'num_key_value_heads', where, heads),
      headDim: hidden / heads,
      vocab: field(text, 'vocab_size', where),
      tiedEmbeddings: (json.tie_word_embeddings ?? text.tie_word_embeddings) === true,
    },
    vision: {
      kind: 'qwen2_5_vl',
      hidden: field(vision, 'hidden_size', 'vision_config.'),
      intermediate: field(vision, 'intermediate_size', 'vision_config.'),
      layers,
      heads: field(vision, 'num_heads', 'vision_config.'),
      patches,
      imageTokens: patches / (merge * merge),
      fullAttentionLayers: full,
    },
    source: `config.json of ${id}`,
  };
}

function gemma3(id: string, json: Json): KnownModel {
  const text = isJson(json.text_config) ? json.text_config : {};
  const vision = isJson(json.vision_config) ? json.vision_config : {};
  const t = (name: keyof typeof GEMMA3_TEXT_DEFAULTS): number => field(text, name, 'text_config.', GEMMA3_TEXT_DEFAULTS[name]);
  const v = (name: keyof typeof SIGLIP_DEFAULTS): number => field(vision, name, 'vision_config.', SIGLIP_DEFAULTS[name]);
  const side = v('image_size') / v('patch_size');
  const layers = v('num_hidden_layers');
  return {
    id,
    family: 'medgemma',
    text: {
      hidden: t('hidden_size'),
      intermediate: t('intermediate_size'),
      layers: t('num_hidden_layers'),
      heads: t('num_attention_heads'),
      kvHeads: t('num_key_value_heads'),
      headDim: t('head_dim'),
      vocab: t('vocab_size'),
      // Gemma 3 ties its embeddings unless a config says otherwise.
      tiedEmbeddings: (json.tie_word_embeddings ?? text.tie_word_embeddings ?? true) === true,
    },
    vision: {
      kind: 'siglip',
      hidden: v('hidden_size'),
      intermediate: v('intermediate_size'),
      layers,
      heads: v('num_attention_heads'),
      patches: side * side,
      imageTokens: field(json, 'mm_tokens_per_image', '', 256),
      fullAttentionLayers: layers,
    },
    source: `config.json of ${id}`,
  };
}
