// Following a remote run's events.jsonl (design contract 4) over the host's shared ssh
// connection: `tail -c +OFFSET -F`, parsed a complete line at a time. The offset counts only
// the bytes of complete lines handed on, so when the link drops (the master killed, sshd
// restarting, the network gone) the follower reconnects with backoff and starts again at
// exactly that byte: no event is lost, none is counted twice. No `vscode`.

import { execa } from 'execa';
import type { ResultPromise } from 'execa';
import type { TrainerEvent } from '../../shared/events';
import { parseEventLines } from '../eventsTail';
import { shellCommand } from './shellQuote';
import { sshOptions } from './ssh';
import type { SshHost } from './ssh';

const MARKER = 'medvlm-tail-connected';
/** Waits before each reconnect, the last one repeating: a link that returns is used within 2 s. */
const BACKOFF_MS = [100, 250, 500, 1000, 2000];

export type TailState = { readonly kind: 'following' } | { readonly kind: 'reconnecting'; readonly attempt: number; readonly why: string };

export interface RemoteTailOptions {
  readonly host: SshHost;
  /** The events file on the host (an absolute path). */
  readonly file: string;
  /** Bytes already read (complete lines). */
  readonly from?: number;
  /**
   * New events in file order, the offset after them, and the complete lines they came from,
   * byte for byte (lines that are not events included), for a mirror of the file.
   */
  readonly onEvents: (events: readonly TrainerEvent[], offset: number, lines: Buffer) => void;
  readonly onState?: (state: TailState) => void;
  readonly backoffMs?: readonly number[];
}

export class RemoteEventsTail {
  private offset: number;
  private process: ResultPromise | undefined;
  private timer: NodeJS.Timeout | undefined;
  private attempt = 0;
  private disposed = false;

  constructor(private readonly options: RemoteTailOptions) {
    this.offset = options.from ?? 0;
    this.connect();
  }

  /** Bytes of the file handed on so far. */
  get position(): number {
    return this.offset;
  }

  dispose(): void {
    this.disposed = true;
    clearTimeout(this.timer);
    this.process?.kill('SIGTERM');
  }

  /**
   * Drops the connection (or the attempt under way, or the wait before the next) and connects
   * again now, from the same offset. For an owner that learns first that the link died (ssh
   * itself would wait out its keepalives) or came back (a new attempt need not wait out the
   * backoff, nor a connect stuck resending into the dead link).
   */
  reconnect(): void {
    if (this.disposed) return;
    clearTimeout(this.timer);
    const old = this.process;
    // Set first: what the old process still says is ignored from here on.
    this.process = undefined;
    old?.kill('SIGTERM');
    this.attempt = 0;
    this.connect();
  }

  private connect(): void {
    if (this.disposed) return;
    // `tail -F` waits for a file that is not there yet and follows it by name; `+N` is 1-based.
    // The marker line says the connection is up before the file has anything new.
    const command = `echo ${MARKER}; exec ${shellCommand(['tail', '-c', `+${this.offset + 1}`, '-F', '--', this.options.file])} 2>/dev/null`;
    const child = execa('ssh', [...sshOptions(this.options.host), '--', this.options.host.alias, command], {
      buffer: false,
      reject: false,
      stdin: 'ignore',
      stderr: 'pipe',
    });
    this.process = child;
    let pending: Buffer = Buffer.alloc(0);
    let stderr = '';
    let announced = false;
    child.stderr?.on('data', (chunk: Buffer) => {
      stderr = (stderr + chunk.toString('utf8')).slice(-2000);
    });
    child.stdout?.on('data', (chunk: Buffer) => {
      // A connection dropped by reconnect(): the new one reads these bytes again.
      if (this.process !== child) return;
      pending = pending.length === 0 ? chunk : Buffer.concat([pending, chunk]);
      if (!announced) {
        const end = pending.indexOf(0x0a);
        if (end < 0) return;
        pending = pending.subarray(end + 1);
        announced = true;
        this.attempt = 0;
        this.options.onState?.({ kind: 'following' });
      }
      const parsed = parseEventLines(pending);
      if (parsed.consumed === 0) return;
      const lines = pending.subarray(0, parsed.consumed);
      pending = pending.subarray(parsed.consumed);
      this.offset += parsed.consumed;
      this.options.onEvents(parsed.events, this.offset, lines);
    });
    void child.then((result) => {
      if (this.disposed || this.process !== child) return;
      // A torn line stays unread: the next connection starts at the byte after the last whole one.
      const backoff = this.options.backoffMs ?? BACKOFF_MS;
      const wait = backoff[Math.min(this.attempt, backoff.length - 1)] ?? 1000;
      this.attempt += 1;
      const said = stderr.trim().split('\n').at(-1) ?? '';
      this.options.onState?.({ kind: 'reconnecting', attempt: this.attempt, why: said || `ssh exited (${String(result.exitCode ?? result.signal)})` });
      this.timer = setTimeout(() => this.connect(), wait);
    });
  }
}
