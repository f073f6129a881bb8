// Chrome traces for the benchmarks: started and read back over CDP, and reduced to the busy
// time of the page's main thread and its chart worker per window between the page's
// `bench-*` performance marks.
import type { CDPSession } from 'playwright-core';

interface TraceEvent {
  readonly name: string;
  readonly ph: string;
  readonly ts: number;
  readonly dur?: number;
  /** Thread (CPU) time: what the thread itself spent, not the time it waited for a core. */
  readonly tdur?: number;
  readonly pid: number;
  readonly tid: number;
  readonly args?: { readonly name?: string };
}

export async function startTrace(cdp: CDPSession): Promise<void> {
  await cdp.send('Tracing.start', {
    transferMode: 'ReturnAsStream',
    traceConfig: { includedCategories: ['toplevel', 'disabled-by-default-devtools.timeline', 'devtools.timeline', 'blink.user_timing', '__metadata'] },
  });
}

export async function stopTrace(cdp: CDPSession): Promise<TraceEvent[]> {
  const done = new Promise<string>((resolve) => cdp.once('Tracing.tracingComplete', (event) => resolve(event.stream ?? '')));
  await cdp.send('Tracing.end');
  const stream = await done;
  let text = '';
  for (;;) {
    const chunk = await cdp.send('IO.read', { handle: stream, size: 4 << 20 });
    text += chunk.base64Encoded === true ? Buffer.from(chunk.data, 'base64').toString('utf8') : chunk.data;
    if (chunk.eof) break;
  }
  await cdp.send('IO.close', { handle: stream });
  const parsed = JSON.parse(text) as TraceEvent[] | { traceEvents: TraceEvent[] };
  return Array.isArray(parsed) ? parsed : parsed.traceEvents;
}

const TASKS = new Set(['RunTask', 'ThreadControllerImpl::RunTask', 'ThreadPool_RunTask']);

/**
 * Busy time per window on one thread: its top-level tasks (nested task events are skipped),
 * as thread (CPU) time where the trace has it, so that time the thread spent descheduled on
 * a loaded machine does not count as work.
 */
function busyPerWindow(events: readonly TraceEvent[], pid: number, tid: number, windows: ReadonlyArray<[number, number]>): number[] {
  const tasks = events
    .filter((e) => e.pid === pid && e.tid === tid && e.ph === 'X' && TASKS.has(e.name) && e.dur !== undefined)
    .sort((a, b) => a.ts - b.ts || (b.dur ?? 0) - (a.dur ?? 0));
  const topLevel: TraceEvent[] = [];
  let end = Number.NEGATIVE_INFINITY;
  for (const task of tasks) {
    if (task.ts >= end) {
      topLevel.push(task);
      end = task.ts + (task.dur ?? 0);
    }
  }
  return windows.map(([from, to]) => {
    let busy = 0;
    for (const task of topLevel) {
      if (task.ts >= from && task.ts < to) busy += task.tdur ?? task.dur ?? 0;
    }
    return busy / 1000;
  });
}

/** Main and worker busy time per update window, and over the initial render. */
export function analyse(events: readonly TraceEvent[], updates: number): { initialMain: number; main: number[]; worker: number[] } {
  const marks = new Map(events.filter((e) => e.name.startsWith('bench-')).map((e) => [e.name, e]));
  const anchor = marks.get('bench-initial') ?? marks.get('bench-update-0');
  if (anchor === undefined) throw new Error('the trace has no bench marks (blink.user_timing)');
  const threadName = (pid: number, tid: number) =>
    events.find((e) => e.ph === 'M' && e.name === 'thread_name' && e.pid === pid && e.tid === tid)?.args?.name ?? '';
  const main = { pid: anchor.pid, tid: anchor.tid };
  const workerEvent = events.find((e) => e.ph === 'M' && e.name === 'thread_name' && e.pid === main.pid && /DedicatedWorker/.test(e.args?.name ?? ''));
  const at = (name: string) => marks.get(name)?.ts;
  const windows: Array<[number, number]> = [];
  for (let i = 0; i < updates; i++) {
    const from = at(`bench-update-${i}`);
    const to = at(`bench-update-${i + 1}`) ?? at('bench-end');
    if (from !== undefined && to !== undefined) windows.push([from, to]);
  }
  const initialFrom = at('bench-initial') ?? 0;
  const initialTo = at('bench-update-0') ?? at('bench-end') ?? initialFrom;
  if (threadName(main.pid, main.tid) !== 'CrRendererMain') {
    throw new Error(`the bench marks are not on the renderer main thread (${threadName(main.pid, main.tid)})`);
  }
  return {
    initialMain: busyPerWindow(events, main.pid, main.tid, [[initialFrom, initialTo]])[0] ?? 0,
    main: busyPerWindow(events, main.pid, main.tid, windows),
    worker: workerEvent === undefined ? [] : busyPerWindow(events, workerEvent.pid, workerEvent.tid, windows),
  };
}
