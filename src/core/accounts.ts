// Hugging Face and Weights & Biases accounts: checking a token before it is kept, and the
// environment that hands kept tokens to a run. No vscode: the tokens themselves live in the
// editor's SecretStorage (src/accounts/), and reach the trainer only through its environment,
// never on a command line or in a run file.

import { HubApiError, whoAmI } from '@huggingface/hub';

export const DEFAULT_HUB_URL = 'https://huggingface.co';
export const DEFAULT_WANDB_URL = 'https://api.wandb.ai';

/** A token that the service refused, or a service that could not be asked. */
export class AccountError extends Error {
  override readonly name = 'AccountError';
  constructor(
    message: string,
    /** The service answered, and said no (401, 403): saving the token would be pointless. */
    readonly rejected: boolean,
  ) {
    super(message);
  }
}

export interface HubAccount {
  /** The user (or organisation, or app) the token belongs to. */
  readonly name: string;
  readonly kind: 'user' | 'org' | 'app';
  readonly fullname?: string;
  /** The token's own name and role (read, write, fineGrained), where the Hub says. */
  readonly tokenName?: string;
  readonly role?: string;
}

export interface WandbAccount {
  readonly username: string;
  readonly entity?: string;
}

/** A URL without its trailing slashes (the clients append `/api/...`). */
export function baseUrl(url: string | undefined, fallback: string): string {
  const trimmed = (url ?? '').trim().replace(/\/+$/, '');
  return trimmed === '' ? fallback : trimmed;
}

function networkError(service: string, url: string, err: unknown): AccountError {
  const cause = (err as { cause?: { code?: string; message?: string } }).cause;
  const why = cause?.code ?? cause?.message ?? (err as Error).message;
  return new AccountError(`cannot reach ${service} at ${url} (${why}): check the network, or the endpoint setting`, false);
}

/** Asks the Hub whose token this is (`/api/whoami-v2`). */
export async function checkHubToken(token: string, hubUrl: string = DEFAULT_HUB_URL): Promise<HubAccount> {
  if (!/^hf_\S+$/.test(token)) {
    throw new AccountError(`that is not a Hugging Face access token (they start with "hf_"): copy one from ${hubUrl}/settings/tokens`, true);
  }
  let info: Awaited<ReturnType<typeof whoAmI>>;
  try {
    info = await whoAmI({ accessToken: token, hubUrl, fetch: (input, init) => fetch(input, { ...init, signal: AbortSignal.timeout(30_000) }) });
    if (typeof info?.name !== 'string' || typeof info.type !== 'string') throw new TypeError('no name or type');
  } catch (err) {
    if (err instanceof TypeError && !('cause' in err && err.cause !== undefined)) {
      throw new AccountError(`${hubUrl}/api/whoami-v2 did not answer as the Hub does (${err.message}): is the endpoint setting right?`, false);
    }
    if (err instanceof HubApiError) {
      if (err.statusCode === 401 || err.statusCode === 403) {
        throw new AccountError(`Hugging Face refused the token (${err.statusCode}): it is invalid, expired or revoked; make a new one at ${hubUrl}/settings/tokens`, true);
      }
      throw new AccountError(`Hugging Face answered ${err.statusCode}: ${err.message}`, false);
    }
    throw networkError('Hugging Face', hubUrl, err);
  }
  const token_ = info.auth?.accessToken;
  return {
    name: info.name,
    kind: info.type,
    ...('fullname' in info && typeof info.fullname === 'string' && info.fullname !== '' ? { fullname: info.fullname } : {}),
    ...(token_?.displayName !== undefined ? { tokenName: token_.displayName } : {}),
    ...(token_?.role !== undefined ? { role: String(token_.role) } : {}),
  };
}

/** Asks W&B whose API key this is (the GraphQL `viewer`, as `wandb login` does). */
export async function checkWandbKey(key: string, wandbUrl: string = DEFAULT_WANDB_URL, fetchImpl: typeof fetch = fetch): Promise<WandbAccount> {
  let response: Response;
  try {
    response = await fetchImpl(`${wandbUrl}/graphql`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', Authorization: `Basic ${Buffer.from(`api:${key}`).toString('base64')}` },
      body: JSON.stringify({ query: 'query Viewer { viewer { username entity } }' }),
      signal: AbortSignal.timeout(30_000),
    });
  } catch (err) {
    throw networkError('W&B', wandbUrl, err);
  }
  if (response.status === 401 || response.status === 403) {
    throw new AccountError(`W&B refused the API key (${response.status}): copy it again from https://wandb.ai/authorize`, true);
  }
  if (!response.ok) throw new AccountError(`W&B answered ${response.status} ${response.statusText}`, false);
  const body = (await response.json().catch(() => undefined)) as { data?: { viewer?: { username?: unknown; entity?: unknown } | null } } | undefined;
  const viewer = body?.data?.viewer;
  // W&B answers an unknown key with `viewer: null` rather than a 401.
  if (viewer === null || viewer === undefined || typeof viewer.username !== 'string') {
    throw new AccountError('W&B does not know this API key: copy it again from https://wandb.ai/authorize', true);
  }
  return { username: viewer.username, ...(typeof viewer.entity === 'string' ? { entity: viewer.entity } : {}) };
}

export interface RunSecrets {
  readonly hfToken?: string;
  readonly wandbKey?: string;
  /** Where the Hub and W&B are, when not the public services (a mirror, W&B Server). */
  readonly hubUrl?: string;
  readonly wandbUrl?: string;
}

/**
 * The environment a run gets: `base` with the kept tokens over it (a kept token wins over one
 * the editor inherited), and the endpoints when they are not the public ones. Only ever an
 * environment: the launcher never puts these in argv or files.
 */
export function runEnvironment(base: NodeJS.ProcessEnv, secrets: RunSecrets): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...base };
  if (secrets.hfToken !== undefined) {
    env.HF_TOKEN = secrets.hfToken;
    // The older name, which some libraries still read first.
    env.HUGGING_FACE_HUB_TOKEN = secrets.hfToken;
  }
  if (secrets.wandbKey !== undefined) env.WANDB_API_KEY = secrets.wandbKey;
  if (secrets.hubUrl !== undefined && secrets.hubUrl !== DEFAULT_HUB_URL) env.HF_ENDPOINT = secrets.hubUrl;
  if (secrets.wandbUrl !== undefined && secrets.wandbUrl !== DEFAULT_WANDB_URL) env.WANDB_BASE_URL = secrets.wandbUrl;
  return env;
}

/** Whether a run can download a Hub model, as far as the Hub says before the run starts. */
export type ModelAccess =
  | { readonly kind: 'ok' }
  /** Gated or private, and no token (or a token the Hub refuses) was given. */
  | { readonly kind: 'sign-in' }
  /** Gated, and the token's account has not been granted access (terms not accepted). */
  | { readonly kind: 'no-access' }
  /** No such model, or a private one the token cannot see. */
  | { readonly kind: 'not-found' }
  /** The Hub could not be asked; the run finds out itself. */
  | { readonly kind: 'unknown'; readonly why: string };

/**
 * Asks the Hub whether `token` (or no token) may download `modelId`: its auth check, which
 * answers 401 without a token and 403 for a gated model whose terms the account has not accepted.
 */
export async function checkModelAccess(modelId: string, token: string | undefined, hubUrl: string = DEFAULT_HUB_URL): Promise<ModelAccess> {
  let response: Response;
  try {
    response = await fetch(`${hubUrl}/api/models/${modelId.split('/').map(encodeURIComponent).join('/')}/auth-check`, {
      headers: token !== undefined ? { Authorization: `Bearer ${token}` } : {},
      signal: AbortSignal.timeout(15_000),
    });
  } catch (err) {
    return { kind: 'unknown', why: networkError('Hugging Face', hubUrl, err).message };
  }
  await response.body?.cancel().catch(() => undefined);
  if (response.ok) return { kind: 'ok' };
  // 401: no token, or one the Hub no longer accepts.
  if (response.status === 401) return { kind: 'sign-in' };
  if (response.status === 403) return { kind: 'no-access' };
  if (response.status === 404) return { kind: 'not-found' };
  return { kind: 'unknown', why: `the Hub answered ${response.status}` };
}

/**
 * The Hub id a run config's `model.base` names, as the trainer resolves it: undefined when it
 * is a local folder (relative to the config) or meant as one.
 */
export function hubModelId(base: string, isLocalFolder: boolean): string | undefined {
  if (isLocalFolder) return undefined;
  const id = base.trim();
  if (id === '' || /^[.~/\\]/.test(id) || id.includes('\\') || id.split('/').length > 2) return undefined;
  return /^[\w.-]+(\/[\w.-]+)?$/.test(id) ? id : undefined;
}
