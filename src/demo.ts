// The `npm start` demo run: the extension's own local launcher and event follower, printing
// live progress to the terminal instead of the run panel. Bundled to dist/demo.js.
// Usage: node dist/demo.js --python P --extension-root R --config C --runs-root D

import path from 'node:path';
import { parseArgs } from 'node:util';
import type { TrainerEvent } from './shared/events';
import { followRun, startLocalRun } from './launch/localLauncher';
import { stopLocalRun } from './launch/localStop';

function formatEvent(event: TrainerEvent): string | undefined {
  switch (event.type) {
    case 'phase':
      return `  phase: ${event.phase.replace('_', ' ')}`;
    case 'progress': {
      const eta = event.eta_s === null ? '' : ` · ETA ${Math.round(event.eta_s)} s`;
      return `  step ${event.step}/${event.max_steps} · epoch ${event.epoch.toFixed(2)}${eta}`;
    }
    case 'metrics': {
      const fields = Object.entries(event.values)
        .filter(([key]) => ['loss', 'learning_rate', 'grad_norm'].includes(key))
        .map(([key, value]) => `${key} ${value === null ? 'NaN' : Number(value.toPrecision(4))}`);
      return `  ${event.split} @ step ${event.step}: ${fields.join(' · ')}`;
    }
    case 'checkpoint':
      return `  checkpoint: ${event.path}`;
    case 'log':
      return `  ${event.level}: ${event.message}`;
    case 'error':
      return `  ERROR: ${event.message}\n${event.traceback}`;
    case 'run_finished':
      return `  run ${event.status}`;
    default:
      return undefined;
  }
}

function trainLosses(events: readonly TrainerEvent[]): number[] {
  const losses: number[] = [];
  for (const event of events) {
    const loss = event.type === 'metrics' && event.split === 'train' ? event.values.loss : undefined;
    if (typeof loss === 'number') {
      losses.push(loss);
    }
  }
  return losses;
}

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: {
      python: { type: 'string' },
      'extension-root': { type: 'string' },
      config: { type: 'string' },
      'runs-root': { type: 'string' },
    },
  });
  const { python, config } = values;
  const extensionRoot = values['extension-root'];
  const runsRoot = values['runs-root'];
  if (!python || !extensionRoot || !config || !runsRoot) {
    console.error('usage: node dist/demo.js --python P --extension-root R --config C --runs-root D');
    return 2;
  }
  const run = await startLocalRun({ pythonPath: python, extensionRoot, configPath: config, runsRoot });
  console.log(`run ${run.runId} started (pid ${run.pid}) in ${run.runDir}`);

  const seen: TrainerEvent[] = [];
  const watch = followRun(run.runDir, (events, reset) => {
    if (reset) {
      seen.length = 0;
    }
    for (const event of events) {
      seen.push(event);
      const line = formatEvent(event);
      if (line !== undefined) {
        console.log(line);
      }
    }
  });
  const onInterrupt = (): void => {
    console.log('\nstopping the run (it writes a checkpoint first)…');
    void stopLocalRun(run.runDir);
  };
  process.on('SIGINT', onInterrupt);
  const summary = await watch.whenTerminal();
  process.off('SIGINT', onInterrupt);
  watch.dispose();

  const losses = trainLosses(seen);
  const [first, last] = [losses[0], losses[losses.length - 1]];
  if (first !== undefined && last !== undefined && losses.length >= 2) {
    const trend = last < first ? 'falling' : 'not falling';
    console.log(`\ntrain loss ${first.toPrecision(4)} → ${last.toPrecision(4)} (${trend}, ${losses.length} points)`);
  }
  console.log(`status: ${summary.status}${summary.error ? ` (${summary.error})` : ''}`);
  console.log(`logs: ${path.join(run.runDir, 'stdout.log')}`);
  console.log(`run folder: ${run.runDir}`);
  return summary.status === 'finished' ? 0 : 1;
}

main().then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    console.error(`demo run failed to start: ${err instanceof Error ? err.message : String(err)}`);
    process.exitCode = 1;
  },
);
