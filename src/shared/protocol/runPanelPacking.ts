// The host's side of the run panel's columns: a batch of events, in file order, packed into
// `events` payloads. Metrics and progress become Float64Array columns per split and field
// (a long run's backlog is hundreds of thousands of points, which as event objects would cost
// the webview seconds to receive); every other event travels as it is.

import type { TrainerEvent } from '../events';
import type { ColumnSplit, EventsPayload, MetricColumn } from './runPanel';
import { isFieldName, MAX_COLUMNS_PER_MESSAGE, MAX_EVENTS_PER_MESSAGE, MAX_ROWS_PER_MESSAGE } from './runPanel';

/** Distinct fields per split in one message (three splits stay within MAX_COLUMNS_PER_MESSAGE). */
const MAX_FIELDS_PER_SPLIT = Math.floor(MAX_COLUMNS_PER_MESSAGE / 3);

/** Collects one split's rows; fields logged on every row share the row columns. */
class SplitColumns {
  readonly step: number[] = [];
  readonly epoch: number[] = [];
  readonly t: number[] = [];
  private readonly fields = new Map<string, { rows: number[]; values: number[] }>();

  constructor(readonly split: ColumnSplit) {}

  get rows(): number {
    return this.step.length;
  }

  add(step: number, epoch: number, t: number, values: Readonly<Record<string, number | null>>): void {
    const row = this.step.length;
    this.step.push(step);
    this.epoch.push(epoch);
    this.t.push(t);
    for (const field in values) {
      if (!Object.prototype.hasOwnProperty.call(values, field) || !isFieldName(field)) {
        continue;
      }
      let column = this.fields.get(field);
      if (column === undefined) {
        if (this.fields.size >= MAX_FIELDS_PER_SPLIT) {
          continue;
        }
        column = { rows: [], values: [] };
        this.fields.set(field, column);
      }
      const value = values[field];
      column.rows.push(row);
      column.values.push(typeof value === 'number' && Number.isFinite(value) ? value : Number.NaN);
    }
  }

  columns(): MetricColumn[] {
    const all = this.rows;
    let shared: { step: Float64Array; epoch: Float64Array; t: Float64Array } | undefined;
    const out: MetricColumn[] = [];
    for (const [field, { rows, values }] of this.fields) {
      let rowColumns: { step: Float64Array; epoch: Float64Array; t: Float64Array };
      if (rows.length === all) {
        // The usual case (a field on every row): one copy of step, epoch and t for all such
        // fields; a structured clone keeps shared arrays shared.
        shared ??= { step: Float64Array.from(this.step), epoch: Float64Array.from(this.epoch), t: Float64Array.from(this.t) };
        rowColumns = shared;
      } else {
        rowColumns = {
          step: Float64Array.from(rows, (r) => this.step[r] as number),
          epoch: Float64Array.from(rows, (r) => this.epoch[r] as number),
          t: Float64Array.from(rows, (r) => this.t[r] as number),
        };
      }
      out.push({ split: this.split, field, ...rowColumns, y: Float64Array.from(values) });
    }
    return out;
  }
}

/**
 * Turns a batch of events, in file order, into `events` payloads within the message bounds.
 * A `run_started` (a resumed attempt) always opens a new payload, so the webview applies it
 * before the columns of what was logged after it. Only the first payload resets.
 */
export function packEvents(runId: string, events: readonly TrainerEvent[], reset: boolean): EventsPayload[] {
  const payloads: EventsPayload[] = [];
  let plain: TrainerEvent[] = [];
  let progress: TrainerEvent | undefined;
  let splits = new Map<ColumnSplit, SplitColumns>();
  let rows = 0;
  const split = (name: ColumnSplit): SplitColumns => {
    let columns = splits.get(name);
    if (columns === undefined) {
      columns = new SplitColumns(name);
      splits.set(name, columns);
    }
    return columns;
  };
  const flush = (): void => {
    if (plain.length === 0 && progress === undefined && rows === 0) {
      return;
    }
    const columns = [...splits.values()].flatMap((s) => s.columns());
    payloads.push({
      runId,
      reset: reset && payloads.length === 0,
      events: progress === undefined ? plain : [...plain, progress],
      columns,
    });
    plain = [];
    progress = undefined;
    splits = new Map();
    rows = 0;
  };
  for (const event of events) {
    if (event.type === 'run_started' || plain.length >= MAX_EVENTS_PER_MESSAGE - 1 || rows >= MAX_ROWS_PER_MESSAGE) {
      flush();
    }
    switch (event.type) {
      case 'metrics':
        split(event.split).add(event.step, event.epoch, event.t, event.values);
        rows += 1;
        break;
      case 'progress':
        split('progress').add(event.step, event.epoch, event.t, { samples_per_s: event.samples_per_s });
        rows += 1;
        progress = event;
        break;
      default:
        plain.push(event);
    }
  }
  flush();
  if (payloads.length === 0 && reset) {
    // An empty reset still matters: it clears a webview that showed a previous load.
    payloads.push({ runId, reset: true, events: [], columns: [] });
  }
  return payloads;
}
