// The chat-templated turn for the sample preview, from the model's own processor: one trainer
// `chat` process per preview and model (loading a processor takes seconds), asked one JSON line
// per turn. The process ends when the preview closes, when it fails, or when `close()` is called.

import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import type { TrainerRunner } from './recordsFile';

/** Chat messages as the trainer's collator takes them. */
export type ChatMessages = ReadonlyArray<Record<string, unknown>>;

export interface ChatTurn {
  /** The whole conversation through the template (what the collator encodes). */
  readonly text: string;
  /** Where the trained answer starts in `text`, when the prompt is a prefix of it. */
  readonly answerStart?: number;
}

type Reply = { id?: number | null; text?: string; answer_start?: number | null; error?: string; ready?: boolean; model?: string };

/** How long the processor may take to load (a large tokenizer on a slow disk). */
const LOAD_TIMEOUT_MS = 180_000;

export class ChatTemplates {
  private readonly child: ChildProcess;
  private readonly pending = new Map<number, { resolve: (turn: ChatTurn) => void; reject: (err: Error) => void }>();
  private nextId = 1;
  private failure: Error | undefined;
  private stderrTail = '';
  private rejectReady: ((err: Error) => void) | undefined;
  private loaded = false;
  /** Resolves once the processor is loaded; rejects with why it cannot be. */
  readonly ready: Promise<void>;

  constructor(runner: TrainerRunner, model: string, configDir: string) {
    this.child = spawn(runner.python, ['-m', 'medvlm_sft', 'chat', '--model', model, '--config-dir', configDir], {
      env: runner.env,
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    // Writing to a process that has just died fails with EPIPE: its exit says why, not this.
    this.child.stdin?.on('error', () => undefined);
    this.child.stderr?.setEncoding('utf8').on('data', (chunk: string) => {
      this.stderrTail = (this.stderrTail + chunk).slice(-4000);
    });
    let ready: (() => void) | undefined;
    this.ready = new Promise<void>((resolve, reject) => {
      ready = resolve;
      this.rejectReady = reject;
    });
    this.ready.catch(() => undefined);
    const timer = setTimeout(() => this.fail(new Error(`the processor of ${model} did not load within ${LOAD_TIMEOUT_MS / 1000} s`)), LOAD_TIMEOUT_MS);
    const lines = createInterface({ input: this.child.stdout as NodeJS.ReadableStream });
    let first = true;
    lines.on('line', (line) => {
      let reply: Reply;
      try {
        reply = JSON.parse(line) as Reply;
      } catch {
        return; // a stray print from a library: not ours
      }
      if (first) {
        first = false;
        clearTimeout(timer);
        if (reply.ready === true) {
          this.loaded = true;
          ready?.();
        } else {
          this.fail(new Error(reply.error ?? `the processor of ${model} did not load`));
        }
        return;
      }
      const waiting = typeof reply.id === 'number' ? this.pending.get(reply.id) : undefined;
      if (waiting === undefined) return;
      this.pending.delete(reply.id as number);
      if (typeof reply.text === 'string') waiting.resolve({ text: reply.text, ...(typeof reply.answer_start === 'number' ? { answerStart: reply.answer_start } : {}) });
      else waiting.reject(new Error(reply.error ?? 'the trainer gave no text'));
    });
    this.child.on('error', (err) => this.fail(new Error(`cannot start the trainer: ${err.message}`)));
    this.child.on('exit', (code, signal) => {
      clearTimeout(timer);
      const last = this.stderrTail.trim().split('\n').pop() ?? '';
      this.fail(new Error(`the trainer's chat process ended (${signal ?? `status ${String(code)}`})${last !== '' ? `: ${last}` : ''}`));
    });
  }

  private fail(err: Error): void {
    if (this.failure !== undefined) return;
    this.failure = err;
    this.rejectReady?.(err);
    for (const waiting of this.pending.values()) waiting.reject(err);
    this.pending.clear();
    this.close();
  }

  /**
   * Whether a new process should be started: this one ended after loading (killed, crashed).
   * A processor that did not load will not load on a retry either; its error stays the answer.
   */
  get ended(): boolean {
    return this.failure !== undefined && this.loaded;
  }

  /** The conversation through the model's chat template. */
  async turn(messages: ChatMessages): Promise<ChatTurn> {
    await this.ready;
    if (this.failure !== undefined) throw this.failure;
    const id = this.nextId++;
    return new Promise<ChatTurn>((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      this.child.stdin?.write(`${JSON.stringify({ id, messages })}\n`);
    });
  }

  close(): void {
    this.child.stdin?.end();
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill('SIGTERM');
  }
}
