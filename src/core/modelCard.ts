// The model card (README.md) and loss-curve image pushed with a run's adapter or merged model:
// base model, data sources and their limits, the run's config, final and best metrics and the
// loss curves, all read from the run folder (its events and config snapshot). No `vscode`.

import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { stringify } from 'yaml';
import type { MetricsEvent, TrainerEvent } from '../shared/events';
import { hubModelId } from './accounts';
import { parseEventLines } from './eventsTail';
import { LOSS_CURVE_FILE, modelFiles } from './hubPush';
import type { PushFile } from './hubPush';
import { localModelFolder } from './modelBase';
import { CONFIG_SNAPSHOT, EVENTS_FILE } from './runDir';

export { LOSS_CURVE_FILE };

export type PushKind = 'adapter' | 'merged';

export interface LossPoint {
  readonly step: number;
  readonly loss: number;
}

export interface RunHistory {
  readonly runId: string;
  readonly config: Record<string, unknown>;
  readonly trainerVersion: string | undefined;
  readonly trainLoss: readonly LossPoint[];
  readonly evalLoss: readonly LossPoint[];
  /** The last eval metrics, and the eval point with the lowest loss. */
  readonly finalEval: MetricsEvent | undefined;
  readonly bestEval: MetricsEvent | undefined;
  readonly finalTrain: MetricsEvent | undefined;
  /** The trainer's own lines on the data (samples per split, what was left out). */
  readonly dataNotes: readonly string[];
}

/**
 * Reads what the card needs from a run folder's events. A resumed attempt supersedes the
 * points an earlier one logged after the step it resumed from, as in the run panel.
 */
export async function readRunHistory(runDir: string): Promise<RunHistory> {
  const { events } = parseEventLines(await readFile(path.join(runDir, EVENTS_FILE)));
  let config: Record<string, unknown> = {};
  let trainerVersion: string | undefined;
  let metrics: MetricsEvent[] = [];
  let dataNotes: string[] = [];
  for (const event of events as TrainerEvent[]) {
    if (event.type === 'run_started') {
      config = event.config;
      trainerVersion = event.trainer_version;
      const keep = event.resume_step ?? null;
      metrics = (event.attempt ?? 1) > 1 && keep !== null ? metrics.filter((m) => m.step <= keep) : [];
      dataNotes = [];
    } else if (event.type === 'metrics') {
      metrics.push(event);
    } else if (event.type === 'log' && event.level === 'info' && /\bsamples?\b/.test(event.message)) {
      dataNotes.push(event.message);
    }
  }
  const loss = (split: 'train' | 'eval'): { points: LossPoint[]; events: MetricsEvent[] } => {
    const of = metrics.filter((m) => m.split === split);
    const points = of.flatMap((m) => (typeof m.values.loss === 'number' ? [{ step: m.step, loss: m.values.loss }] : []));
    return { points, events: of };
  };
  const train = loss('train');
  const evaluation = loss('eval');
  const best = evaluation.events
    .filter((m) => typeof m.values.loss === 'number')
    .reduce<MetricsEvent | undefined>((a, b) => (a === undefined || (b.values.loss as number) < (a.values.loss as number) ? b : a), undefined);
  return {
    runId: path.basename(runDir),
    config,
    trainerVersion,
    trainLoss: train.points,
    evalLoss: evaluation.points,
    finalEval: evaluation.events.at(-1),
    bestEval: best,
    finalTrain: train.events.at(-1),
    dataNotes,
  };
}

export interface ModelCardInput {
  readonly history: RunHistory;
  readonly kind: PushKind;
  /** Which folder is pushed, relative to the run folder (`checkpoints/final`, `merged`). */
  readonly source: string;
  /** The base model's Hub id, when it is one (a local folder is named, not linked). */
  readonly baseModelId: string | undefined;
  readonly baseModel: string;
  /** The run's config snapshot, as the trainer read it. */
  readonly configText: string;
}

export async function readConfigSnapshot(runDir: string): Promise<string> {
  return readFile(path.join(runDir, CONFIG_SNAPSHOT), 'utf8').catch(() => '');
}

export function modelCard(input: ModelCardInput): string {
  const { history, kind } = input;
  const meta: Record<string, unknown> = {
    ...(input.baseModelId !== undefined ? { base_model: input.baseModelId } : {}),
    library_name: kind === 'adapter' ? 'peft' : 'transformers',
    pipeline_tag: 'image-text-to-text',
    tags: ['medvlm-studio', 'medical-imaging', 'vision-language', kind === 'adapter' ? 'lora' : 'merged-lora'],
  };
  const lines: string[] = ['---', stringify(meta).trimEnd(), '---', ''];
  lines.push(`# ${history.runId}${kind === 'merged' ? ' (merged)' : ''}`, '');
  lines.push(
    kind === 'adapter'
      ? `A LoRA adapter for ${baseModelRef(input)}, fine-tuned with MedVLM Studio (supervised fine-tuning on medical images).`
      : `${capitalised(baseModelRef(input))} with a LoRA adapter merged into its weights, fine-tuned with MedVLM Studio (supervised fine-tuning on medical images).`,
    '',
  );
  lines.push(`Pushed from \`${input.source}\` of run \`${history.runId}\`${history.trainerVersion ? ` (trainer ${history.trainerVersion})` : ''}.`, '');
  lines.push('## Data', '', ...dataSection(history), '');
  lines.push('## Results', '', ...resultsSection(history), '');
  if (history.trainLoss.length > 0 || history.evalLoss.length > 0) {
    lines.push('## Loss', '', `![Training and evaluation loss by step](${LOSS_CURVE_FILE})`, '');
  }
  lines.push('## Training configuration', '', '```yaml', (input.configText.trim() || stringify(history.config).trim()).replace(/```/g, '` ` `'), '```', '');
  lines.push(
    '## Limits',
    '',
    'Trained for research on the data above; not validated for clinical use. Check the data sources\' licences and',
    'your institution\'s rules before sharing a model trained on patient data.',
    '',
  );
  return lines.join('\n');
}

function capitalised(text: string): string {
  return text.charAt(0).toUpperCase() + text.slice(1);
}

function baseModelRef(input: ModelCardInput): string {
  return input.baseModelId !== undefined ? `[${input.baseModelId}](https://huggingface.co/${input.baseModelId})` : `the local model \`${path.basename(input.baseModel)}\``;
}

function dataSection(history: RunHistory): string[] {
  const data = (history.config.data ?? {}) as Record<string, unknown>;
  const sources = Array.isArray(data.sources) ? (data.sources as Record<string, unknown>[]) : [];
  const limit = (value: unknown): string => (typeof value === 'number' && value >= 0 ? String(value) : 'all');
  const rows = sources.map(
    (s) => `| ${cell(s.name)} | ${cell(s.records)} | ${limit(s.train_limit)} | ${limit(s.val_limit)} |`,
  );
  const out = rows.length > 0 ? ['| Source | Records | Train limit | Validation limit |', '| --- | --- | --- | --- |', ...rows] : ['No data sources recorded.'];
  out.push('', `Overall limits: train ${limit(data.train_limit)}, validation ${limit(data.val_limit)}; split seed ${cell(data.seed)}.`);
  for (const note of history.dataNotes) out.push(`- ${note}`);
  return out;
}

function resultsSection(history: RunHistory): string[] {
  const out: string[] = [];
  const row = (label: string, m: MetricsEvent | undefined): void => {
    if (m === undefined) return;
    const values = Object.entries(m.values)
      .filter(([key, value]) => typeof value === 'number' && !/runtime|per_second|num_tokens|learning_rate|grad_norm/.test(key))
      .map(([key, value]) => `${key} ${formatNumber(value as number)}`);
    out.push(`| ${label} | ${m.step} | ${values.join(', ')} |`);
  };
  row('Final train', history.finalTrain);
  row('Final eval', history.finalEval);
  row('Best eval (lowest loss)', history.bestEval);
  return out.length > 0 ? ['| | Step | Metrics |', '| --- | --- | --- |', ...out] : ['No metrics were logged.'];
}

function cell(value: unknown): string {
  return String(value ?? '').replace(/\|/g, '\\|').replace(/\n/g, ' ');
}

function formatNumber(value: number): string {
  return Number.isInteger(value) ? String(value) : value.toPrecision(4);
}

/** Train and eval loss against step, as a self-contained SVG with its axes and legend. */
export function lossCurveSvg(train: readonly LossPoint[], evaluation: readonly LossPoint[]): string {
  const width = 720;
  const height = 360;
  const pad = { left: 64, right: 16, top: 28, bottom: 44 };
  const all = [...train, ...evaluation];
  const steps = all.map((p) => p.step);
  const losses = all.map((p) => p.loss);
  const [x0, x1] = range(steps);
  const [y0, y1] = range(losses);
  const x = (step: number): number => pad.left + ((step - x0) / (x1 - x0)) * (width - pad.left - pad.right);
  const y = (loss: number): number => height - pad.bottom - ((loss - y0) / (y1 - y0)) * (height - pad.top - pad.bottom);
  const fixed = (v: number): string => v.toFixed(1);
  const polyline = (points: readonly LossPoint[], colour: string): string =>
    points.length === 0 ? '' : `<polyline fill="none" stroke="${colour}" stroke-width="2" points="${points.map((p) => `${fixed(x(p.step))},${fixed(y(p.loss))}`).join(' ')}"/>`;
  const markers = (points: readonly LossPoint[], colour: string): string =>
    points.map((p) => `<circle cx="${fixed(x(p.step))}" cy="${fixed(y(p.loss))}" r="3" fill="${colour}"/>`).join('');
  const ticks = (lo: number, hi: number): number[] => [0, 0.25, 0.5, 0.75, 1].map((f) => lo + f * (hi - lo));
  const parts = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif" font-size="12">`,
    `<rect width="${width}" height="${height}" fill="#ffffff"/>`,
    `<line x1="${pad.left}" y1="${height - pad.bottom}" x2="${width - pad.right}" y2="${height - pad.bottom}" stroke="#888"/>`,
    `<line x1="${pad.left}" y1="${pad.top}" x2="${pad.left}" y2="${height - pad.bottom}" stroke="#888"/>`,
    ...ticks(y0, y1).map((v) => `<text x="${pad.left - 6}" y="${fixed(y(v) + 4)}" text-anchor="end">${formatNumber(v)}</text>`),
    ...ticks(x0, x1).map((v) => `<text x="${fixed(x(v))}" y="${height - pad.bottom + 16}" text-anchor="middle">${Math.round(v)}</text>`),
    `<text x="${(pad.left + width - pad.right) / 2}" y="${height - 8}" text-anchor="middle">step</text>`,
    `<text x="16" y="${(pad.top + height - pad.bottom) / 2}" text-anchor="middle" transform="rotate(-90 16 ${(pad.top + height - pad.bottom) / 2})">loss</text>`,
    polyline(train, TRAIN_COLOUR),
    polyline(evaluation, EVAL_COLOUR),
    markers(evaluation, EVAL_COLOUR),
    `<rect x="${width - 170}" y="6" width="12" height="12" fill="${TRAIN_COLOUR}"/><text x="${width - 152}" y="16">train loss</text>`,
    `<rect x="${width - 84}" y="6" width="12" height="12" fill="${EVAL_COLOUR}"/><text x="${width - 66}" y="16">eval loss</text>`,
    '</svg>',
  ];
  return parts.filter((p) => p.length > 0).join('\n') + '\n';
}

export const TRAIN_COLOUR = '#1f77b4';
export const EVAL_COLOUR = '#d62728';

/** [min, max] of `values`, widened when they are all equal so that the scale has a span. */
function range(values: readonly number[]): [number, number] {
  if (values.length === 0) return [0, 1];
  const lo = Math.min(...values);
  const hi = Math.max(...values);
  return lo === hi ? [lo - 0.5, hi + 0.5] : [lo, hi];
}

export interface RunPushPlan {
  readonly files: readonly PushFile[];
  /** README.md (the card) and the loss curve. */
  readonly extra: Readonly<Record<string, string>>;
  readonly commitTitle: string;
}

/**
 * What pushing `folder` (a checkpoint or merged model of the run in `runDir`) sends: the model
 * files and a card drawn from the run. `configDir` is the original config's folder, against
 * which the trainer resolved a local `model.base`.
 */
export async function runPushPlan(runDir: string, folder: string, kind: PushKind, configDir: string | undefined): Promise<RunPushPlan> {
  const [history, configText, files] = await Promise.all([readRunHistory(runDir), readConfigSnapshot(runDir), modelFiles(folder)]);
  const model = (history.config.model ?? {}) as { base?: unknown };
  const baseModel = typeof model.base === 'string' ? model.base : '';
  const local = configDir !== undefined && baseModel !== '' ? await localModelFolder(baseModel, configDir) : undefined;
  const source = path.relative(runDir, folder) || '.';
  const card = modelCard({ history, kind, source, baseModelId: hubModelId(baseModel, local !== undefined), baseModel, configText });
  const extra: Record<string, string> = { 'README.md': card };
  if (history.trainLoss.length > 0 || history.evalLoss.length > 0) extra[LOSS_CURVE_FILE] = lossCurveSvg(history.trainLoss, history.evalLoss);
  return { files, extra, commitTitle: `MedVLM Studio: ${kind === 'adapter' ? 'LoRA adapter' : 'merged model'} of run ${history.runId} (${source})` };
}
