// Base models on the Hugging Face Hub for the base-model picker: search, one model's summary
// (gated or not, its parameter count from the safetensors metadata), and words for both.
// Through @huggingface/hub's listModels / modelInfo with the hubUrl setting. No `vscode`.

import { listModels, modelInfo } from '@huggingface/hub';
import type { ModelAccess } from './accounts';
import { timedFetch } from './timedFetch';

export interface HubModelSummary {
  readonly id: string;
  /** false, or how access is granted: 'auto' (accept the terms) or 'manual' (the authors approve). */
  readonly gated: false | 'auto' | 'manual';
  readonly private: boolean;
  /** Parameters, from the safetensors metadata; undefined when the Hub has none. */
  readonly parameters: number | undefined;
  readonly downloads: number;
  readonly task: string | undefined;
}

export interface HubQuery {
  readonly hubUrl: string;
  readonly token?: string | undefined;
  readonly signal?: AbortSignal;
}

interface WithSafetensors {
  readonly safetensors?: { readonly total?: unknown } | undefined;
}

function summary(entry: { name: string; gated: false | 'auto' | 'manual'; private: boolean; downloads: number; task?: string } & WithSafetensors): HubModelSummary {
  const total = entry.safetensors?.total;
  return {
    id: entry.name,
    gated: entry.gated,
    private: entry.private,
    parameters: typeof total === 'number' && total > 0 ? total : undefined,
    downloads: entry.downloads,
    task: entry.task,
  };
}

/** Image-text-to-text models matching `query`, most downloaded first. */
export async function searchHubModels(query: string, options: HubQuery & { readonly limit?: number }): Promise<HubModelSummary[]> {
  const out: HubModelSummary[] = [];
  for await (const entry of listModels({
    search: { query, task: 'image-text-to-text' },
    sort: 'downloads',
    limit: options.limit ?? 20,
    additionalFields: ['safetensors'],
    hubUrl: options.hubUrl,
    ...(options.token !== undefined ? { accessToken: options.token } : {}),
    fetch: timedFetch(20_000, options.signal),
  })) {
    out.push(summary(entry as typeof entry & WithSafetensors));
  }
  return out;
}

export async function hubModelSummary(id: string, options: HubQuery): Promise<HubModelSummary> {
  const info = await modelInfo({
    name: id,
    additionalFields: ['safetensors'],
    hubUrl: options.hubUrl,
    ...(options.token !== undefined ? { accessToken: options.token } : {}),
    fetch: timedFetch(20_000, options.signal),
  });
  return summary(info as typeof info & WithSafetensors);
}

/** "4.30B parameters, 8.6 GB of bf16 weights", or nothing known. */
export function sizeWords(parameters: number | undefined): string {
  if (parameters === undefined) return 'size unknown';
  const count = parameters >= 1e9 ? `${(parameters / 1e9).toFixed(2)}B` : parameters >= 1e6 ? `${(parameters / 1e6).toFixed(1)}M` : String(parameters);
  return `${count} parameters, ${((parameters * 2) / 1e9).toFixed(1)} GB of bf16 weights`;
}

/** Whether the model can be downloaded with the kept token, in words. */
export function accessWords(model: HubModelSummary, access: ModelAccess | undefined): string {
  if (model.gated === false) return model.private ? 'private, yours' : 'open';
  const how = model.gated === 'manual' ? 'gated, the authors approve requests' : 'gated, accept its terms on the Hub';
  if (access === undefined) return `${how}; checking your access…`;
  switch (access.kind) {
    case 'ok':
      return `${how}; you have access`;
    case 'sign-in':
      return `${how}; sign in to Hugging Face to use it`;
    case 'no-access':
      return `${how}; your account has no access yet: request it on the model page`;
    case 'not-found':
      return 'not found';
    case 'unknown':
      return `${how}; access not checked (${access.why})`;
  }
}
