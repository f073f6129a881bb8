// Reading a run's events.jsonl while the trainer appends to it (design contract 4). Reads
// resume from the byte offset just past the last complete line, so a read never counts a
// line twice and a torn last line is picked up whole on a later read.

import { watch } from 'node:fs';
import type { FSWatcher } from 'node:fs';
import { open } from 'node:fs/promises';
import type { FileHandle } from 'node:fs/promises';
import path from 'node:path';
import { toTrainerEvent } from '../shared/events';
import type { TrainerEvent } from '../shared/events';

const NEWLINE = 0x0a;

export interface ParsedLines {
  readonly events: TrainerEvent[];
  /** Bytes of `chunk` up to and including its last newline. */
  readonly consumed: number;
  /** Complete lines that were not JSON, or not a known well-formed event. */
  readonly skipped: number;
}

/** Parses the complete lines of `chunk`; bytes after its last newline are left unconsumed. */
export function parseEventLines(chunk: Buffer): ParsedLines {
  const end = chunk.lastIndexOf(NEWLINE);
  const events: TrainerEvent[] = [];
  let skipped = 0;
  let start = 0;
  while (start <= end) {
    const newline = chunk.indexOf(NEWLINE, start);
    const line = chunk.toString('utf8', start, newline).trim();
    start = newline + 1;
    if (line.length === 0) {
      continue;
    }
    let event: TrainerEvent | undefined;
    try {
      event = toTrainerEvent(JSON.parse(line));
    } catch {
      event = undefined;
    }
    if (event === undefined) {
      skipped += 1;
    } else {
      events.push(event);
    }
  }
  return { events, consumed: end + 1, skipped };
}

/**
 * Where a read stopped: the byte offset just past the last complete line, and the file's
 * first bytes as they were then, so a rewritten file is noticed even when it is no shorter.
 */
export interface TailCursor {
  readonly offset: number;
  readonly head: Buffer;
}

export const START_CURSOR: TailCursor = { offset: 0, head: Buffer.alloc(0) };
const HEAD_BYTES = 64;

export interface EventsRead {
  readonly events: TrainerEvent[];
  /** Where the next read starts. */
  readonly cursor: TailCursor;
  /**
   * The file no longer continues what was read before (truncated, replaced or deleted), so
   * this read started again from byte 0 and earlier events should be dropped.
   */
  readonly reset: boolean;
  readonly skipped: number;
}

/** Complete events after `from` (a cursor, or a plain byte offset). A missing file reads as empty. */
export async function readEventsFrom(file: string, from: TailCursor | number = START_CURSOR): Promise<EventsRead> {
  const cursor = typeof from === 'number' ? { offset: from, head: Buffer.alloc(0) } : from;
  let handle;
  try {
    handle = await open(file, 'r');
  } catch (err) {
    if (isNotFound(err)) {
      return { events: [], cursor: START_CURSOR, reset: cursor.offset > 0, skipped: 0 };
    }
    throw err;
  }
  try {
    const { size } = await handle.stat();
    let start = cursor.offset;
    let reset = false;
    if (start > 0 && !(await continues(handle, cursor, size))) {
      start = 0;
      reset = true;
    }
    const head = start > 0 && !reset ? cursor.head : Buffer.alloc(0);
    if (size <= start) {
      return { events: [], cursor: { offset: start, head }, reset, skipped: 0 };
    }
    // Only up to the size seen now: bytes appended meanwhile belong to the next read.
    const buffer = Buffer.alloc(size - start);
    const { bytesRead } = await handle.read(buffer, 0, buffer.length, start);
    const parsed = parseEventLines(buffer.subarray(0, bytesRead));
    const offset = start + parsed.consumed;
    const nextHead = head.length >= Math.min(HEAD_BYTES, offset) ? head : await readHead(handle, Math.min(HEAD_BYTES, offset));
    return { events: parsed.events, cursor: { offset, head: nextHead }, reset, skipped: parsed.skipped };
  } finally {
    await handle.close();
  }
}

async function readHead(handle: FileHandle, length: number): Promise<Buffer> {
  const head = Buffer.alloc(length);
  const { bytesRead } = await handle.read(head, 0, length, 0);
  return head.subarray(0, bytesRead);
}

// The byte before a saved offset is always the newline that ended the last line read, and
// the first bytes never change in an append-only file; if either differs, the file was
// truncated or rewritten and the offset means nothing.
async function continues(handle: FileHandle, cursor: TailCursor, size: number): Promise<boolean> {
  if (size < cursor.offset) {
    return false;
  }
  const probe = Buffer.alloc(1);
  const { bytesRead } = await handle.read(probe, 0, 1, cursor.offset - 1);
  if (bytesRead !== 1 || probe[0] !== NEWLINE) {
    return false;
  }
  return cursor.head.length === 0 || (await readHead(handle, cursor.head.length)).equals(cursor.head);
}

function isNotFound(err: unknown): boolean {
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  return code === 'ENOENT' || code === 'ENOTDIR';
}

export interface FollowOptions {
  /** Each batch of new events, in file order. */
  readonly onEvents: (events: readonly TrainerEvent[]) => void;
  /** The file was truncated, replaced or deleted: forget its events; reading restarts at 0. */
  readonly onReset?: () => void;
  readonly onError?: (err: unknown) => void;
  /** Polling interval; file-system notifications only make it faster. Default 1000 ms. */
  readonly pollMs?: number;
}

export interface EventsFollower {
  readonly offset: number;
  /** Read now (for example, when something else noticed a change). */
  poke(): void;
  /** Resolves once every read requested so far has finished. */
  settled(): Promise<void>;
  dispose(): void;
}

/**
 * Follows `file` from byte 0: survives the file not existing yet, being truncated or
 * replaced, and its folder being deleted and recreated. Polls, and also watches the folder
 * so appends show up without waiting for the next poll.
 */
export function followEvents(file: string, options: FollowOptions): EventsFollower {
  const dir = path.dirname(file);
  const base = path.basename(file);
  let cursor = START_CURSOR;
  let disposed = false;
  let watcher: FSWatcher | undefined;
  let pending: Promise<void> = Promise.resolve();
  let queued = false;

  const readOnce = async (): Promise<void> => {
    const result = await readEventsFrom(file, cursor);
    if (disposed) {
      return;
    }
    if (result.reset) {
      // The folder may have been recreated too, leaving the watcher on a dead inode.
      watcher?.close();
      watcher = undefined;
      options.onReset?.();
    }
    cursor = result.cursor;
    if (result.events.length > 0) {
      options.onEvents(result.events);
    }
  };

  // Reads run one at a time; pokes that arrive during a read collapse into one more read.
  const poke = (): void => {
    if (disposed || queued) {
      return;
    }
    queued = true;
    pending = pending.then(async () => {
      queued = false;
      if (disposed) {
        return;
      }
      try {
        await readOnce();
      } catch (err) {
        options.onError?.(err);
      }
    });
  };

  const arm = (): void => {
    if (watcher !== undefined || disposed) {
      return;
    }
    try {
      const current = watch(dir, { persistent: false }, (_event, name) => {
        if (name === null || name === base) {
          poke();
        }
      });
      current.on('error', () => {
        // The folder went away; polling carries on and re-arms when it is back.
        current.close();
        if (watcher === current) {
          watcher = undefined;
        }
      });
      watcher = current;
    } catch {
      watcher = undefined;
    }
  };

  const timer = setInterval(() => {
    arm();
    poke();
  }, options.pollMs ?? 1000);
  arm();
  poke();

  return {
    get offset() {
      return cursor.offset;
    },
    poke,
    settled: () => pending,
    dispose() {
      disposed = true;
      clearInterval(timer);
      watcher?.close();
      watcher = undefined;
    },
  };
}
