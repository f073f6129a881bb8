// Model repositories of the local stand-in Hub (see localHub.ts): what the Hub does for
// @huggingface/hub's createRepo and commit, and for huggingface_hub's create_repo and
// upload_folder (the trainer's own pushes), read from both libraries' sources:
//   POST /api/repos/create                      name rules, namespace rights, 409 when it exists
//   POST /api/validate-yaml                     (huggingface_hub, for a README.md)
//   POST /api/models/{repo}/preupload/{rev}     "lfs" for weights and images and big files
//   POST /{repo}.git/info/lfs/objects/batch     basic uploads, multipart above a size; objects
//                                               it already has get no upload action (that is
//                                               what makes a retried push resume)
//   PUT  /lfs-objects/{oid}[/{part}]            like a presigned storage URL: no auth, needs
//                                               Content-Length, checks the sha256 of the bytes
//   POST /lfs-objects/{oid}/complete            multipart completion: part ETags, then sha256
//   POST /api/models/{repo}/commit/{rev}        ndjson: header, file (base64), lfsFile (must
//                                               have been uploaded, same size)
//   GET  /{repo}/resolve/{rev}/{path}           the files again, to compare with what was sent
// Every API call checks the Bearer token and that its account owns the namespace. A fault can
// be planted: the connection of the nth upload of an object is cut after some bytes, as a
// dropped network would.

import { createHash } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';

/** Mirror of the Hub's default .gitattributes, as far as model folders go, plus its 10 MB rule. */
const LFS_PATTERN = /\.(safetensors|bin|pt|pth|ckpt|h5|onnx|msgpack|model|npy|npz|pkl|gz|zip|png|jpg|jpeg)$/i;
const LFS_SIZE = 10 * 1024 * 1024;
/** The Hub's rule for repository names. */
const REPO_NAME = /^(?![.-])(?!.*(--|\.\.))[A-Za-z0-9._-]{1,96}(?<![.-])$/;

export interface StoredFile {
  readonly content: Buffer;
  /** The sha256 of an LFS file; undefined for a file committed inline. */
  readonly lfsOid: string | undefined;
}

export interface StoredRepo {
  readonly owner: string;
  readonly private: boolean;
  readonly files: Map<string, StoredFile>;
  readonly commits: { readonly title: string; readonly paths: string[] }[];
}

export interface UploadFault {
  /** Which object's upload to cut (any when omitted). */
  readonly oid?: string;
  /** Cut after this many bytes of the request body have arrived. */
  readonly afterBytes: number;
  /** Instead of cutting, stop reading and never answer (a network gone without a reset). */
  readonly stall?: boolean;
}

export interface HubReposOptions {
  /** Token -> account name. */
  readonly accounts: ReadonlyMap<string, string>;
  /** Files at least this big go up in parts (the real Hub's threshold is in the gigabytes). */
  readonly multipartSize?: number;
  readonly partSize?: number;
}

export class HubRepos {
  readonly repos = new Map<string, StoredRepo>();
  /** LFS objects by sha256. */
  readonly objects = new Map<string, Buffer>();
  /** Every upload request of an object's bytes that arrived whole, by oid (parts count one each). */
  readonly uploads: string[] = [];
  /** Uploads cut short on purpose. */
  readonly cut: string[] = [];
  private readonly faults: UploadFault[] = [];
  private readonly parts = new Map<string, Map<number, Buffer>>();

  constructor(private readonly options: HubReposOptions) {}

  /** The next upload matching `fault` loses its connection part way. */
  plantUploadFault(fault: UploadFault): void {
    this.faults.push(fault);
  }

  /** Handles the request when it is one of the repository endpoints; false otherwise. */
  handle(req: IncomingMessage, res: ServerResponse, base: string): boolean {
    const url = new URL(req.url ?? '/', base);
    const route = url.pathname;
    let m: RegExpExecArray | null;
    if (req.method === 'POST' && route === '/api/repos/create') return this.withJson(req, res, (body) => this.create(req, res, body, base));
    if (req.method === 'POST' && route === '/api/validate-yaml') return this.withJson(req, res, () => reply(res, 200, { errors: [], warnings: [] }));
    if (req.method === 'POST' && (m = /^\/api\/models\/([^/]+\/[^/]+)\/preupload\/([^/]+)$/.exec(route))) {
      const repoId = decodeURIComponent(m[1] ?? '');
      return this.withJson(req, res, (body) => this.preupload(req, res, repoId, body));
    }
    if (req.method === 'POST' && (m = /^\/([^/]+\/[^/]+)\.git\/info\/lfs\/objects\/batch$/.exec(route))) {
      const repoId = decodeURIComponent(m[1] ?? '');
      return this.withJson(req, res, (body) => this.batch(req, res, repoId, body, base));
    }
    if (req.method === 'PUT' && (m = /^\/lfs-objects\/([0-9a-f]{64})(?:\/(\d+))?$/.exec(route))) {
      this.receiveObject(req, res, m[1] ?? '', m[2] === undefined ? undefined : Number(m[2]));
      return true;
    }
    if (req.method === 'POST' && (m = /^\/lfs-objects\/([0-9a-f]{64})\/complete$/.exec(route))) {
      const oid = m[1] ?? '';
      return this.withJson(req, res, (body) => this.complete(res, oid, body));
    }
    if (req.method === 'POST' && (m = /^\/api\/models\/([^/]+\/[^/]+)\/commit\/([^/]+)$/.exec(route))) {
      const repoId = decodeURIComponent(m[1] ?? '');
      readBody(req, (body) => this.commit(req, res, repoId, body.toString('utf8'), base));
      return true;
    }
    if (req.method === 'GET' && (m = /^\/([^/]+\/[^/]+)\/resolve\/([^/]+)\/(.+)$/.exec(route))) {
      const repo = this.repos.get(decodeURIComponent(m[1] ?? ''));
      const file = repo?.files.get(decodeURIComponent(m[3] ?? ''));
      if (repo === undefined || (repo.private && this.account(req) !== repo.owner)) {
        reply(res, 404, { error: 'Repository not found' });
      } else if (file === undefined) {
        res.writeHead(404, { 'Content-Type': 'application/json', 'X-Error-Code': 'EntryNotFound' });
        res.end(JSON.stringify({ error: 'Entry not found' }));
      } else {
        sendBytes(req, res, file.content);
      }
      return true;
    }
    return false;
  }

  private account(req: IncomingMessage): string | undefined {
    const auth = req.headers.authorization ?? '';
    return auth.startsWith('Bearer ') ? this.options.accounts.get(auth.slice('Bearer '.length)) : undefined;
  }

  /** The repository when the request's token may write to it; otherwise answered as the Hub does. */
  private writable(req: IncomingMessage, res: ServerResponse, repoId: string): StoredRepo | undefined {
    const user = this.account(req);
    if (user === undefined) {
      reply(res, 401, { error: 'Invalid credentials in Authorization header' });
      return undefined;
    }
    const repo = this.repos.get(repoId);
    if (repo === undefined || (repo.private && repo.owner !== user)) {
      reply(res, 404, { error: 'Repository not found' });
      return undefined;
    }
    if (repo.owner !== user) {
      reply(res, 403, { error: `You don't have the rights to write to ${repoId}` });
      return undefined;
    }
    return repo;
  }

  private withJson(req: IncomingMessage, res: ServerResponse, then: (body: Record<string, unknown>) => void): true {
    readBody(req, (raw) => {
      let body: unknown;
      try {
        body = JSON.parse(raw.toString('utf8'));
      } catch {
        return reply(res, 400, { error: 'the body is not JSON' });
      }
      if (typeof body !== 'object' || body === null) return reply(res, 400, { error: 'the body is not an object' });
      then(body as Record<string, unknown>);
    });
    return true;
  }

  private create(req: IncomingMessage, res: ServerResponse, body: Record<string, unknown>, base: string): void {
    const user = this.account(req);
    if (user === undefined) return reply(res, 401, { error: 'Invalid credentials in Authorization header' });
    const { name, organization } = body;
    if (typeof name !== 'string' || !REPO_NAME.test(name)) {
      return reply(res, 400, { error: `Invalid repo name: ${String(name)}` });
    }
    const namespace = typeof organization === 'string' ? organization : user;
    if (body.type !== undefined && body.type !== 'model') return reply(res, 400, { error: 'only model repos here' });
    const repoId = `${namespace}/${name}`;
    const url = `${base}/${repoId}`;
    if (namespace !== user) return reply(res, 403, { error: `You don't have the rights to create a model under the namespace "${namespace}"` });
    if (this.repos.has(repoId)) return reply(res, 409, { error: 'You already created this model repo', url });
    const isPrivate = body.visibility === 'private' || body.private === true;
    this.repos.set(repoId, { owner: user, private: isPrivate, files: new Map(), commits: [] });
    reply(res, 200, { url, name: repoId, id: `id-${this.repos.size}` });
  }

  private preupload(req: IncomingMessage, res: ServerResponse, repoId: string, body: Record<string, unknown>): void {
    if (this.writable(req, res, repoId) === undefined) return;
    if (!Array.isArray(body.files)) return reply(res, 400, { error: 'files must be an array' });
    const files: { path: string; uploadMode: string; shouldIgnore: boolean }[] = [];
    for (const file of body.files as { path?: unknown; size?: unknown; sample?: unknown }[]) {
      if (typeof file.path !== 'string' || typeof file.size !== 'number' || typeof file.sample !== 'string') {
        return reply(res, 400, { error: 'each file needs a path, a size and a sample' });
      }
      files.push({ path: file.path, uploadMode: LFS_PATTERN.test(file.path) || file.size >= LFS_SIZE ? 'lfs' : 'regular', shouldIgnore: false });
    }
    reply(res, 200, { files, commitOid: 'a'.repeat(40) });
  }

  private batch(req: IncomingMessage, res: ServerResponse, repoId: string, body: Record<string, unknown>, base: string): void {
    if (this.writable(req, res, repoId) === undefined) return;
    const transfers = Array.isArray(body.transfers) ? body.transfers : [];
    if (body.operation !== 'upload' || !transfers.includes('basic') || !Array.isArray(body.objects)) {
      return reply(res, 422, { message: 'expected an upload batch offering the basic transfer' });
    }
    const multipartSize = this.options.multipartSize ?? Number.POSITIVE_INFINITY;
    const partSize = this.options.partSize ?? 5 * 1024 * 1024;
    const objects = (body.objects as { oid?: unknown; size?: unknown }[]).map(({ oid, size }) => {
      if (typeof oid !== 'string' || !/^[0-9a-f]{64}$/.test(oid) || typeof size !== 'number') {
        return { oid, size, error: { code: 422, message: 'bad object' } };
      }
      if (this.objects.get(oid)?.length === size) return { oid, size, authenticated: true };
      const href = `${base}/lfs-objects/${oid}`;
      if (size >= multipartSize && transfers.includes('multipart')) {
        const header: Record<string, string> = { chunk_size: String(partSize) };
        for (let part = 1; part <= Math.ceil(size / partSize); part += 1) header[String(part)] = `${href}/${part}`;
        return { oid, size, authenticated: true, actions: { upload: { href: `${href}/complete`, header } } };
      }
      return { oid, size, authenticated: true, actions: { upload: { href } } };
    });
    res.writeHead(200, { 'Content-Type': 'application/vnd.git-lfs+json' });
    res.end(JSON.stringify({ transfer: 'basic', objects }));
  }

  private receiveObject(req: IncomingMessage, res: ServerResponse, oid: string, part: number | undefined): void {
    if (req.headers['content-length'] === undefined) {
      // As storage behind a presigned URL answers a chunked upload.
      reply(res, 411, { error: 'MissingContentLength' });
      req.resume();
      return;
    }
    const index = this.faults.findIndex((f) => f.oid === undefined || f.oid === oid);
    const fault = index >= 0 ? this.faults.splice(index, 1)[0] : undefined;
    const cutAfter = fault?.afterBytes;
    const chunks: Buffer[] = [];
    let received = 0;
    req.on('data', (chunk: Buffer) => {
      chunks.push(chunk);
      received += chunk.length;
      if (cutAfter !== undefined && received >= cutAfter && !req.destroyed && !req.isPaused()) {
        this.cut.push(oid);
        if (fault?.stall === true) req.pause();
        else req.socket.destroy();
      }
    });
    req.on('end', () => {
      if (req.socket.destroyed) return;
      const bytes = Buffer.concat(chunks);
      this.uploads.push(oid);
      if (part !== undefined) {
        const parts = this.parts.get(oid) ?? new Map<number, Buffer>();
        parts.set(part, bytes);
        this.parts.set(oid, parts);
        res.writeHead(200, { ETag: `"${createHash('md5').update(bytes).digest('hex')}"` });
        res.end();
        return;
      }
      if (createHash('sha256').update(bytes).digest('hex') !== oid) return reply(res, 400, { error: 'the bytes do not hash to the object id' });
      this.objects.set(oid, bytes);
      res.writeHead(200, { ETag: `"${createHash('md5').update(bytes).digest('hex')}"` });
      res.end();
    });
  }

  private complete(res: ServerResponse, oid: string, body: Record<string, unknown>): void {
    const stored = this.parts.get(oid);
    const parts = Array.isArray(body.parts) ? (body.parts as { partNumber?: unknown; etag?: unknown }[]) : [];
    if (body.oid !== oid || stored === undefined || parts.length !== stored.size) return reply(res, 400, { error: 'parts missing' });
    const ordered: Buffer[] = [];
    for (const { partNumber, etag } of parts) {
      const bytes = typeof partNumber === 'number' ? stored.get(partNumber) : undefined;
      if (bytes === undefined || etag !== `"${createHash('md5').update(bytes).digest('hex')}"`) return reply(res, 400, { error: `part ${String(partNumber)}: wrong ETag` });
      ordered[partNumber as number] = bytes;
    }
    const whole = Buffer.concat(ordered.filter((b) => b !== undefined));
    if (createHash('sha256').update(whole).digest('hex') !== oid) return reply(res, 400, { error: 'the parts do not hash to the object id' });
    this.parts.delete(oid);
    this.objects.set(oid, whole);
    reply(res, 200, {});
  }

  private commit(req: IncomingMessage, res: ServerResponse, repoId: string, ndjson: string, base: string): void {
    const repo = this.writable(req, res, repoId);
    if (repo === undefined) return;
    const lines = ndjson.split('\n').filter((l) => l.trim().length > 0).map((l) => JSON.parse(l) as { key: string; value: Record<string, unknown> });
    const header = lines[0];
    if (header?.key !== 'header' || typeof header.value.summary !== 'string') return reply(res, 400, { error: 'the commit has no header with a summary' });
    const staged = new Map<string, StoredFile>();
    for (const { key, value } of lines.slice(1)) {
      const filePath = value.path;
      if (typeof filePath !== 'string') return reply(res, 400, { error: `${key} without a path` });
      if (key === 'file') {
        if (value.encoding !== 'base64' || typeof value.content !== 'string') return reply(res, 400, { error: `${filePath}: expected base64 content` });
        staged.set(filePath, { content: Buffer.from(value.content, 'base64'), lfsOid: undefined });
      } else if (key === 'lfsFile') {
        const object = typeof value.oid === 'string' ? this.objects.get(value.oid) : undefined;
        if (value.algo !== 'sha256' || object === undefined || object.length !== value.size) {
          return reply(res, 422, { error: `${filePath}: LFS object ${String(value.oid)} was not uploaded` });
        }
        staged.set(filePath, { content: object, lfsOid: value.oid as string });
      } else {
        return reply(res, 400, { error: `unexpected commit line ${key}` });
      }
    }
    for (const [filePath, file] of staged) repo.files.set(filePath, file);
    repo.commits.push({ title: header.value.summary, paths: [...staged.keys()] });
    const oid = createHash('sha1').update(`${repoId}:${repo.commits.length}`).digest('hex');
    reply(res, 200, { success: true, commitOid: oid, commitUrl: `${base}/${repoId}/commit/${oid}`, commitMessage: header.value.summary });
  }
}

/** A file's bytes, or the range of them a `Range: bytes=a-b` header asks for (as the Hub's resolve does). */
export function sendBytes(req: IncomingMessage, res: ServerResponse, bytes: Buffer): void {
  const etag = `"${createHash('sha1').update(bytes).digest('hex')}"`;
  const range = /^bytes=(\d+)-(\d*)$/.exec(req.headers.range ?? '');
  if (range === null) {
    res.writeHead(200, { 'Content-Type': 'application/octet-stream', 'Content-Length': bytes.length, 'Accept-Ranges': 'bytes', ETag: etag });
    res.end(bytes);
    return;
  }
  const start = Number(range[1]);
  const end = Math.min(range[2] ? Number(range[2]) : bytes.length - 1, bytes.length - 1);
  const part = bytes.subarray(start, end + 1);
  res.writeHead(206, { 'Content-Type': 'application/octet-stream', 'Content-Length': part.length, 'Content-Range': `bytes ${start}-${end}/${bytes.length}`, ETag: etag });
  res.end(part);
}

function readBody(req: IncomingMessage, then: (body: Buffer) => void): void {
  const chunks: Buffer[] = [];
  req.on('data', (chunk: Buffer) => chunks.push(chunk));
  req.on('end', () => then(Buffer.concat(chunks)));
}

function reply(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'Content-Type': 'application/json' });
  res.end(JSON.stringify(body));
}
