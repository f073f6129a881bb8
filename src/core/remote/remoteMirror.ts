// The local mirror of a run on a remote host (design contract 5: the run explorer is rebuilt
// from run folders, so a reload or a lost link loses nothing). The trainer writes its run
// folder on the host; this copies it into the run's folder here, where the run registry, the
// run panel and every command read it as they read a local run:
//
// - events.jsonl, streamed over the host's shared connection by RemoteEventsTail (`tail -c
//   +OFFSET -F`), appended here a complete line at a time. The local file's size is the
//   offset: a mirror started again (a reload, another day) goes on from exactly there.
// - stdout.log, exit.json and the process's state, by one short ssh command every poll.
// - remote.json (RemoteState): alive, or unknown while the host cannot be reached. It says
//   `alive: false` only once the process has ended and every byte it wrote has been copied.
//
// A link that dies without a word is given up by ssh's keepalives in 15 s (ssh.ts); then
// each poll is a short connect attempt, and the first to get through after the link returns
// makes the shared connection the tail follows over at once (RECONNECT_TIMEOUT_S).
//
// One mirror per run folder on this machine: a lock file names the process (the extension
// host) that mirrors it, so two windows never append the same bytes twice. No `vscode`.

import { randomBytes } from 'node:crypto';
import { appendFile, open, readFile, rename, rm, stat, truncate, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { isProcessAlive, processStartTime } from '../processAlive';
import { readRunProcess, runPaths } from '../runDir';
import { readRemoteState, writeRemoteState } from '../runEnd';
import { STARTING_GRACE_MS } from '../runStatus';
import type { RemoteState } from '../runEnd';
import { ALIVE_TEST } from './remoteLaunch';
import { ACTIVE_JOB_STATES, parseQueueLine, QUEUE_LINES } from './slurm';
import type { JobState } from './slurm';
import { RemoteEventsTail } from './remoteTail';
import type { TailState } from './remoteTail';
import { shellQuote } from './shellQuote';
import { closeSsh, runSshBytes, SshError } from './ssh';
import type { SshHost } from './ssh';

export const MIRROR_LOCK = '.mirror.lock';
/** stdout.log bytes copied per poll at most; a chattier trainer is caught up over a few polls. */
const STDOUT_CHUNK = 1 << 20;
/**
 * A poll still unanswered after this (ssh's keepalives give up on a dead link sooner) is stuck
 * on the host or in the shared connection: that connection is closed, since killing the poll's
 * own ssh would not end it (the master holds its output pipes).
 */
const POLL_TIMEOUT_MS = 30_000;
/**
 * A poll connects by itself only once the shared connection is gone, almost always because
 * the link just died: so after the first answer its connect is cut short, and while the host
 * cannot be reached a new one starts at once (PROBE_GAP_MS), so one is on its way when the
 * link returns (the kernel resends a SYN 1, 2, 4, 8 s apart). The tail keeps ssh's usual
 * timeout, for hosts slow to answer (a ProxyJump): the first through makes the connection.
 */
const RECONNECT_TIMEOUT_S = 2;
/** A poll while the host cannot be reached (a connect, a handshake, the answer); the least gap. */
const PROBE_TIMEOUT_MS = 6_000;
const PROBE_GAP_MS = 100;

export interface RemoteMirrorOptions {
  readonly host: SshHost;
  /** The run's folder on this machine. */
  readonly localDir: string;
  /** The run's folder on the host, absolute. */
  readonly remoteDir: string;
  /** The supervisor's pid on the host, and its start time when known (null on SLURM). */
  readonly pid: number | null;
  readonly startTime: number | null;
  /** On a SLURM cluster: the job, whose state squeue says. */
  readonly jobId?: string;
  /** How often to ask the host about the process and copy stdout.log. Default 2000 ms. */
  readonly pollMs?: number;
  /** Something changed in the mirror folder (new bytes, a new state). */
  readonly onChange?: () => void;
  readonly onError?: (err: unknown) => void;
}

/**
 * The poll, for `sh -c`: $1 run folder, $2 pid, $3 start time, $4 stdout.log bytes already
 * here, $5 SLURM job id ('' for a process started over ssh), $6 events.jsonl bytes already here.
 * `rest` counts the line ends in the events not copied yet (in their first MiB): none, once the
 * process has ended, means a last line it never finished.
 */
const POLL_SCRIPT = String.raw`dir=$1 pid=$2 start=$3 out=$4 job=$5 copied=$6
if [ -n "$job" ]; then
${QUEUE_LINES}
  echo alive=0
elif ${ALIVE_TEST}; then echo alive=1; else echo alive=0; fi
if [ -f "$dir/events.jsonl" ]; then echo "events=$(wc -c < "$dir/events.jsonl" | tr -d ' ')"; else echo events=0; fi
echo "rest=$(tail -c +$((copied + 1)) "$dir/events.jsonl" 2>/dev/null | head -c 1048576 | wc -l | tr -d ' ')"
echo "free=$(df -Pk "$dir" 2>/dev/null | awk 'NR==2 {printf "%.0f", $4 * 1024}')"
if [ -f "$dir/exit.json" ]; then echo "exit=$(head -n 1 "$dir/exit.json")"; fi
echo "stdout=$(wc -c < "$dir/stdout.log" 2>/dev/null | tr -d ' ')"
echo --
tail -c +$((out + 1)) "$dir/stdout.log" 2>/dev/null | head -c ${STDOUT_CHUNK}`;

interface PollAnswer {
  readonly alive: boolean;
  /** A SLURM job's state. */
  readonly queue?: JobState;
  readonly eventsSize: number;
  /** Line ends in the events past the bytes copied (in their first MiB). */
  readonly eventsRestLines: number | undefined;
  readonly stdoutSize: number;
  readonly freeBytes: number | undefined;
  readonly exitLine: string | undefined;
  readonly stdout: Buffer;
}

export function parsePollAnswer(bytes: Buffer): PollAnswer | undefined {
  const separator = bytes.indexOf('\n--\n');
  if (separator < 0) return undefined;
  const head = bytes.toString('utf8', 0, separator);
  const field = (key: string): string | undefined => new RegExp(`^${key}=(.*)$`, 'm').exec(head)?.[1];
  const eventsSize = Number(field('events'));
  const alive = field('alive');
  if ((alive !== '0' && alive !== '1') || !Number.isInteger(eventsSize)) return undefined;
  const free = Number(field('free'));
  const stdoutSize = Number(field('stdout'));
  const rest = Number(field('rest'));
  const queueLine = field('queue');
  const queue = queueLine !== undefined ? parseQueueLine(queueLine) : undefined;
  return {
    alive: queue !== undefined ? ACTIVE_JOB_STATES.has(queue.state) : alive === '1',
    ...(queue !== undefined ? { queue } : {}),
    eventsSize,
    eventsRestLines: field('rest') && Number.isInteger(rest) ? rest : undefined,
    stdoutSize: Number.isInteger(stdoutSize) ? stdoutSize : 0,
    freeBytes: field('free') && Number.isFinite(free) ? free : undefined,
    exitLine: field('exit'),
    stdout: bytes.subarray(separator + 4),
  };
}

export class RemoteRunMirror {
  /** Resolves once the run has ended on the host and everything it wrote is copied here. */
  readonly done: Promise<void>;
  private resolveDone!: () => void;
  private tail: RemoteEventsTail | undefined;
  private timer: NodeJS.Timeout | undefined;
  private writes: Promise<void> = Promise.resolve();
  private stdoutSize = 0;
  private lastState: RemoteState | undefined;
  private disposed = false;
  private released: Promise<void> = Promise.resolve();
  /** The tail is connected (its marker arrived), not reconnecting. */
  private following = false;
  private pollStarted = 0;
  /** The host has answered a poll of this mirror. */
  private answered = false;

  private constructor(private readonly options: RemoteMirrorOptions) {
    this.done = new Promise((resolve) => {
      this.resolveDone = resolve;
    });
  }

  /**
   * Starts mirroring the run, unless another live process mirrors it already (undefined then),
   * or it has ended and its mirror is complete (a mirror whose `done` is resolved).
   */
  static async start(options: RemoteMirrorOptions): Promise<RemoteRunMirror | undefined> {
    if (!(await takeLock(options.localDir))) return undefined;
    const mirror = new RemoteRunMirror(options);
    const state = await readRemoteState(options.localDir);
    if (state?.alive === false) {
      mirror.finish();
      return mirror;
    }
    const paths = runPaths(options.localDir);
    const from = await completeLinesSize(paths.events);
    mirror.stdoutSize = await fileSize(paths.stdoutLog);
    mirror.lastState = state;
    mirror.tail = new RemoteEventsTail({
      host: options.host,
      file: path.posix.join(options.remoteDir, 'events.jsonl'),
      from,
      onEvents: (_events, _offset, lines) => mirror.append(paths.events, lines),
      onState: (tailState) => mirror.tailState(tailState),
    });
    void mirror.poll();
    return mirror;
  }

  /** Bytes of events.jsonl copied so far. */
  get eventsCopied(): number {
    return this.tail?.position ?? 0;
  }

  /** Stops copying; resolves once the last bytes are written and the lock is given up. */
  dispose(): Promise<void> {
    if (!this.disposed) {
      this.disposed = true;
      clearTimeout(this.timer);
      this.tail?.dispose();
      this.released = this.writes.then(() => this.releaseLock()).catch((err: unknown) => this.options.onError?.(err));
    }
    return this.released;
  }

  private append(file: string, bytes: Buffer): void {
    const copy = Buffer.from(bytes);
    this.writes = this.writes
      .then(() => appendFile(file, copy))
      .then(() => this.options.onChange?.())
      .catch((err: unknown) => this.options.onError?.(err));
  }

  private tailState(state: TailState): void {
    this.following = state.kind === 'following';
    // The poll reports the link; the tail's own reconnects show up there too.
    if (state.kind === 'reconnecting' && state.attempt === 1) void this.poll();
  }

  private get unreachable(): boolean {
    return this.lastState?.unreachable !== undefined;
  }

  private schedule(): void {
    if (this.disposed) return;
    clearTimeout(this.timer);
    const pollMs = this.options.pollMs ?? 2000;
    // Unreachable: polls start pollMs apart, so a host that refuses at once is asked as often
    // as ever, and a silent link (each try waits out its connect timeout) is tried again at once.
    const wait = this.unreachable ? Math.max(PROBE_GAP_MS, pollMs - (Date.now() - this.pollStarted)) : pollMs;
    this.timer = setTimeout(() => void this.poll(), wait);
  }

  private polling = false;

  private async poll(): Promise<void> {
    if (this.disposed || this.polling) return;
    this.polling = true;
    try {
      await this.pollOnce();
    } catch (err) {
      this.options.onError?.(err);
    } finally {
      this.polling = false;
      this.schedule();
    }
  }

  private async pollOnce(): Promise<void> {
    const { host, remoteDir, pid, startTime, jobId } = this.options;
    const command = `sh -c ${shellQuote(POLL_SCRIPT)} medvlm-poll ${shellQuote(remoteDir)} ${pid ?? 0} ${shellQuote(startTime === null ? '' : String(startTime))} ${this.stdoutSize} ${shellQuote(jobId ?? '')} ${this.eventsCopied}`;
    const probing = this.unreachable;
    const limit = probing ? PROBE_TIMEOUT_MS : POLL_TIMEOUT_MS;
    this.pollStarted = Date.now();
    let unanswered = false;
    const watchdog = setTimeout(() => {
      unanswered = true;
      void closeSsh(host);
    }, limit);
    let answer: PollAnswer | undefined;
    try {
      answer = parsePollAnswer(await runSshBytes(host, command, { timeoutMs: limit, ...(this.answered || probing ? { connectTimeoutS: RECONNECT_TIMEOUT_S } : {}) }));
    } catch (err) {
      if (err instanceof SshError && (err.kind !== 'command' || err.timedOut)) {
        const why = unanswered || err.timedOut ? `cannot reach ${host.alias}: no answer in ${limit / 1000} s` : err.message;
        await this.setState({ version: 1, t: Date.now() / 1000, alive: null, unreachable: why });
        return;
      }
      throw err;
    } finally {
      clearTimeout(watchdog);
    }
    this.answered = true;
    // The host answered again: the tail need not wait out its backoff or a stuck attempt; it
    // follows over the connection this poll just made.
    if (probing && !this.following) this.tail?.reconnect();
    if (answer === undefined) throw new Error(`the host's answer about run ${path.basename(this.options.localDir)} was not understood`);
    const paths = runPaths(this.options.localDir);
    if (answer.stdout.length > 0) {
      this.stdoutSize += answer.stdout.length;
      this.append(paths.stdoutLog, answer.stdout);
    }
    await this.writes;
    if (answer.alive) {
      const queued = answer.queue?.state === 'PENDING' ? (answer.queue.reason ?? 'waiting') : undefined;
      await this.setState({ version: 1, t: Date.now() / 1000, alive: true, ...(queued !== undefined ? { queued } : {}) });
      return;
    }
    // Ended: `alive` was read before the sizes, so these are final. Done once all is here.
    // A last line the trainer never finished (killed mid-write, or the disk full with nothing
    // left in reserve) never becomes whole: the complete lines before it are all there is.
    const eventsCopied = this.eventsCopied >= answer.eventsSize || answer.eventsRestLines === 0;
    const caughtUp = eventsCopied && this.stdoutSize >= answer.stdoutSize;
    if (!caughtUp) {
      // Reached again, its last bytes still on their way: read as running until they are here.
      if (probing) await this.setState({ version: 1, t: Date.now() / 1000, alive: true });
      return;
    }
    // A resume started a new attempt meanwhile: its own mirror says how that one goes.
    const current = await readRunProcess(this.options.localDir);
    const resuming = current?.pending !== undefined && Date.now() - current.pending.claimedMs < STARTING_GRACE_MS;
    if (current !== undefined && ((pid !== null && current.pid !== pid) || resuming)) {
      this.finish();
      return;
    }
    if (answer.exitLine !== undefined) await writeFile(paths.exitRecord, `${answer.exitLine}\n`);
    await this.setState({ version: 1, t: Date.now() / 1000, alive: false, ...(answer.freeBytes !== undefined ? { free_bytes: answer.freeBytes } : {}) });
    this.finish();
  }

  private async setState(state: RemoteState): Promise<void> {
    const previous = this.lastState;
    const same = previous !== undefined && previous.alive === state.alive && previous.unreachable === state.unreachable && previous.queued === state.queued;
    // Rewritten while alive only when it changes; readers need no heartbeat.
    if (same) return;
    this.lastState = state;
    await writeRemoteState(this.options.localDir, state);
    this.options.onChange?.();
  }

  private finish(): void {
    void this.dispose().then(() => this.resolveDone());
  }

  private async releaseLock(): Promise<void> {
    const lock = path.join(this.options.localDir, MIRROR_LOCK);
    const held = await readLock(lock);
    if (held?.pid === process.pid) await rm(lock, { force: true });
  }
}

interface LockOwner {
  readonly pid: number;
  readonly start: number | null;
}

async function readLock(file: string): Promise<LockOwner | undefined> {
  try {
    const raw = JSON.parse(await readFile(file, 'utf8')) as Record<string, unknown>;
    return typeof raw.pid === 'number' ? { pid: raw.pid, start: typeof raw.start === 'number' ? raw.start : null } : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Takes the run folder's mirror lock for this process: created exclusively; a lock whose
 * process is gone (a closed window, a crash) is taken over.
 */
async function takeLock(dir: string): Promise<boolean> {
  const file = path.join(dir, MIRROR_LOCK);
  const me = JSON.stringify({ pid: process.pid, start: processStartTime(process.pid) });
  for (let tries = 0; tries < 3; tries += 1) {
    try {
      const handle = await open(file, 'wx');
      try {
        await handle.writeFile(me);
      } finally {
        await handle.close();
      }
      return true;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
    const owner = await readLock(file);
    if (owner?.pid === process.pid) return false;
    if (owner !== undefined && isProcessAlive(owner.pid, owner.start)) return false;
    // A stale (or half-written) lock: move it aside atomically, so one taker wins.
    const aside = `${file}.${randomBytes(4).toString('hex')}.stale`;
    try {
      await rename(file, aside);
      await rm(aside, { force: true });
    } catch {
      // Another process moved it first; try again.
    }
  }
  return false;
}

/** The size of a file's complete lines; a torn last line (a crash mid-append) is cut off. */
async function completeLinesSize(file: string): Promise<number> {
  let text: Buffer;
  try {
    text = await readFile(file);
  } catch {
    return 0;
  }
  const end = text.lastIndexOf(0x0a) + 1;
  if (end < text.length) await truncate(file, end);
  return end;
}

async function fileSize(file: string): Promise<number> {
  try {
    return (await stat(file)).size;
  } catch {
    return 0;
  }
}
