// `npm run bench:config`: how long the editor's validation of a 300-line run config takes
// after a keystroke (issue goal: median under 5 ms). Each iteration validates a different
// text (one character changed, as typing does), so nothing is cached. Printed side by side
// in one run: the full check (YAML tree + schema, what runs on every keystroke), the `yaml`
// package's parse alone (the floor this design cannot go below), and the ratio to the goal.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { parseDocument } from 'yaml';
import { checkConfigText } from '../../src/core/config/validateConfig';

const GOAL_MS = 5;
const root = process.argv[2] ?? process.cwd();

function config300(): string {
  const base = readFileSync(path.join(root, 'python/configs/qwen2_5_vl-32b-medvision-reference.sft.yaml'), 'utf8');
  const [head, rest] = base.split(/^data:\n  sources:\n/m);
  const sources: string[] = [];
  for (let i = 0; sources.join('').split('\n').length + base.split('\n').length < 300; i += 1) {
    sources.push(
      `    # source ${i}: a MedVision task split\n    - name: task-${i}\n      records: /data/medvision/task_${i}/records.jsonl\n      tasks: /data/medvision/task_${i}/tasks.json\n      train_limit: ${1000 + i}\n      val_limit: ${10 + i}\n`,
    );
  }
  return `${head}data:\n  sources:\n${sources.join('')}${rest}`;
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)]!;
}

const text = config300();
const lines = text.split('\n').length;
const at = text.indexOf('learning_rate: ') + 'learning_rate: 2.0e-'.length;
const variants = Array.from({ length: 10 }, (_, i) => text.slice(0, at) + String(i) + text.slice(at + 1));
const problems = checkConfigText(text).problems;
if (problems.length > 0) {
  throw new Error(`the benchmark config should be valid: ${problems.map((p) => p.message).join('; ')}`);
}

function time(fn: (t: string) => unknown, runs: number): number {
  const samples: number[] = [];
  for (let i = 0; i < runs; i += 1) {
    const t = variants[i % variants.length]!;
    const start = performance.now();
    fn(t);
    samples.push(performance.now() - start);
  }
  return median(samples);
}

// Warm up the JIT as a running editor would be.
time((t) => checkConfigText(t), 200);
time((t) => parseDocument(t), 200);
const full = time((t) => checkConfigText(t), 1000);
const parseOnly = time((t) => parseDocument(t), 1000);
console.log(`config: ${lines} lines, ${text.length} characters`);
console.log(`validate after a keystroke (YAML tree + schema): median ${full.toFixed(3)} ms`);
console.log(`yaml parseDocument alone:                      median ${parseOnly.toFixed(3)} ms`);
console.log(`ratio full / parse alone: ${(full / parseOnly).toFixed(2)}x`);
console.log(`ratio full / goal (${GOAL_MS} ms): ${(full / GOAL_MS).toFixed(3)} ${full < GOAL_MS ? '(goal met)' : '(goal missed)'}`);
