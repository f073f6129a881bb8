// Child-process entry for the launcher tests: starts a run, prints it as JSON, and then
// simply returns. The process exits only if nothing of the launch keeps it alive, which is
// what lets the editor reload while the trainer runs on.
import { startLocalRun } from '../../../src/launch/localLauncher';
import type { StartLocalRunOptions } from '../../../src/launch/localLauncher';

const options = JSON.parse(process.argv[2] ?? '{}') as StartLocalRunOptions;
startLocalRun(options).then(
  (started) => process.stdout.write(`${JSON.stringify(started)}\n`),
  (err: unknown) => {
    process.stderr.write(`${String(err)}\n`);
    process.exitCode = 1;
  },
);
