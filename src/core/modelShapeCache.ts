// The memory estimate's shapes for models outside KNOWN_MODELS, read once from their
// config.json: a local model folder's own file (with its processor's resize limits), or a Hub
// model's through @huggingface/hub's downloadFile with the kept token. Lookups are synchronous
// (the estimate is computed on every edit): a miss starts the read, answers "reading…", and
// `onLoaded` asks for a new estimate when it is done. Failures are kept for a minute, so a
// sign-in or a network that comes back is picked up. No `vscode`.

import { downloadFile, HubApiError } from '@huggingface/hub';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { hubModelId } from './accounts';
import type { KnownModel, ModelLookup } from './config/memoryEstimate';
import { ModelShapeError, modelFromConfigJson } from './config/modelShapes';
import { localModelFolder } from './modelBase';
import { timedFetch } from './timedFetch';
import { resizeRuleOf } from './preview/sampleSettings';

const RETRY_FAILED_MS = 60_000;
const READ_DELAY_MS = 600;

interface Entry {
  readonly result: KnownModel | { readonly why: string };
  readonly at: number;
  readonly failed: boolean;
}

export interface ModelShapeCacheOptions {
  readonly hubUrl: () => string;
  readonly token: () => Promise<string | undefined>;
  /** A read finished: estimates that said "reading…" can be computed again. */
  readonly onLoaded: () => void;
  readonly now?: () => number;
  /** How long a `model.base` must stay the same before it is read. */
  readonly readDelayMs?: number;
}

export class ModelShapeCache {
  private readonly entries = new Map<string, Entry>();
  private readonly reading = new Set<string>();
  private readonly waiting = new Map<string, { readonly key: string; readonly timer: NodeJS.Timeout }>();

  constructor(private readonly options: ModelShapeCacheOptions) {}

  /** A lookup for configs in `configDir` (against which a local `model.base` resolves). */
  lookup(configDir: string): ModelLookup {
    return (base) => {
      const key = `${configDir}\0${base}`;
      const entry = this.entries.get(key);
      const now = (this.options.now ?? Date.now)();
      if (entry !== undefined && !(entry.failed && now - entry.at > RETRY_FAILED_MS)) return entry.result;
      if (!this.reading.has(key)) {
        // While `model.base` is being typed, each keystroke names another model: only the one
        // that stays for READ_DELAY_MS is read.
        const waiting = this.waiting.get(configDir);
        if (waiting?.key !== key) {
          if (waiting !== undefined) clearTimeout(waiting.timer);
          const timer = setTimeout(() => {
            this.waiting.delete(configDir);
            this.start(key, base, configDir);
          }, this.options.readDelayMs ?? READ_DELAY_MS);
          this.waiting.set(configDir, { key, timer });
        }
      }
      return entry?.result ?? { why: `reading the config.json of ${base}…` };
    };
  }

  /** Waits for the reads waiting or in flight (tests). */
  async settled(): Promise<void> {
    while (this.reading.size > 0 || this.waiting.size > 0) await new Promise((resolve) => setTimeout(resolve, 10));
  }

  dispose(): void {
    for (const { timer } of this.waiting.values()) clearTimeout(timer);
    this.waiting.clear();
  }

  private start(key: string, base: string, configDir: string): void {
    this.reading.add(key);
    void this.read(base, configDir).then((result) => {
      this.reading.delete(key);
      this.entries.set(key, { result: result.model, at: (this.options.now ?? Date.now)(), failed: result.failed });
      this.options.onLoaded();
    });
  }

  private async read(base: string, configDir: string): Promise<{ model: Entry['result']; failed: boolean }> {
    const folder = await localModelFolder(base, configDir);
    try {
      if (folder !== undefined) {
        const text = await readFile(path.join(folder, 'config.json'), 'utf8').catch(() => {
          throw new ModelShapeError(`${folder} has no readable config.json`);
        });
        const rule = await resizeRuleOf('qwen2_5_vl', folder);
        return { model: modelFromConfigJson(path.basename(folder), parse(text), { ...(rule.minPixels ? { minPixels: rule.minPixels } : {}), ...(rule.maxPixels ? { maxPixels: rule.maxPixels } : {}) }), failed: false };
      }
      const id = hubModelId(base, false);
      if (id === undefined) return { model: { why: `${base} is neither a model folder nor a Hub model id` }, failed: false };
      const token = await this.options.token();
      const blob = await downloadFile({
        repo: { type: 'model', name: id },
        path: 'config.json',
        hubUrl: this.options.hubUrl(),
        ...(token !== undefined ? { accessToken: token } : {}),
        fetch: timedFetch(20_000),
      });
      if (blob === null) return { model: { why: `${id} is not on the Hub (or it has no config.json)` }, failed: true };
      return { model: modelFromConfigJson(id, parse(await blob.text())), failed: false };
    } catch (err) {
      if (err instanceof ModelShapeError) return { model: { why: `${base}: ${err.message}` }, failed: false };
      if (err instanceof HubApiError && (err.statusCode === 401 || err.statusCode === 403)) {
        return { model: { why: `${base} is gated: sign in to Hugging Face with an account that has access, so its config.json can be read` }, failed: true };
      }
      if (err instanceof HubApiError && err.statusCode === 404) return { model: { why: `${base} is not on the Hub` }, failed: true };
      const message = err instanceof Error ? ((err.cause as Error | undefined)?.message ?? err.message) : String(err);
      return { model: { why: `could not read the config.json of ${base} (${message})` }, failed: true };
    }
  }
}

function parse(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    throw new ModelShapeError('its config.json is not valid JSON');
  }
}
