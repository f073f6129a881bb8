// `npm test`: every test the project has, in one run, with one closing summary line.
// Stages run in order; a failing stage is reported and the rest still run, so one red
// stage does not hide another. Exit status is non-zero when any stage failed.
import { spawn } from 'node:child_process';
import { existsSync, statSync } from 'node:fs';
import path from 'node:path';
import { ensurePython, repoRoot, trainerEnv } from './pythonEnv.mjs';

const only = process.argv.slice(2);

/**
 * Runs one command in its own process group. Past `deadline` (ms since the epoch) the whole
 * group is killed and the step fails, so one hung test costs its stage, never the whole
 * CI budget. The step is over when its process exits: a stray process that kept the output
 * pipes open (a daemon a test forgot, say) gets a few seconds to let go, then is cut off.
 */
function run(cmd, args, { env = process.env, cwd = repoRoot, deadline = Infinity } = {}) {
  return new Promise((resolve) => {
    const child = spawn(cmd, args, { cwd, env, stdio: ['ignore', 'pipe', 'pipe'], detached: process.platform !== 'win32' });
    let out = '';
    let timedOut = false;
    let exit;
    const note = (message) => {
      out += message;
      process.stderr.write(message);
    };
    const killGroup = (signal) => {
      try {
        process.kill(process.platform === 'win32' ? child.pid : -child.pid, signal);
      } catch {
        // Already gone.
      }
    };
    const finish = () => {
      clearTimeout(deadlineTimer);
      clearTimeout(drainTimer);
      process.off('exit', onExit);
      // Anything the step left running in its group (a daemon, a stray trainer) goes too.
      killGroup('SIGKILL');
      child.stdout.destroy();
      child.stderr.destroy();
      const [code, signal] = exit ?? [null, 'SIGKILL'];
      resolve({ code: timedOut ? 124 : code ?? (signal ? 1 : 0), out, timedOut });
    };
    let drainTimer;
    const deadlineTimer =
      deadline === Infinity
        ? undefined
        : setTimeout(() => {
            timedOut = true;
            note(`\nnpm test: ${[cmd, ...args].join(' ')} ran past its stage's time limit; stopping it\n`);
            killGroup('SIGTERM');
            setTimeout(() => {
              killGroup('SIGKILL');
              // Killed or not, the stage is over and the next one runs.
              setTimeout(finish, 5_000);
            }, 10_000).unref();
          }, Math.max(0, deadline - Date.now()));
    // Whatever happens to this script, the children do not outlive it.
    const onExit = () => killGroup('SIGKILL');
    process.once('exit', onExit);
    const relay = (stream, sink) =>
      stream.on('data', (chunk) => {
        out += chunk;
        sink.write(chunk);
      });
    relay(child.stdout, process.stdout);
    relay(child.stderr, process.stderr);
    child.on('exit', (code, signal) => {
      exit = [code, signal];
      drainTimer = setTimeout(() => {
        note(`\nnpm test: ${cmd} exited but a process it left behind still holds its output; cutting it off\n`);
        finish();
      }, 5_000);
    });
    child.on('close', finish);
  });
}

/** Runs the steps in order and stops at the first that fails. */
async function runSteps(steps, options) {
  let out = '';
  for (const step of steps) {
    const result = await run(step.cmd, step.args, options);
    out += result.out;
    if (result.code !== 0) return { code: result.code, out, timedOut: result.timedOut };
  }
  return { code: 0, out, timedOut: false };
}

// Counts from the runners' own closing lines, so the summary says how many tests ran.
function nodeCounts(out) {
  const pass = [...out.matchAll(/^# pass (\d+)$/gm)].reduce((n, m) => n + Number(m[1]), 0);
  // A test cancelled by its timeout did not pass either.
  const fail = [...out.matchAll(/^# (?:fail|cancelled) (\d+)$/gm)].reduce((n, m) => n + Number(m[1]), 0);
  return { passed: pass, failed: fail };
}

function pytestCounts(out) {
  const line = out.trim().split('\n').reverse().find((l) => /\d+ (passed|failed|errors?)\b.* in [\d.]+s/.test(l)) ?? '';
  const num = (word) => Number(line.match(new RegExp(`(\\d+) ${word}`))?.[1] ?? 0);
  return { passed: num('passed'), failed: num('failed') + num('errors?'), skipped: num('skipped') };
}

/** The whole run's limit: CI stops at 90 minutes, and a report beats a silent kill. */
const TOTAL_MINUTES = 80;
const scriptStarted = Date.now();

const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';

function lockIsInstalled() {
  const marker = path.join(repoRoot, 'node_modules', '.package-lock.json');
  return existsSync(marker) && statSync(marker).mtimeMs >= statSync(path.join(repoRoot, 'package-lock.json')).mtimeMs;
}

async function main() {
  if (!lockIsInstalled()) {
    const { code } = await run(npm, ['ci', '--no-audit', '--no-fund']);
    if (code !== 0) throw new Error('npm ci failed');
  }
  const python = ensurePython();
  const pyEnv = trainerEnv(python);
  const stages = [
    { name: 'typecheck', minutes: 5, cmd: npm, args: ['run', '--silent', 'typecheck'] },
    { name: 'lint', minutes: 5, cmd: npm, args: ['run', '--silent', 'lint'] },
    { name: 'ruff', minutes: 2, cmd: python, args: ['-m', 'ruff', 'check', 'src', 'tests', 'bootstrap.py'], cwd: path.join(repoRoot, 'python') },
    { name: 'docs', minutes: 2, cmd: process.execPath, args: ['scripts/configReference.mjs', '--check'] },
    { name: 'build', minutes: 5, cmd: npm, args: ['run', '--silent', 'build'] },
    { name: 'unit', minutes: 15, cmd: npm, args: ['run', '--silent', 'test:unit'], env: pyEnv, counts: nodeCounts },
    // Remote runs for real (sshd, SLURM with one and two nodes, a cut link, full disks), each
    // training the tiny model: the longest stage.
    { name: 'remote', minutes: 30, cmd: npm, args: ['run', '--silent', 'test:remote'], env: pyEnv, counts: nodeCounts },
    { name: 'webview', minutes: 10, cmd: npm, args: ['run', '--silent', 'test:webview'], env: pyEnv, counts: nodeCounts },
    {
      name: 'python',
      minutes: 20,
      cmd: python,
      args: ['-m', 'pytest', '-q', '-p', 'no:cacheprovider'],
      cwd: path.join(repoRoot, 'python'),
      env: pyEnv,
      counts: pytestCounts,
    },
    { name: 'package', minutes: 10, cmd: npm, args: ['run', '--silent', 'test:package'], counts: nodeCounts },
    // A real VS Code (code-server, installed once into ~/.cache/medvlm-studio) driven by
    // Chromium, on a freshly packaged VSIX. One file at a time: the 2-core CI machine runs
    // one VS Code and one training run at once, not two.
    {
      name: 'e2e',
      // Includes building code-server on a cold cache (a few minutes).
      minutes: 40,
      steps: [
        { cmd: npm, args: ['run', '--silent', 'package'] },
        { cmd: process.execPath, args: ['esbuild.mjs', '--tests'] },
        { cmd: process.execPath, args: ['--require', './scripts/blockingTestOutput.cjs', '--test', '--test-force-exit', '--test-concurrency=1', '--test-reporter=tap', 'out/e2e/'] },
      ],
      env: pyEnv,
      counts: nodeCounts,
    },
  ].filter((s) => only.length === 0 || only.includes(s.name));

  const results = [];
  for (const stage of stages) {
    console.log(`\n=== ${stage.name} ===`);
    const started = Date.now();
    // Each stage has its own limit, and all together stay inside CI's 90 minutes.
    const deadline = Math.min(started + stage.minutes * 60_000, scriptStarted + TOTAL_MINUTES * 60_000);
    const { code, out, timedOut } = await runSteps(stage.steps ?? [stage], { env: stage.env ?? process.env, cwd: stage.cwd, deadline });
    const counts = stage.counts ? stage.counts(out) : { passed: 0, failed: 0 };
    const ok = code === 0 && counts.failed === 0;
    if (!ok && counts.failed === 0) counts.failed = 1;
    results.push({ name: stage.name, ok, seconds: (Date.now() - started) / 1000, timedOut, limit: stage.minutes, ...counts });
  }

  console.log('\n=== summary ===');
  for (const r of results) {
    const detail = r.passed || r.failed ? ` (${r.passed} passed, ${r.failed} failed${r.skipped ? `, ${r.skipped} skipped` : ''})` : '';
    const limit = r.timedOut ? ` (stopped at its ${r.limit}-minute limit)` : '';
    console.log(`${r.ok ? 'ok  ' : 'FAIL'} ${r.name.padEnd(10)} ${r.seconds.toFixed(1).padStart(7)} s${detail}${limit}`);
  }
  const passed = results.reduce((n, r) => n + r.passed, 0);
  const failed = results.reduce((n, r) => n + r.failed, 0);
  const skipped = results.reduce((n, r) => n + (r.skipped ?? 0), 0);
  console.log(`${passed} passed, ${failed} failed${skipped ? `, ${skipped} skipped` : ''}`);
  // A full run that counted no test at all is a failure, not a green run.
  process.exitCode = results.every((r) => r.ok) && (passed > 0 || only.length > 0) ? 0 : 1;
}

main().catch((err) => {
  console.error(`npm test: ${err.message}`);
  process.exitCode = 1;
});
