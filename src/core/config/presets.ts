// Presets the config form offers: whole training setups for a model, applied key by key with
// yamlEdit.setValue so the user's comments and data stay. They set every model, train, lora,
// eval, checkpoints and launch key that decides the setup (including defaults such as
// `max_steps: -1` and `use_cpu: false`, so a preset applied over the CPU demo really trains as
// described), and never touch `data`: the sources and limits are the user's.

import type { ConfigPath, JsonValue } from '../../shared/configSchema';

export interface ConfigPreset {
  readonly id: string;
  readonly label: string;
  readonly detail: string;
  readonly values: readonly { path: ConfigPath; value: JsonValue }[];
}

type Sections = Record<'model' | 'train' | 'lora' | 'eval' | 'checkpoints' | 'launch', Record<string, JsonValue>>;

function flatten(sections: Sections): { path: ConfigPath; value: JsonValue }[] {
  return Object.entries(sections).flatMap(([section, keys]) => Object.entries(keys).map(([key, value]) => ({ path: [section, key], value })));
}

// Shared by all three: the MedVision reference's optimisation (lr 2e-4 linear, 3% warm-up,
// clip 0.3, no weight decay) and LoRA shape (r16, alpha 16, dropout 0.05, all linear layers
// with the vision tower), with the loss on the answer only and no full-size module copies.
const REFERENCE_TRAIN: Record<string, JsonValue> = {
  max_steps: -1,
  learning_rate: 2e-4,
  lr_scheduler: 'linear',
  warmup_ratio: 0.03,
  weight_decay: 0.0,
  max_grad_norm: 0.3,
  precision: 'bf16',
  use_cpu: false,
  loss_on: 'completion',
};
const REFERENCE_LORA: Record<string, JsonValue> = {
  enabled: true,
  r: 16,
  alpha: 16,
  dropout: 0.05,
  target_modules: 'all-linear',
  include_vision_tower: true,
  modules_to_save: [],
};

export const CONFIG_PRESETS: readonly ConfigPreset[] = [
  {
    id: 'medgemma-4b-qlora',
    label: 'MedGemma 4B QLoRA',
    detail:
      'google/medgemma-4b-it in 4-bit NF4 with LoRA r16 and gradient checkpointing, for one 16-24 GB GPU (needs bitsandbytes); ' +
      'effective batch 16 (2 x 8), 2 epochs. As python/configs/medgemma-4b-qlora.sft.yaml.',
    values: flatten({
      model: {
        base: 'google/medgemma-4b-it',
        family: 'medgemma',
        dtype: 'bfloat16',
        attn_implementation: 'eager',
        quantization: '4bit',
        gradient_checkpointing: true,
      },
      train: {
        ...REFERENCE_TRAIN,
        epochs: 2,
        per_device_batch_size: 2,
        gradient_accumulation_steps: 8,
        // bitsandbytes is installed for 4-bit loading anyway; paging rides out memory peaks.
        optimizer: 'paged_adamw_8bit',
      },
      lora: REFERENCE_LORA,
      eval: { strategy: 'steps', steps: 100, per_device_batch_size: 2 },
      checkpoints: { save_steps: 100, save_total_limit: 3, resume_from: 'latest' },
      launch: { num_processes: 1 },
    }),
  },
  {
    id: 'qwen2_5_vl-7b-lora',
    label: 'Qwen2.5-VL 7B LoRA',
    detail:
      'Qwen/Qwen2.5-VL-7B-Instruct in bf16 with LoRA r16 and gradient checkpointing, for one 40-80 GB GPU; ' +
      'effective batch 16 (4 x 4), 3 epochs, MedVision reference optimisation.',
    values: flatten({
      model: {
        base: 'Qwen/Qwen2.5-VL-7B-Instruct',
        family: 'qwen2_5_vl',
        dtype: 'bfloat16',
        attn_implementation: 'auto',
        quantization: 'none',
        gradient_checkpointing: true,
      },
      train: {
        ...REFERENCE_TRAIN,
        epochs: 3,
        per_device_batch_size: 4,
        gradient_accumulation_steps: 4,
        optimizer: 'adamw_torch_fused',
      },
      lora: REFERENCE_LORA,
      eval: { strategy: 'steps', steps: 100, per_device_batch_size: 4 },
      checkpoints: { save_steps: 100, save_total_limit: 5, resume_from: 'latest' },
      launch: { num_processes: 1 },
    }),
  },
  {
    id: 'qwen2_5_vl-32b-medvision-qlora',
    label: 'Qwen2.5-VL 32B QLoRA as in the MedVision tutorial',
    detail:
      "The MedVision tutorial's 32B training settings (10 epochs, batch 1 x accumulation 12 x 2 GPUs = 24, eval and save " +
      'every 50 steps, keep 10) with Qwen/Qwen2.5-VL-32B-Instruct loaded in 4-bit NF4 (needs bitsandbytes). ' +
      'As python/configs/qwen2_5_vl-32b-medvision.sft.yaml otherwise.',
    values: flatten({
      model: {
        base: 'Qwen/Qwen2.5-VL-32B-Instruct',
        family: 'qwen2_5_vl',
        dtype: 'bfloat16',
        attn_implementation: 'auto',
        quantization: '4bit',
        gradient_checkpointing: true,
      },
      train: {
        ...REFERENCE_TRAIN,
        epochs: 10,
        per_device_batch_size: 1,
        gradient_accumulation_steps: 12,
        optimizer: 'adamw_torch_fused',
        dataloader_num_workers: 8,
      },
      lora: REFERENCE_LORA,
      eval: { strategy: 'steps', steps: 50, per_device_batch_size: 1, generation_samples: 32, max_new_tokens: 64 },
      checkpoints: { save_steps: 50, save_total_limit: 10, resume_from: 'latest' },
      launch: { num_processes: 2 },
    }),
  },
];
