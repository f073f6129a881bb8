// The run panel protocol, host to webview: every payload the host posts is validated on
// arrival, and events are packed into bounded messages.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import type { TrainerEvent } from '../../src/shared/events';
import { toTrainerEvent } from '../../src/shared/events';
import { envelope, matchMessage } from '../../src/shared/protocol/message';
import type { ConfigDiffPayload, EventsPayload, MetricColumn } from '../../src/shared/protocol/runPanel';
import { packEvents } from '../../src/shared/protocol/runPanelPacking';
import {
  clampLogTail,
  ConfigDiffMessage,
  EventsMessage,
  InitMessage,
  isTrainerEvent,
  LogTailMessage,
  MAX_COMPARE_RUNS,
  MAX_EVENTS_PER_MESSAGE,
  MAX_LOG_TAIL_CHARS,
  MAX_ROWS_PER_MESSAGE,
  SummaryMessage,
} from '../../src/shared/protocol/runPanel';
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

const HUGE = 'x'.repeat(2 * MAX_LOG_TAIL_CHARS);

describe('host -> webview messages', () => {
  const summary = { runId: 'r1', status: 'training', step: 3, maxSteps: 10, etaS: null } as const;
  const init = (runs: unknown[], compare = false) => ({ type: InitMessage.type, payload: { title: 'demo', compare, runs } });

  it('validates init, for one run and for compare mode', () => {
    assert.ok(matchMessage(InitMessage, envelope(InitMessage, { title: 'demo', compare: false, runs: [{ runId: 'r1', title: 'demo', summary }] })));
    const two = [
      { runId: 'r1', title: 'a', summary },
      { runId: 'r2', title: 'b', summary: { runId: 'r2', status: 'finished' } },
    ];
    assert.ok(matchMessage(InitMessage, init(two, true)));
    const run = (patch: object) => ({ runId: 'r1', title: 'demo', summary, ...patch });
    const bad: unknown[] = [
      [],
      [run({ summary: undefined })],
      [run({ summary: { ...summary, status: 'exploded' } })],
      [run({ runId: 'r'.repeat(10_000), summary: { ...summary, runId: 'r'.repeat(10_000) } })],
      [run({ title: 5 })],
      [run({ summary: { ...summary, step: 'three' } })],
      [run({ summary: { ...summary, step: Number.NaN } })],
      [run({ summary: { ...summary, runId: 'other' } })],
      [run({}), run({})],
      Array.from({ length: MAX_COMPARE_RUNS + 1 }, (_, i) => run({ runId: `r${i}`, summary: { ...summary, runId: `r${i}` } })),
    ];
    for (const runs of bad) assert.equal(matchMessage(InitMessage, init(runs as unknown[])), undefined, JSON.stringify(runs).slice(0, 80));
  });

  it('validates summaries, with the reason and attempt of a resumed run', () => {
    assert.ok(matchMessage(SummaryMessage, envelope(SummaryMessage, { runId: 'r', status: 'failed', error: 'OOM' })));
    assert.ok(matchMessage(SummaryMessage, envelope(SummaryMessage, { runId: 'r', status: 'lost', reason: 'killed by SIGKILL', attempt: 2, resumeStep: 40 })));
    assert.equal(matchMessage(SummaryMessage, { type: SummaryMessage.type, payload: { runId: 'r' } }), undefined);
    assert.ok(matchMessage(SummaryMessage, envelope(SummaryMessage, { runId: 'r', status: 'training', wandbUrl: 'https://wandb.ai/lab/p/runs/r' })));
    for (const wandbUrl of ['javascript:alert(1)', 'file:///etc/passwd', 'https://a b', `https://x/${'y'.repeat(3000)}`]) {
      assert.equal(matchMessage(SummaryMessage, { type: SummaryMessage.type, payload: { runId: 'r', status: 'training', wandbUrl } }), undefined, wandbUrl);
    }
    assert.equal(matchMessage(SummaryMessage, { type: SummaryMessage.type, payload: [] }), undefined);
    assert.equal(matchMessage(SummaryMessage, { type: SummaryMessage.type, payload: { runId: 'r', status: 'lost', attempt: 'two' } }), undefined);
  });

  it('accepts every golden event as parsed by toTrainerEvent, after a structured clone', () => {
    const events = goldenEvents();
    assert.equal(events.length, 13);
    for (const event of events) assert.ok(isTrainerEvent(structuredClone(event)), event.type);
    for (const payload of packEvents('r', events, true)) {
      assert.ok(matchMessage(EventsMessage, structuredClone(envelope(EventsMessage, payload))));
    }
  });

  it('accepts a resumed run_started and rejects a malformed one', () => {
    const [first] = goldenEvents();
    assert.ok(first?.type === 'run_started');
    assert.ok(isTrainerEvent({ ...first, attempt: 2, resume_step: 40 }));
    assert.ok(isTrainerEvent({ ...first, attempt: 2, resume_step: null }));
    assert.ok(!isTrainerEvent({ ...first, attempt: 2, resume_step: 'forty' }));
    assert.ok(!isTrainerEvent({ ...first, attempt: 'two' }));
  });

  it('rejects malformed events payloads', () => {
    const [good] = packEvents('r', goldenEvents(), true);
    assert.ok(good !== undefined && good.columns.length > 0);
    const column = good.columns[0] as MetricColumn;
    const withColumn = (patch: Partial<Record<keyof MetricColumn, unknown>>): unknown => ({ ...good, columns: [{ ...column, ...patch }] });
    const [first] = goldenEvents();
    const bad: unknown[] = [
      { events: good.events, columns: good.columns, reset: true },
      { ...good, runId: 7 },
      { ...good, events: first },
      { ...good, events: [first, { v: 1, t: 1, type: 'metrics', step: 1, epoch: 0, split: 'train', values: { loss: 'high' } }] },
      { ...good, events: [{ v: 1, t: 1, type: 'some_future_type' }] },
      { ...good, events: [null] },
      { ...good, events: new Array(MAX_EVENTS_PER_MESSAGE + 1).fill(first) },
      { ...good, events: [{ v: 1, t: 1, type: 'phase', phase: 'training' }, first] },
      { ...good, columns: 'nope' },
      withColumn({ split: 'test' }),
      withColumn({ field: '' }),
      withColumn({ field: '__proto__' }),
      withColumn({ y: [1, 2] }),
      withColumn({ y: new Float32Array(column.y.length) }),
      withColumn({ t: new Float64Array(column.t.length + 1) }),
      withColumn({ step: new Float64Array(MAX_ROWS_PER_MESSAGE + 1), epoch: new Float64Array(MAX_ROWS_PER_MESSAGE + 1), t: new Float64Array(MAX_ROWS_PER_MESSAGE + 1), y: new Float64Array(MAX_ROWS_PER_MESSAGE + 1) }),
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

  it('validates config differences: one value per run, bounded', () => {
    const good: ConfigDiffPayload = {
      runIds: ['a', 'b'],
      rows: [{ path: 'train.learning_rate', values: ['0.0002', null] }],
      missing: [],
      truncated: false,
    };
    assert.ok(matchMessage(ConfigDiffMessage, envelope(ConfigDiffMessage, good)));
    const bad: unknown[] = [
      { ...good, rows: [{ path: 'x', values: ['1'] }] },
      { ...good, rows: [{ path: 'x', values: ['1', 2] }] },
      { ...good, rows: [{ path: 'x'.repeat(10_000), values: ['1', '2'] }] },
      { ...good, rows: [{ path: 'x', values: ['1', 'y'.repeat(10_000)] }] },
      { ...good, missing: ['c'] },
      { ...good, truncated: 'no' },
      { ...good, runIds: Array.from({ length: MAX_COMPARE_RUNS + 1 }, (_, i) => `r${i}`) },
    ];
    for (const payload of bad) assert.equal(matchMessage(ConfigDiffMessage, { type: ConfigDiffMessage.type, payload }), undefined);
  });
});

describe('packEvents', () => {
  const metrics = (step: number, split: 'train' | 'eval', values: Record<string, number | null>): TrainerEvent => ({
    v: 1,
    t: 1000 + step,
    type: 'metrics',
    step,
    epoch: step / 4,
    split,
    values,
  });
  const column = (payload: EventsPayload, split: string, field: string) => payload.columns.find((c) => c.split === split && c.field === field);

  it('packs metrics and progress into columns and keeps the other events, with the last progress', () => {
    const [payload, ...rest] = packEvents('r', goldenEvents(), true);
    assert.equal(rest.length, 0);
    assert.ok(payload !== undefined);
    assert.equal(payload.runId, 'r');
    assert.equal(payload.reset, true);
    assert.deepEqual(payload.events.map((e) => e.type), ['run_started', 'phase', 'log', 'phase', 'phase', 'phase', 'checkpoint', 'error', 'run_finished', 'progress']);
    const loss = column(payload, 'train', 'loss');
    assert.deepEqual(Array.from(loss?.step ?? []), [1, 2]);
    assert.deepEqual(Array.from(loss?.epoch ?? []), [0.25, 0.5]);
    assert.equal(loss?.y[0], 2.75);
    assert.ok(Number.isNaN(loss?.y[1]), 'null becomes NaN (a gap)');
    assert.deepEqual(Array.from(column(payload, 'train', 'grad_norm')?.step ?? []), [1], 'a field on some rows gets its own rows');
    assert.deepEqual(Array.from(column(payload, 'eval', 'loss')?.y ?? []), [2.5]);
    assert.deepEqual(Array.from(column(payload, 'progress', 'samples_per_s')?.y ?? []), [2.5]);
  });

  it('shares the row columns between fields logged on every row', () => {
    const [payload] = packEvents('r', [metrics(1, 'train', { loss: 1, learning_rate: 2 }), metrics(2, 'train', { loss: 3, learning_rate: 4 })], false);
    assert.ok(payload !== undefined);
    const loss = column(payload, 'train', 'loss');
    const lr = column(payload, 'train', 'learning_rate');
    assert.ok(loss !== undefined && lr !== undefined);
    assert.equal(loss.step, lr.step, 'one step array for both');
    const cloned = structuredClone(payload);
    assert.equal(column(cloned, 'train', 'loss')?.step, column(cloned, 'train', 'learning_rate')?.step, 'still shared after a structured clone');
  });

  it('starts a new payload at every run_started, so it is applied before what follows it', () => {
    const start = goldenEvents()[0] as TrainerEvent;
    const resumed = { ...start, t: start.t + 100, attempt: 2, resume_step: 1 } as TrainerEvent;
    const payloads = packEvents('r', [start, metrics(1, 'train', { loss: 1 }), metrics(2, 'train', { loss: 2 }), resumed, metrics(2, 'train', { loss: 5 })], true);
    assert.equal(payloads.length, 2);
    assert.deepEqual(payloads.map((p) => [p.reset, p.events[0]?.type, column(p, 'train', 'loss')?.y.length]), [
      [true, 'run_started', 2],
      [false, 'run_started', 1],
    ]);
  });

  it('splits a backlog within the message bounds; only the first payload resets', () => {
    const many = Array.from({ length: MAX_ROWS_PER_MESSAGE + 10 }, (_, i) => metrics(i, 'train', { loss: i }));
    const logs: TrainerEvent[] = Array.from({ length: MAX_EVENTS_PER_MESSAGE + 5 }, (_, i) => ({ v: 1, t: i, type: 'log', level: 'info', message: `${i}` }));
    const payloads = packEvents('r', [...many, ...logs], true);
    assert.deepEqual(payloads.map((p) => p.reset), payloads.map((_, i) => i === 0));
    for (const payload of payloads) assert.ok(matchMessage(EventsMessage, envelope(EventsMessage, payload)));
    assert.equal(payloads.reduce((n, p) => n + (column(p, 'train', 'loss')?.y.length ?? 0), 0), many.length);
    assert.equal(payloads.reduce((n, p) => n + p.events.length, 0), logs.length);
    assert.deepEqual(packEvents('r', [], true), [{ runId: 'r', reset: true, events: [], columns: [] }]);
    assert.deepEqual(packEvents('r', [], false), []);
  });
});
