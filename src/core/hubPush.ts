// Pushing a run's adapter (a checkpoint) or merged model to the Hugging Face Hub with
// @huggingface/hub: create the repository (private unless asked otherwise), then one commit of
// the folder's files plus a generated model card and loss-curve image. No `vscode`.
//
// Large files go by Git LFS "basic" uploads (useXet off: this is the path we test against a
// local Hub, and the Hub still takes it). Our own fetch sends those uploads with a
// Content-Length, as storage URLs require, and counts the bytes for the progress bar. A push
// that fails half way (a dropped network) is retried by pushing again: the Hub's LFS batch
// answer leaves out the objects it already has, so only what is missing is sent.

import { commitIter, createRepo, HubApiError } from '@huggingface/hub';
import type { CommitOperation } from '@huggingface/hub';
import { openAsBlob } from 'node:fs';
import { readdir, stat } from 'node:fs/promises';
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import path from 'node:path';
import { Readable } from 'node:stream';
import { formatBytes } from '../shared/format';
import { timedFetch } from './timedFetch';
import type { ReadableStream as WebReadableStream } from 'node:stream/web';

/** Mirror of TRAINING_STATE_FILES in python/src/medvlm_sft/train/finish.py: not part of a model. */
const TRAINING_STATE = [/^optimizer\.pt$/, /^scheduler\.pt$/, /^scaler\.pt$/, /^rng_state.*\.pth$/, /^trainer_state\.json$/, /^training_args\.bin$/];
/** An LFS upload that moves no byte for this long has lost its connection. */
const UPLOAD_IDLE_MS = 120_000;
/** The loss-curve image the model card shows (see modelCard.ts). */
export const LOSS_CURVE_FILE = 'loss_curve.svg';
/** The card we write replaces the README.md peft generates. */
const REPLACED = new Set(['README.md', LOSS_CURVE_FILE]);

export class PushError extends Error {
  constructor(
    message: string,
    /** `network`: nothing is wrong with the request; pushing again resumes where it stopped. */
    readonly kind: 'auth' | 'forbidden' | 'invalid' | 'network' | 'cancelled' | 'hub',
  ) {
    super(message);
    this.name = 'PushError';
  }
}

/** Why `repoId` cannot be a Hub model repository, or undefined when it can. */
export function repoIdProblem(repoId: string): string | undefined {
  const parts = repoId.split('/');
  if (parts.length !== 2 || parts.some((p) => p.length === 0)) return 'write it as owner/name, e.g. my-lab/medgemma-ct-lora';
  const name = parts[1] as string;
  if (name.length > 96) return 'the name is longer than 96 characters';
  if (!parts.every((p) => /^[A-Za-z0-9._-]+$/.test(p))) {
    return 'use letters, digits, "-", "_" and "." only';
  }
  if (/^[.-]|[.-]$/.test(name) || /--|\.\./.test(name)) return 'the name may not start or end with "-" or ".", nor contain "--" or ".."';
  return undefined;
}

export interface PushFile {
  /** Path in the repository. */
  readonly path: string;
  readonly file: string;
  readonly size: number;
}

/** The files of a checkpoint or merged model folder that make the model, without training state. */
export async function modelFiles(folder: string): Promise<PushFile[]> {
  const out: PushFile[] = [];
  const walk = async (dir: string, prefix: string): Promise<void> => {
    for (const entry of await readdir(dir, { withFileTypes: true })) {
      if (entry.name.startsWith('.')) continue;
      const full = path.join(dir, entry.name);
      const repoPath = prefix + entry.name;
      if (entry.isDirectory()) {
        await walk(full, `${repoPath}/`);
      } else if (entry.isFile() && !TRAINING_STATE.some((re) => re.test(entry.name)) && !(prefix === '' && REPLACED.has(entry.name))) {
        out.push({ path: repoPath, file: full, size: (await stat(full)).size });
      }
    }
  };
  await walk(folder, '');
  return out.sort((a, b) => a.path.localeCompare(b.path));
}

export interface PushProgress {
  readonly phase: 'creating' | 'hashing' | 'uploading' | 'committing';
  readonly sentBytes: number;
  readonly totalBytes: number;
}

export interface PushOptions {
  readonly hubUrl: string;
  readonly token: string;
  readonly repoId: string;
  readonly private: boolean;
  readonly files: readonly PushFile[];
  /** Generated files (the model card, the loss curve), by repository path. */
  readonly extra: Readonly<Record<string, string>>;
  readonly commitTitle: string;
  readonly signal?: AbortSignal;
  readonly onProgress?: (progress: PushProgress) => void;
  /** How long an LFS upload may move no byte before it counts as cut (default 2 minutes). */
  readonly uploadIdleMs?: number;
}

export interface PushResult {
  readonly repoUrl: string;
  readonly commitUrl: string;
  /** False when the repository was there already (a retry, or a second push). */
  readonly created: boolean;
}

export async function pushToHub(options: PushOptions): Promise<PushResult> {
  const { hubUrl, token, repoId, signal } = options;
  const problem = repoIdProblem(repoId);
  if (problem !== undefined) throw new PushError(`"${repoId}" is not a valid repository name: ${problem}.`, 'invalid');
  const extra = Object.entries(options.extra).map(([repoPath, text]) => ({ path: repoPath, blob: new Blob([text]) }));
  const totalBytes = options.files.reduce((sum, f) => sum + f.size, 0) + extra.reduce((sum, e) => sum + e.blob.size, 0);
  const sizes = new Map<string, number>([...options.files.map((f) => [f.path, f.size] as const), ...extra.map((e) => [e.path, e.blob.size] as const)]);
  const sent = new Map<string, number>();
  const report = (phase: PushProgress['phase']): void => {
    const sentBytes = [...sent.entries()].reduce((sum, [p, fraction]) => sum + fraction * (sizes.get(p) ?? 0), 0);
    options.onProgress?.({ phase, sentBytes: Math.round(sentBytes), totalBytes });
  };
  const what = `${hubUrl}/${repoId}`;
  report('creating');
  let created = true;
  try {
    await createRepo({ repo: { type: 'model', name: repoId }, accessToken: token, hubUrl, private: options.private, fetch: timedFetch(60_000, signal) });
  } catch (err) {
    if (err instanceof HubApiError && err.statusCode === 409) {
      created = false;
    } else {
      throw pushError(err, what, signal);
    }
  }
  const operations: CommitOperation[] = [
    ...(await Promise.all(options.files.map(async (f) => ({ operation: 'addOrUpdate' as const, path: f.path, content: await openAsBlob(f.file) })))),
    ...extra.map((e) => ({ operation: 'addOrUpdate' as const, path: e.path, content: e.blob })),
  ];
  try {
    const commits = commitIter({
      repo: { type: 'model', name: repoId },
      accessToken: token,
      hubUrl,
      title: options.commitTitle,
      operations,
      useXet: false,
      fetch: uploadingFetch(signal, options.uploadIdleMs ?? UPLOAD_IDLE_MS),
      ...(signal ? { abortSignal: signal } : {}),
    });
    let phase: PushProgress['phase'] = 'hashing';
    for (;;) {
      const step = await commits.next();
      if (step.done) {
        const url = step.value?.commit.url ?? what;
        return { repoUrl: what, commitUrl: url, created };
      }
      const event = step.value;
      if (event.event === 'phase') {
        phase = event.phase === 'committing' ? 'committing' : event.phase === 'uploadingLargeFiles' ? 'uploading' : 'hashing';
        if (phase === 'committing') {
          for (const p of sizes.keys()) sent.set(p, 1);
        }
      } else if (event.state === 'uploading') {
        sent.set(event.path, event.progress);
        phase = 'uploading';
      }
      report(phase);
    }
  } catch (err) {
    const sentBytes = [...sent.entries()].reduce((sum, [p, fraction]) => sum + (fraction >= 1 ? sizes.get(p) ?? 0 : 0), 0);
    throw pushError(err, what, signal, { sentBytes, totalBytes });
  }
}

function pushError(err: unknown, what: string, signal: AbortSignal | undefined, done?: { sentBytes: number; totalBytes: number }): PushError {
  if (signal?.aborted) return new PushError(`the push to ${what} was cancelled; pushing again sends only what is not there yet.`, 'cancelled');
  if (err instanceof HubApiError) {
    const said = err.message.replace(/\s+/g, ' ').trim();
    if (err.statusCode === 401) {
      return new PushError(`the Hub refused the token (401): it is invalid, expired or revoked. Sign in to Hugging Face again with a token that has write access.`, 'auth');
    }
    if (err.statusCode === 403) {
      return new PushError(`the signed-in account may not write to ${what} (403: ${said}). Push to your own namespace, or use a token with write access to that organisation.`, 'forbidden');
    }
    if (err.statusCode === 400 || err.statusCode === 422) return new PushError(`the Hub turned the push down (${err.statusCode}: ${said}).`, 'invalid');
    if (err.statusCode === 404) return new PushError(`${what} is not there, or is another account's private repository (404).`, 'forbidden');
    return new PushError(`the Hub answered ${err.statusCode}: ${said}. Pushing again resumes where this one stopped.`, 'hub');
  }
  const cause = err instanceof Error ? ((err.cause as Error | undefined)?.message ?? err.message) : String(err);
  const progress = done !== undefined && done.sentBytes > 0 ? ` after ${formatBytes(done.sentBytes)} of ${formatBytes(done.totalBytes)}` : '';
  return new PushError(`the connection to ${what} failed${progress} (${cause}). Pushing again sends only the files that are not on the Hub yet.`, 'network');
}


interface ProgressHint {
  readonly progressCallback: (progress: number) => void;
  readonly part?: number;
  readonly numParts?: number;
}

/**
 * The fetch @huggingface/hub's commit uses. An LFS upload (a PUT of a Blob) goes through
 * node:http(s) with its Content-Length, streamed from the file and counted for `progressHint`;
 * everything else is the global fetch.
 */
function uploadingFetch(signal: AbortSignal | undefined, idleMs: number): typeof fetch {
  const partsProgress = new Map<(progress: number) => void, number[]>();
  const api = timedFetch(60_000, signal);
  return (async (input: string | URL | Request, init?: RequestInit & { progressHint?: ProgressHint }) => {
    if (init?.method !== 'PUT' || !(init.body instanceof Blob) || (typeof input !== 'string' && !(input instanceof URL))) return api(input, init);
    const hint = init.progressHint;
    const onProgress = (fraction: number): void => {
      if (hint === undefined) return;
      if (hint.part === undefined || hint.numParts === undefined) {
        hint.progressCallback(Math.min(fraction, 0.9999999999));
        return;
      }
      const parts = partsProgress.get(hint.progressCallback) ?? new Array<number>(hint.numParts).fill(0);
      parts[hint.part] = fraction;
      partsProgress.set(hint.progressCallback, parts);
      hint.progressCallback(Math.min(parts.reduce((a, b) => a + b, 0) / hint.numParts, 0.9999999999));
    };
    return putBlob(new URL(input), init.body, new Headers(init.headers), init.signal ?? signal, idleMs, onProgress);
  }) as typeof fetch;
}

function putBlob(url: URL, body: Blob, headers: Headers, signal: AbortSignal | null | undefined, idleMs: number, onProgress: (fraction: number) => void): Promise<Response> {
  return new Promise<Response>((resolve, reject) => {
    const outgoing: Record<string, string> = Object.fromEntries(headers.entries());
    outgoing['content-length'] = String(body.size);
    const send = url.protocol === 'https:' ? httpsRequest : httpRequest;
    const req = send(url, { method: 'PUT', headers: outgoing, ...(signal ? { signal } : {}) }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('error', reject);
      res.on('end', () => {
        const responseHeaders = new Headers();
        for (const [key, value] of Object.entries(res.headers)) {
          if (value !== undefined) responseHeaders.set(key, Array.isArray(value) ? value.join(', ') : value);
        }
        const status = res.statusCode ?? 500;
        // A Response of these statuses may not have a body.
        const body = chunks.length > 0 && ![204, 205, 304].includes(status) ? Buffer.concat(chunks) : null;
        resolve(new Response(body, { status, statusText: res.statusMessage ?? '', headers: responseHeaders }));
      });
    });
    req.on('error', reject);
    // A connection that stalls (a network gone without a reset) fails the push instead of
    // holding it forever; pushing again resumes.
    req.setTimeout(idleMs, () => req.destroy(new Error(`no progress for ${idleMs / 1000} s`)));
    let sentBytes = 0;
    const source = Readable.fromWeb(body.stream() as WebReadableStream<Uint8Array>);
    source.on('data', (chunk: Buffer) => {
      sentBytes += chunk.length;
      onProgress(body.size === 0 ? 1 : sentBytes / body.size);
    });
    source.on('error', (err) => req.destroy(err));
    source.pipe(req);
  });
}
