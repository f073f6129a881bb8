// The run panel protocol: every message the webview can post is validated against its token
// before the host acts on it; malformed ones are counted and ignored, never thrown.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import type { TrainerEvent } from '../../src/shared/events';
import { toTrainerEvent } from '../../src/shared/events';
import { dispatch, isEnvelopeShape, on } from '../../src/shared/protocol/dispatch';
import { envelope, matchMessage } from '../../src/shared/protocol/message';
import {
  chunkEvents,
  clampLogTail,
  EventsMessage,
  InitMessage,
  isTrainerEvent,
  LogTailMessage,
  MAX_EVENTS_PER_MESSAGE,
  MAX_LOG_TAIL_CHARS,
  OpenLogMessage,
  ReadyMessage,
  RequestLogTailMessage,
  RevealFolderMessage,
  StopMessage,
  SummaryMessage,
} from '../../src/shared/protocol/runPanel';
import type { RunPanelHostHandlers, Timers } from '../../src/webviews/runPanelRouting';
import { Coalescer, createHostRouter } from '../../src/webviews/runPanelRouting';
import { repoRoot } from './testUtil';

function goldenEvents(): TrainerEvent[] {
  const text = readFileSync(path.join(repoRoot, 'test/fixtures/events/golden.jsonl'), 'utf8');
  const events: TrainerEvent[] = [];
  for (const line of text.split('\n')) {
    try {
      const event = toTrainerEvent(JSON.parse(line));
      if (event !== undefined) events.push(event);
    } catch {
      // The torn last line.
    }
  }
  return events;
}

const WEBVIEW_TO_HOST = [ReadyMessage, StopMessage, OpenLogMessage, RevealFolderMessage, RequestLogTailMessage];
const HUGE = 'x'.repeat(2 * MAX_LOG_TAIL_CHARS);

/** Everything a confused or hostile webview might post. */
const MALFORMED: ReadonlyArray<[string, unknown]> = [
  ['undefined', undefined],
  ['null', null],
  ['number', 42],
  ['string', 'runPanel/stop'],
  ['huge string', HUGE],
  ['boolean', true],
  ['empty array', []],
  ['array envelope', ['runPanel/stop', {}]],
  ['array of envelopes', [{ type: 'runPanel/stop', payload: {} }]],
  ['empty object', {}],
  ['missing payload', { type: 'runPanel/stop' }],
  ['null payload', { type: 'runPanel/stop', payload: null }],
  ['array payload', { type: 'runPanel/stop', payload: [] }],
  ['string payload', { type: 'runPanel/stop', payload: 'now' }],
  ['junk in payload', { type: 'runPanel/stop', payload: { force: true } }],
  ['huge junk in payload', { type: 'runPanel/openLog', payload: { path: HUGE } }],
  ['path in payload', { type: 'runPanel/revealFolder', payload: { path: '/etc' } }],
  ['junk beside payload', { type: 'runPanel/stop', payload: {}, extra: 1 }],
  ['__proto__ in payload', JSON.parse('{"type":"runPanel/stop","payload":{"__proto__":{"x":1}}}')],
  ['non-string type', { type: 7, payload: {} }],
  ['empty type', { type: '', payload: {} }],
  ['huge type', { type: HUGE, payload: {} }],
  ['wrong case type', { type: 'runPanel/STOP', payload: {} }],
  ['host-bound type from webview', { type: 'runPanel/logTail', payload: { text: 'x' } }],
  ['unknown type', { type: 'runPanel/deleteEverything', payload: {} }],
];

describe('webview -> host messages', () => {
  for (const message of WEBVIEW_TO_HOST) {
    it(`accepts a well-formed ${message.type}`, () => {
      assert.deepEqual(matchMessage(message, envelope(message, {})), {});
      assert.deepEqual(matchMessage(message, JSON.parse(JSON.stringify(envelope(message, {})))), {});
    });
  }

  for (const [name, data] of MALFORMED) {
    it(`rejects ${name}`, () => {
      let handled = 0;
      const routes = WEBVIEW_TO_HOST.map((message) => on(message, () => handled++));
      assert.notEqual(dispatch(data, routes), 'handled');
      assert.equal(handled, 0);
    });
  }

  it('keeps the envelope strict: only type and payload', () => {
    assert.ok(isEnvelopeShape({ type: 'a', payload: undefined }));
    assert.ok(!isEnvelopeShape({ type: 'a' }));
    assert.ok(!isEnvelopeShape({ type: 'a', payload: {}, junk: 0 }));
    assert.ok(!isEnvelopeShape([{ type: 'a', payload: {} }]));
  });
});

describe('host router', () => {
  function setup() {
    const calls: string[] = [];
    const logged: string[] = [];
    const handlers: RunPanelHostHandlers = {
      ready: () => calls.push('ready'),
      stop: () => calls.push('stop'),
      openLog: () => calls.push('openLog'),
      revealFolder: () => calls.push('revealFolder'),
      requestLogTail: () => calls.push('requestLogTail'),
    };
    const router = createHostRouter(handlers, (line) => logged.push(line));
    return { calls, logged, router };
  }

  it('routes each declared message to its handler', () => {
    const { calls, router } = setup();
    for (const message of WEBVIEW_TO_HOST) router.receive(envelope(message, {}));
    assert.deepEqual(calls, ['ready', 'stop', 'openLog', 'revealFolder', 'requestLogTail']);
    assert.equal(router.stats.handled, 5);
    assert.equal(router.stats.rejected, 0);
  });

  it('ignores, counts and logs malformed messages without throwing', () => {
    const { calls, logged, router } = setup();
    for (const [, data] of MALFORMED) assert.doesNotThrow(() => router.receive(data));
    assert.deepEqual(calls, []);
    assert.equal(router.stats.rejected, MALFORMED.length);
    assert.equal(router.stats.unknown, 3); // wrong case, host-bound, unknown type
    assert.ok(logged.length > 0 && logged.length <= 10, 'logging is rate-limited');
    assert.ok(logged.every((line) => line.length < 300), 'log lines never echo huge payloads');
  });

  it('logs only every 100th rejection after the first ten', () => {
    const { logged, router } = setup();
    for (let i = 0; i < 250; i++) router.receive(null);
    assert.equal(logged.length, 12); // 1..10, 100, 200
  });

  it('dispatch reports handled, unknown and malformed', () => {
    let got: unknown;
    const routes = [on(LogTailMessage, (p) => (got = p.text))];
    assert.equal(dispatch(envelope(LogTailMessage, { text: 'hi' }), routes), 'handled');
    assert.equal(got, 'hi');
    assert.equal(dispatch({ type: 'other', payload: {} }, routes), 'unknown');
    assert.equal(dispatch({ type: LogTailMessage.type, payload: { text: 1 } }, routes), 'malformed');
  });
});

describe('host -> webview messages', () => {
  const summary = { runId: 'r1', status: 'training', step: 3, maxSteps: 10, etaS: null } as const;

  it('validates init', () => {
    assert.ok(matchMessage(InitMessage, envelope(InitMessage, { runId: 'r1', title: 'demo', summary })));
    const bad: unknown[] = [
      { runId: 'r1', title: 'demo' },
      { runId: 'r1', title: 'demo', summary: { ...summary, status: 'exploded' } },
      { runId: 'r'.repeat(10_000), title: 'demo', summary },
      { runId: 'r1', title: 5, summary },
      { runId: 'r1', title: 'demo', summary: { ...summary, step: 'three' } },
      { runId: 'r1', title: 'demo', summary: { ...summary, step: Number.NaN } },
    ];
    for (const payload of bad) assert.equal(matchMessage(InitMessage, { type: InitMessage.type, payload }), undefined);
  });

  it('validates summaries', () => {
    assert.ok(matchMessage(SummaryMessage, envelope(SummaryMessage, { runId: 'r', status: 'failed', error: 'OOM' })));
    assert.equal(matchMessage(SummaryMessage, { type: SummaryMessage.type, payload: { runId: 'r' } }), undefined);
    assert.equal(matchMessage(SummaryMessage, { type: SummaryMessage.type, payload: [] }), undefined);
  });

  it('accepts every golden event as parsed by toTrainerEvent, after a structured clone', () => {
    const events = goldenEvents();
    assert.equal(events.length, 13);
    for (const event of events) assert.ok(isTrainerEvent(structuredClone(event)), event.type);
    assert.ok(matchMessage(EventsMessage, structuredClone(envelope(EventsMessage, { events, reset: true }))));
  });

  it('rejects malformed events payloads', () => {
    const [first] = goldenEvents();
    const bad: unknown[] = [
      { events: [first] },
      { events: first, reset: false },
      { events: [first, { v: 1, t: 1, type: 'metrics', step: 1, epoch: 0, split: 'train', values: { loss: 'high' } }], reset: false },
      { events: [{ v: 1, t: 1, type: 'metrics', step: 1, epoch: 0, split: 'test', values: {} }], reset: false },
      { events: [{ v: 1, t: 1, type: 'some_future_type' }], reset: false },
      { events: [null], reset: false },
      { events: new Array(MAX_EVENTS_PER_MESSAGE + 1).fill(first), reset: false },
    ];
    for (const payload of bad) assert.equal(matchMessage(EventsMessage, { type: EventsMessage.type, payload }), undefined);
  });

  it('bounds the log tail', () => {
    assert.ok(matchMessage(LogTailMessage, envelope(LogTailMessage, { text: 'line\n' })));
    assert.equal(matchMessage(LogTailMessage, { type: LogTailMessage.type, payload: { text: HUGE } }), undefined);
    const clamped = clampLogTail(`${'a'.repeat(100)}\n${'b\n'.repeat(MAX_LOG_TAIL_CHARS)}`);
    assert.ok(clamped.length <= MAX_LOG_TAIL_CHARS);
    assert.ok(clamped.startsWith('b\n'), 'cut at a line start');
    assert.equal(clampLogTail('short'), 'short');
  });

  it('chunks a backlog so only the first message resets', () => {
    const [first] = goldenEvents();
    assert.ok(first !== undefined);
    const backlog = new Array<TrainerEvent>(MAX_EVENTS_PER_MESSAGE * 2 + 1).fill(first);
    const chunks = chunkEvents(backlog, true);
    assert.deepEqual(chunks.map((c) => [c.events.length, c.reset]), [
      [MAX_EVENTS_PER_MESSAGE, true],
      [MAX_EVENTS_PER_MESSAGE, false],
      [1, false],
    ]);
    assert.deepEqual(chunkEvents([], true), [{ events: [], reset: true }]);
    assert.deepEqual(chunkEvents([], false), []);
  });
});

describe('Coalescer', () => {
  function fakeTimers() {
    let now = 0;
    const queue: Array<{ at: number; fn: () => void; id: number }> = [];
    let nextId = 0;
    const timers: Timers = {
      setTimeout: (fn, ms) => {
        const id = nextId++;
        queue.push({ at: now + ms, fn, id });
        return id;
      },
      clearTimeout: (handle) => {
        const i = queue.findIndex((t) => t.id === handle);
        if (i >= 0) queue.splice(i, 1);
      },
      now: () => now,
    };
    const advance = (ms: number) => {
      now += ms;
      for (let t = queue.find((q) => q.at <= now); t !== undefined; t = queue.find((q) => q.at <= now)) {
        queue.splice(queue.indexOf(t), 1);
        t.fn();
      }
    };
    return { timers, advance };
  }

  it('flushes a lone request at once and bursts at most once per interval', () => {
    const { timers, advance } = fakeTimers();
    let flushes = 0;
    const c = new Coalescer(() => flushes++, 200, timers);
    c.request();
    assert.equal(flushes, 1);
    for (let ms = 0; ms < 1000; ms += 10) {
      c.request();
      advance(10);
    }
    assert.ok(flushes >= 5 && flushes <= 7, `~5 flushes per second, got ${flushes}`);
    c.dispose();
    c.request();
    advance(1000);
    const after = flushes;
    advance(1000);
    assert.equal(flushes, after);
  });
});
