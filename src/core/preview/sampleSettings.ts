// What decides how a sample reaches the model besides the record: the model family and its
// resize, the run config's opt-in text options and its `data.image` normalisation. From a run config they are the config's own (`model.base`,
// `model.family`, the model folder's processor config, `data.detection_prompt`,
// `data.box_convention`); from a bare records file, the family's published defaults.
// Mirrors python/src/medvlm_sft/data/resize.py (read the processor config without transformers).

import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { parse } from 'yaml';
import type { FormatOptions, ResizeRule } from '../../shared/preview/formatting';
import type { ImageNormalization, ModelFamily } from '../../shared/protocol/samplePreview';
import { localModelFolder } from '../modelBase';
import { imageNormalization } from './greyLevels';
import { isObject } from '../../shared/protocol/message';

type Json = Record<string, unknown>;

/** What a run config says about its samples' text. */
export interface ConfigSampleSettings {
  /** `model.base` as written, and the folder it resolves against. */
  readonly model?: { readonly base: string; readonly configDir: string; readonly folder?: string };
  /** The family the trainer uses for this config, when the config or its model folder says. */
  readonly family?: ModelFamily;
  /** The model folder's own resize rule for that family (else the published defaults). */
  readonly rule?: ResizeRule;
  readonly options: FormatOptions;
  /** `data.image`: how slices become grey levels (absent: the reference's min-max). */
  readonly image?: ImageNormalization;
}

export interface SampleSettings {
  readonly family: ModelFamily;
  readonly rule: ResizeRule;
  readonly options: FormatOptions;
  readonly image?: ImageNormalization;
}

const MODEL_TYPE_TO_FAMILY: Readonly<Record<string, ModelFamily>> = { qwen2_5_vl: 'qwen2_5_vl', gemma3: 'medgemma' };

async function readJson(file: string): Promise<unknown> {
  try {
    return JSON.parse(await readFile(file, 'utf8')) as unknown;
  } catch {
    return undefined;
  }
}

/** The image processor settings saved with a model (transformers 5 nests them in processor_config.json). */
async function imageProcessorConfig(folder: string): Promise<Json | undefined> {
  for (const name of ['preprocessor_config.json', 'processor_config.json']) {
    const data = await readJson(path.join(folder, name));
    if (!isObject(data)) continue;
    return isObject(data.image_processor) ? data.image_processor : data;
  }
  return undefined;
}

/** The family's resize rule from a model folder's processor config; `min_pixels`/`max_pixels` override `size`. */
export async function resizeRuleOf(family: ModelFamily, folder: string | undefined): Promise<ResizeRule> {
  const config = folder !== undefined ? await imageProcessorConfig(folder) : undefined;
  if (config === undefined) return { family };
  const size: Json = isObject(config.size) ? { ...config.size } : {};
  if (typeof config.min_pixels === 'number') size.shortest_edge = config.min_pixels;
  if (typeof config.max_pixels === 'number') size.longest_edge = config.max_pixels;
  const num = (value: unknown): number | undefined => (typeof value === 'number' && value > 0 ? value : undefined);
  if (family === 'qwen2_5_vl') {
    const factor = (num(config.patch_size) ?? 14) * (num(config.merge_size) ?? 2);
    return {
      family,
      factor,
      ...(num(size.shortest_edge) !== undefined ? { minPixels: num(size.shortest_edge) as number } : {}),
      ...(num(size.longest_edge) !== undefined ? { maxPixels: num(size.longest_edge) as number } : {}),
    };
  }
  const height = num(size.height);
  const width = num(size.width);
  return height !== undefined && width !== undefined ? { family, fixedHw: [height, width] } : { family };
}

/** Reads what a run config says about text; a config that cannot be read gives the defaults. */
export async function configSampleSettings(configFile: string): Promise<ConfigSampleSettings> {
  let config: unknown;
  try {
    config = parse(await readFile(configFile, 'utf8'));
  } catch {
    return { options: {} };
  }
  const model = isObject(config) && isObject(config.model) ? config.model : {};
  const data = isObject(config) && isObject(config.data) ? config.data : {};
  const options: FormatOptions = {
    ...(data.detection_prompt === 'benchmark' || data.detection_prompt === 'reference' ? { detectionPrompt: data.detection_prompt } : {}),
    ...(data.box_convention === 'pixel_edge' || data.box_convention === 'reference' ? { boxConvention: data.box_convention } : {}),
  };
  const image = imageNormalization(data.image);
  const withImage = image.mode !== 'minmax' ? { image } : {};
  if (typeof model.base !== 'string' || model.base.trim() === '') return { options, ...withImage };
  const configDir = path.dirname(configFile);
  const folder = await localModelFolder(model.base, configDir);
  let family: ModelFamily | undefined = model.family === 'qwen2_5_vl' || model.family === 'medgemma' ? model.family : undefined;
  if (family === undefined && (model.family === undefined || model.family === 'auto') && folder !== undefined) {
    const modelConfig = await readJson(path.join(folder, 'config.json'));
    family = isObject(modelConfig) && typeof modelConfig.model_type === 'string' ? MODEL_TYPE_TO_FAMILY[modelConfig.model_type] : undefined;
  }
  return {
    model: { base: model.base, configDir, ...(folder !== undefined ? { folder } : {}) },
    ...(family !== undefined ? { family, rule: await resizeRuleOf(family, folder) } : {}),
    options,
    ...withImage,
  };
}

/** The settings for a family: the config's own rule when it is the config's family. */
export function sampleSettingsFor(family: ModelFamily, config: ConfigSampleSettings | undefined): SampleSettings {
  const rule = config?.family === family && config.rule !== undefined ? config.rule : { family };
  return { family, rule, options: config?.options ?? {}, ...(config?.image !== undefined ? { image: config.image } : {}) };
}
