// What e2e tests read about runs: the Runs view's status text and the loss points of a
// run's events.jsonl, parsed here independently of the extension's own code.

import type { SeriesPoint } from '../../../webview/runPanel/series';
import type { TreeRow } from './workbench';

export const TERMINAL = new Set(['finished', 'failed', 'stopped', 'lost']);

/** A Runs view description reads `<status>` or `<status> · step 3/8 · ETA 2s`. */
export const statusOf = (row: TreeRow): string => row.description.split(' · ')[0] ?? '';

/** The step in a Runs view description (`training · step 3/8 · ETA 2s`), if shown. */
export const stepOf = (row: TreeRow): number | undefined => {
  const match = / step (\d+)\//.exec(row.description);
  return match ? Number(match[1]) : undefined;
};

/** The loss points of events.jsonl, each step once: a later line for a step wins (a resumed run re-logs steps). */
export function lossPoints(eventsJsonl: string): Record<'trainLoss' | 'evalLoss', SeriesPoint[]> {
  const series = { trainLoss: new Map<number, number | null>(), evalLoss: new Map<number, number | null>() };
  for (const line of eventsJsonl.split('\n')) {
    let event: Record<string, unknown>;
    try {
      event = JSON.parse(line) as Record<string, unknown>;
    } catch {
      continue; // the blank last line (or a torn one)
    }
    if (event.type === 'run_started' && typeof event.resume_step === 'number') {
      // A resumed attempt supersedes what the earlier one logged after its checkpoint.
      for (const map of Object.values(series)) for (const step of [...map.keys()]) if (step > (event.resume_step as number)) map.delete(step);
    }
    if (event.type !== 'metrics' || !('loss' in event) || typeof event.step !== 'number') continue;
    const target = event.split === 'train' ? series.trainLoss : event.split === 'eval' ? series.evalLoss : undefined;
    const loss = event.loss;
    target?.set(event.step, typeof loss === 'number' && Number.isFinite(loss) ? loss : null);
  }
  const points = (map: Map<number, number | null>): SeriesPoint[] => [...map].sort((a, b) => a[0] - b[0]).map(([x, y]) => ({ x, y }));
  return { trainLoss: points(series.trainLoss), evalLoss: points(series.evalLoss) };
}
