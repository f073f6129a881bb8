// Fetching a remote run's checkpoints or merged model into its folder here, on demand
// (design: remote runs): one tar stream over the host's shared connection, unpacked into a
// hidden folder beside them and moved into place only when the stream ended whole, so a cut
// link or a cancel never leaves a half checkpoint that looks complete. The bytes received
// drive a progress bar against the size the host reported. No `vscode`.

import { execa } from 'execa';
import { randomBytes } from 'node:crypto';
import { mkdir, rename, rm } from 'node:fs/promises';
import path from 'node:path';
import { shellCommand, shellQuote } from './shellQuote';
import { runSsh, sshFailure, sshOptions } from './ssh';
import type { SshHost } from './ssh';

export interface HostArtifact {
  /** Relative to the run folder, `/`-separated: `checkpoints/final`, `merged`. */
  readonly path: string;
  /** Size on the host, from `du -sk`. */
  readonly bytes: number;
}

/** Relative artifact paths that may be fetched: inside the run folder, no `..`. */
const ARTIFACT = /^(checkpoints\/[A-Za-z0-9._-]+|merged(\/[A-Za-z0-9._-]+)?)$/;

/**
 * The run's checkpoints and merged model on the host, with their sizes: only whole ones. A
 * checkpoint is written in place, its state file last (`checkpoint-N`: the Trainer's
 * trainer_state.json; `final`: the trainer's medvlm_training.json), so one that a full disk or
 * a kill cut short lacks it, or has it cut short; as both are `json.dumps(indent=2)`, a whole
 * one ends with a `}` line of its own. The rule of runArtifacts.ts (and checkpoints.py), in
 * shell. Merged models are renamed into place whole.
 */
export async function listHostArtifacts(host: SshHost, remoteDir: string, signal?: AbortSignal): Promise<HostArtifact[]> {
  const script = String.raw`cd "$1" 2>/dev/null || exit 0
whole() { [ -f "$1/$2" ] && [ "$(tail -n 1 "$1/$2")" = "}" ] && { [ -f "$1/adapter_model.safetensors" ] || [ -f "$1/model.safetensors" ] || [ -f "$1/model.safetensors.index.json" ]; }; }
for d in checkpoints/*/ merged/; do
  [ -d "$d" ] || continue
  d=${'${d%/}'}
  case "$d" in
    checkpoints/checkpoint-*-merged) ;;
    checkpoints/checkpoint-*) whole "$d" trainer_state.json || continue ;;
    checkpoints/final) whole "$d" medvlm_training.json || continue ;;
  esac
  printf '%s\t%s\n' "$(du -sk "$d" | cut -f1)" "$d"
done`;
  const { stdout } = await runSsh(host, `sh -c ${shellQuote(script)} medvlm-list ${shellQuote(remoteDir)}`, { timeoutMs: 60_000, ...(signal ? { signal } : {}) });
  return stdout
    .split('\n')
    .map((line) => line.split('\t'))
    .filter((parts): parts is [string, string] => parts.length === 2 && ARTIFACT.test(parts[1] ?? ''))
    .map(([kb, rel]) => ({ path: rel, bytes: Number(kb) * 1024 }));
}

export interface FetchOptions {
  readonly host: SshHost;
  readonly remoteDir: string;
  readonly localDir: string;
  readonly artifacts: readonly HostArtifact[];
  /** Bytes of the tar stream received so far, and the expected total. */
  readonly onProgress?: (received: number, total: number) => void;
  readonly signal?: AbortSignal;
}

/** Copies the artifacts into the local run folder, replacing what is there under the same names. */
export async function fetchFromHost(options: FetchOptions): Promise<void> {
  for (const artifact of options.artifacts) {
    if (!ARTIFACT.test(artifact.path)) throw new Error(`${artifact.path} is not a checkpoint or merged model of the run`);
  }
  const total = options.artifacts.reduce((sum, a) => sum + a.bytes, 0);
  const staging = path.join(options.localDir, `.fetch-${randomBytes(4).toString('hex')}`);
  await mkdir(staging, { recursive: true });
  try {
    const remote = `cd ${shellQuote(options.remoteDir)} && exec ${shellCommand(['tar', '-cf', '-', '--', ...options.artifacts.map((a) => a.path)])}`;
    const ssh = execa('ssh', [...sshOptions(options.host), '--', options.host.alias, remote], {
      reject: false,
      buffer: { stdout: false, stderr: true },
      stdin: 'ignore',
      encoding: 'buffer',
      ...(options.signal ? { cancelSignal: options.signal } : {}),
    });
    const untar = execa('tar', ['-xf', '-', '-C', staging], { reject: false, stdin: 'pipe', ...(options.signal ? { cancelSignal: options.signal } : {}) });
    let received = 0;
    ssh.stdout?.on('data', (chunk: Buffer) => {
      received += chunk.length;
      options.onProgress?.(received, total);
    });
    ssh.stdout?.pipe(untar.stdin!);
    const [sent, unpacked] = await Promise.all([ssh, untar]);
    if (options.signal?.aborted) throw new Error('the fetch was cancelled');
    if (sent.exitCode !== 0) throw sshFailure(options.host.alias, sent.exitCode ?? -1, Buffer.from(sent.stderr ?? new Uint8Array()).toString('utf8'));
    if (unpacked.exitCode !== 0) throw new Error(`could not unpack what ${options.host.alias} sent: ${String(unpacked.stderr).trim().split('\n').at(-1) ?? ''}`);
    for (const artifact of options.artifacts) {
      const target = path.join(options.localDir, ...artifact.path.split('/'));
      await mkdir(path.dirname(target), { recursive: true });
      await rm(target, { recursive: true, force: true });
      await rename(path.join(staging, ...artifact.path.split('/')), target);
    }
  } finally {
    await rm(staging, { recursive: true, force: true });
  }
}
