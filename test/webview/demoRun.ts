// A plausible 60-step run for the README screenshot: loss falling with noise, eval every 10
// steps, warmup then cosine learning rate. Deterministic (no Math.random) so screenshots match.

import type { TrainerEvent } from '../../src/shared/events';
import type { RunSummary } from '../../src/shared/runStatus';

const T0 = 1764244800; // 2025-11-27 12:00 UTC
const MAX_STEPS = 80;
const STEPS = 60;
const SECONDS_PER_STEP = 4.2;

export function demoEvents(): { events: TrainerEvent[]; summary: RunSummary } {
  const events: TrainerEvent[] = [
    {
      v: 1,
      t: T0,
      type: 'run_started',
      run_id: '20251127-120000-lesion-size',
      trainer_version: '0.1.0',
      world_size: 1,
      config: { model: { base: 'Qwen/Qwen2.5-VL-3B-Instruct' } },
    },
    { v: 1, t: T0 + 1, type: 'phase', phase: 'preparing_data' },
    { v: 1, t: T0 + 9, type: 'phase', phase: 'loading_model' },
    { v: 1, t: T0 + 30, type: 'phase', phase: 'training' },
  ];
  let t = T0 + 30;
  for (let step = 1; step <= STEPS; step++) {
    t += SECONDS_PER_STEP;
    const noise = 0.09 * Math.sin(step * 1.7) + 0.05 * Math.cos(step * 3.1);
    const loss = 0.45 + 2.1 * Math.exp(-step / 14) + noise;
    const warmup = 8;
    const lr = step <= warmup ? 2e-4 * (step / warmup) : 1e-4 * (1 + Math.cos((Math.PI * (step - warmup)) / (MAX_STEPS - warmup)));
    events.push({
      v: 1,
      t,
      type: 'progress',
      step,
      max_steps: MAX_STEPS,
      epoch: step / 40,
      samples_per_s: 3.8,
      eta_s: (MAX_STEPS - step) * SECONDS_PER_STEP,
    });
    events.push({
      v: 1,
      t,
      type: 'metrics',
      step,
      epoch: step / 40,
      split: 'train',
      values: { loss: round(loss), learning_rate: lr, grad_norm: round(1.2 + noise * 3), gpu_mem_gb: 17.4 },
    });
    if (step % 10 === 0) {
      t += 12;
      events.push({ v: 1, t, type: 'phase', phase: 'evaluating' });
      const evalLoss = 0.62 + 1.9 * Math.exp(-step / 16);
      events.push({
        v: 1,
        t,
        type: 'metrics',
        step,
        epoch: step / 40,
        split: 'eval',
        values: { loss: round(evalLoss), mae: round(4.1 * Math.exp(-step / 30) + 0.8), success_rate: round(0.3 + step / 120) },
      });
      events.push({ v: 1, t, type: 'phase', phase: 'training' });
    }
    if (step % 20 === 0) {
      events.push({ v: 1, t, type: 'checkpoint', step, path: `checkpoints/checkpoint-${step}` });
    }
  }
  const summary: RunSummary = {
    runId: '20251127-120000-lesion-size',
    status: 'training',
    step: STEPS,
    maxSteps: MAX_STEPS,
    epoch: STEPS / 40,
    etaS: (MAX_STEPS - STEPS) * SECONDS_PER_STEP,
    samplesPerS: 3.8,
    startedAt: T0,
    lastEventAt: t,
  };
  return { events, summary };
}

function round(x: number): number {
  return Math.round(x * 1e4) / 1e4;
}

export const DEMO_LOG = [
  '[medvlm-sft] 0.1.0  accelerate 1.10  torch 2.8  cuda 12.8  1 process',
  '[data] 2,400 train / 300 validation records (MedVision Tumor/Lesion size)',
  '[model] Qwen/Qwen2.5-VL-3B-Instruct  LoRA r=16 alpha=32  trainable 0.52%',
  "{'loss': 0.9814, 'grad_norm': 1.31, 'learning_rate': 0.000123, 'epoch': 1.25}",
  "{'eval_loss': 0.8391, 'eval_mae': 1.92, 'eval_success_rate': 0.717, 'epoch': 1.25}",
  '[checkpoint] saved checkpoints/checkpoint-40',
  "{'loss': 0.6127, 'grad_norm': 0.97, 'learning_rate': 6.1e-05, 'epoch': 1.5}",
  '',
].join('\n');
