// A stand-in for the Hugging Face Hub and W&B on 127.0.0.1, for tests: neither service can be
// reached from these machines. It speaks the endpoints the extension uses and checks their
// auth headers as the services do: the Hub's GET /api/whoami-v2 (Bearer token, 401 otherwise)
// and GET /api/models/{id}/auth-check, and W&B's POST /graphql `viewer` query (Basic api:KEY;
// an unknown key gets `viewer: null`); model repositories, pushes and downloads are in
// localHubRepos.ts.

import { createServer } from 'node:http';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { HubRepos, sendBytes } from './localHubRepos';

export interface LocalHubOptions {
  /** The one Hugging Face token the Hub accepts, and whose it is. */
  readonly hfToken: string;
  readonly wandbKey: string;
  readonly user: string;
  /** Models anyone may download, and gated ones only `hfToken`'s account may. */
  readonly openModels?: readonly string[];
  readonly gatedModels?: readonly string[];
  /** The model catalogue: search (GET /api/models) and model info; gated ones answer the auth check as `gatedModels`. */
  readonly models?: readonly CatalogueModel[];
  /** More accounts, token -> name: one to own a repository `user` may not write to. */
  readonly otherAccounts?: Readonly<Record<string, string>>;
  /** Uploads of at least this many bytes go in parts of `partSize` (see localHubRepos.ts). */
  readonly multipartSize?: number;
  readonly partSize?: number;
}

export interface CatalogueModel {
  readonly id: string;
  readonly gated?: 'auto' | 'manual';
  readonly parameters?: number;
  readonly downloads?: number;
  readonly task?: string;
  /** Files of the repository (config.json), served by resolve, gated like the model. */
  readonly files?: Readonly<Record<string, string>>;
}

export interface LocalHub {
  readonly url: string;
  /** Requests seen, as `METHOD path`. */
  readonly requests: string[];
  /** The repositories pushed to it, their files and the LFS objects (see localHubRepos.ts). */
  readonly repos: HubRepos;
  close(): Promise<void>;
}

export async function startLocalHub(options: LocalHubOptions): Promise<LocalHub> {
  const requests: string[] = [];
  const accounts = new Map<string, string>([[options.hfToken, options.user], ...Object.entries(options.otherAccounts ?? {})]);
  const repos = new HubRepos({ accounts, multipartSize: options.multipartSize, partSize: options.partSize });
  let url = '';
  const server: Server = createServer((req, res) => {
    requests.push(`${req.method ?? '?'} ${req.url ?? '?'}`);
    const resolve = /^\/([^/]+\/[^/]+)\/resolve\/[^/]+\/(.+)$/.exec(req.url ?? '');
    const catalogued = resolve !== null ? options.models?.find((m) => m.id === decodeURIComponent(resolve[1] ?? '')) : undefined;
    if (req.method === 'GET' && resolve !== null && catalogued !== undefined) {
      const auth = req.headers.authorization;
      if (catalogued.gated !== undefined && auth !== `Bearer ${options.hfToken}`) {
        res.writeHead(auth === undefined ? 401 : 403, { 'Content-Type': 'application/json' });
        return res.end(JSON.stringify({ error: `Access to model ${catalogued.id} is restricted.` }));
      }
      const text = catalogued.files?.[decodeURIComponent(resolve[2] ?? '')];
      if (text === undefined) {
        res.writeHead(404, { 'Content-Type': 'application/json', 'X-Error-Code': 'EntryNotFound' });
        return res.end(JSON.stringify({ error: 'Entry not found' }));
      }
      return sendBytes(req, res, Buffer.from(text));
    }
    if (repos.handle(req, res, url)) return;
    const reply = (status: number, body: unknown) => {
      res.writeHead(status, { 'Content-Type': 'application/json' });
      res.end(JSON.stringify(body));
    };
    if (req.method === 'GET' && req.url === '/api/whoami-v2') {
      if (req.headers.authorization !== `Bearer ${options.hfToken}`) return reply(401, { error: 'Invalid credentials in Authorization header' });
      return reply(200, {
        type: 'user',
        id: '1',
        name: options.user,
        fullname: 'A. Radiologist',
        orgs: [],
        auth: { type: 'access_token', accessToken: { displayName: 'medvlm', role: 'read', createdAt: '2026-11-01T00:00:00Z' } },
      });
    }
    if (req.method === 'POST' && req.url === '/graphql') {
      let text = '';
      req.on('data', (chunk: Buffer) => (text += chunk.toString('utf8')));
      req.on('end', () => {
        let query = '';
        try {
          query = String((JSON.parse(text) as { query?: unknown }).query ?? '');
        } catch {
          return reply(400, { errors: [{ message: 'not JSON' }] });
        }
        if (!/viewer\s*\{\s*username/.test(query)) return reply(400, { errors: [{ message: 'unexpected query' }] });
        const auth = req.headers.authorization ?? '';
        if (auth === `Basic ${Buffer.from(`api:${options.wandbKey}`).toString('base64')}`) return reply(200, { data: { viewer: { username: options.user, entity: 'lab' } } });
        return auth.startsWith('Basic ') ? reply(200, { data: { viewer: null } }) : reply(401, {});
      });
      return;
    }
    const route = new URL(req.url ?? '/', 'http://x');
    const listed = (m: CatalogueModel) => ({
      _id: `id-${m.id}`,
      id: m.id,
      private: false,
      pipeline_tag: m.task ?? 'image-text-to-text',
      downloads: m.downloads ?? 0,
      likes: 0,
      gated: m.gated ?? false,
      lastModified: '2026-11-01T00:00:00.000Z',
      ...(route.searchParams.getAll('expand').includes('safetensors') && m.parameters !== undefined ? { safetensors: { parameters: { BF16: m.parameters }, total: m.parameters } } : {}),
    });
    if (req.method === 'GET' && route.pathname === '/api/models') {
      const query = (route.searchParams.get('search') ?? '').toLowerCase();
      const task = route.searchParams.get('pipeline_tag');
      const found = (options.models ?? [])
        .filter((m) => m.id.toLowerCase().includes(query) && (task === null || (m.task ?? 'image-text-to-text') === task))
        .sort((a, b) => (b.downloads ?? 0) - (a.downloads ?? 0))
        .slice(0, Number(route.searchParams.get('limit') ?? '1000'));
      return reply(200, found.map(listed));
    }
    const info = /^\/api\/models\/(.+)\/revision\/([^/]+)$/.exec(route.pathname);
    if (req.method === 'GET' && info !== null) {
      const model = (options.models ?? []).find((m) => m.id === decodeURIComponent(info[1] ?? ''));
      return model === undefined ? reply(404, { error: 'Repository not found' }) : reply(200, listed(model));
    }
    // The auth check of model repos: open models for anyone; a gated one needs a token whose
    // account accepted its terms (401 without a token, 403 with another account's).
    const check = /^\/api\/models\/(.+)\/auth-check$/.exec(req.url ?? '');
    if (req.method === 'GET' && check !== null) {
      const model = decodeURIComponent(check[1] ?? '');
      const auth = req.headers.authorization;
      if (options.openModels?.includes(model) || options.models?.some((m) => m.id === model && m.gated === undefined)) return reply(200, {});
      if (options.gatedModels?.includes(model) || options.models?.some((m) => m.id === model && m.gated !== undefined)) {
        if (auth === undefined) return reply(401, { error: 'Access to model is restricted. You must have access to it and be authenticated to access it.' });
        return auth === `Bearer ${options.hfToken}` ? reply(200, {}) : reply(403, { error: 'Access to model is restricted and you are not in the authorized list.' });
      }
      return reply(404, { error: 'Repository not found' });
    }
    if (req.url === '/broken/api/whoami-v2') return reply(200, { hello: 'not the Hub' });
    reply(404, { error: 'not found' });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    url,
    requests,
    repos,
    close: async () => {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
