// Pushes of a REAL run (the trainer on a tiny random Qwen2.5-VL, CPU) to the local stand-in Hub
// on 127.0.0.1 (localHub.ts; the real Hub cannot be reached from here):
// - the trainer's own push (`hub.push_adapter`, for unattended runs) with HF_ENDPOINT pointed
//   at the stand-in: huggingface_hub's create_repo + upload_folder, the adapter by LFS;
// - the extension's push of the same run's final adapter with the generated model card, built
//   from the run's real events and config.
// The stand-in speaks Git LFS, not Xet's storage protocol, so the trainer gets
// HF_HUB_DISABLE_XET=1 (with hf_xet installed, huggingface_hub would otherwise go by Xet).

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import type { SpawnSyncReturns } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { modelFiles, pushToHub } from '../../src/core/hubPush';
import { mergeRun } from '../../src/core/mergeRun';
import { LOSS_CURVE_FILE, lossCurveSvg, modelCard, readConfigSnapshot, readRunHistory, runPushPlan } from '../../src/core/modelCard';
import { runPaths } from '../../src/core/runDir';
import { followRun, startLocalRun } from '../../src/launch/localLauncher';
import type { LocalHub } from './localHub';
import { startLocalHub } from './localHub';
import { repoRoot } from './testUtil';

const python = process.env.MEDVLM_PYTHON;
const TOKEN = 'hf_trainerPushTokenNeverInFiles';
const REPO = 'radiologist/demo-adapter';

describe('pushing a real run to the Hub', () => {
  let workspace = '';
  let hub: LocalHub;
  let runDir = '';

  before(async () => {
    assert.ok(python, 'MEDVLM_PYTHON must name the trainer environment (npm test sets it)');
    hub = await startLocalHub({ hfToken: TOKEN, user: 'radiologist', wandbKey: 'unused' });
    workspace = mkdtempSync(path.join(os.tmpdir(), 'medvlm-push-'));
    for (const args of [
      ['make-tiny-model', path.join(workspace, 'tiny-qwen2_5_vl'), '--family', 'qwen2_5_vl'],
      ['make-demo-data', path.join(workspace, 'demo-data')],
    ]) {
      const made: SpawnSyncReturns<string> = spawnSync(python as string, ['-m', 'medvlm_sft', ...args], { env: { ...process.env, PYTHONPATH: path.join(repoRoot, 'python', 'src') }, encoding: 'utf8' });
      assert.equal(made.status, 0, made.stderr);
    }
    const config = path.join(workspace, 'push.sft.yaml');
    const demo = readFileSync(path.join(repoRoot, 'python', 'configs', 'demo.sft.yaml'), 'utf8');
    writeFileSync(config, `${demo}\nhub:\n  repo_id: ${REPO}\n  push_adapter: true\n`);
    const started = await startLocalRun({
      pythonPath: python,
      extensionRoot: repoRoot,
      configPath: config,
      runsRoot: path.join(workspace, 'runs'),
      env: { ...process.env, HF_TOKEN: TOKEN, HF_ENDPOINT: hub.url, HF_HUB_DISABLE_XET: '1' },
    });
    runDir = started.runDir;
    const watch = followRun(runDir, () => undefined);
    const summary = await watch.whenTerminal();
    watch.dispose();
    assert.equal(summary.status, 'finished', readFileSync(runPaths(runDir).stdoutLog, 'utf8'));
  }, { timeout: 300_000 });
  after(async () => {
    await hub?.close();
    if (workspace) rmSync(workspace, { recursive: true, force: true });
  });

  const download = async (repoId: string, file: string): Promise<Buffer> => {
    const response = await fetch(`${hub.url}/${repoId}/resolve/main/${file}`, { headers: { Authorization: `Bearer ${TOKEN}` } });
    assert.equal(response.status, 200, `${file} downloads from ${repoId}`);
    return Buffer.from(await response.arrayBuffer());
  };

  it('the trainer pushes its final adapter (private, the weights by LFS); the files download back byte-equal', async () => {
    const repo = hub.repos.repos.get(REPO);
    assert.ok(repo, `the trainer created ${REPO}; the Hub saw ${JSON.stringify(hub.requests)}`);
    assert.equal(repo.private, true, 'hub.private defaults to true');
    const final = path.join(runDir, 'checkpoints', 'final');
    const local = readdirSync(final).sort();
    assert.ok(local.includes('adapter_model.safetensors') && local.includes('adapter_config.json'));
    assert.deepEqual([...repo.files.keys()].sort(), local, 'the final folder, file for file');
    for (const name of local) assert.ok((await download(REPO, name)).equals(readFileSync(path.join(final, name))), `${name} is byte-equal`);
    const weights = readFileSync(path.join(final, 'adapter_model.safetensors'));
    assert.equal(repo.files.get('adapter_model.safetensors')?.lfsOid, createHash('sha256').update(weights).digest('hex'), 'the adapter went by LFS');
    const events = readFileSync(runPaths(runDir).events, 'utf8');
    assert.match(events, new RegExp(`"pushed the adapter to ${hub.url.replace(/[.]/g, '\\.')}/${REPO}"`));
    for (const file of readdirSync(runDir, { recursive: true }) as string[]) {
      const full = path.join(runDir, file);
      if (statSync(full).isFile()) assert.ok(!readFileSync(full).includes(TOKEN), `no token in ${file}`);
    }
  });

  it('the extension pushes the same adapter with a model card drawn from the run', async () => {
    const history = await readRunHistory(runDir);
    const configText = await readConfigSnapshot(runDir);
    const card = modelCard({ history, kind: 'adapter', source: 'checkpoints/final', baseModelId: undefined, baseModel: 'tiny-qwen2_5_vl', configText });
    const svg = lossCurveSvg(history.trainLoss, history.evalLoss);
    const final = path.join(runDir, 'checkpoints', 'final');
    await pushToHub({
      hubUrl: hub.url,
      token: TOKEN,
      repoId: 'radiologist/demo-adapter-card',
      private: true,
      files: await modelFiles(final),
      extra: { 'README.md': card, [LOSS_CURVE_FILE]: svg },
      commitTitle: `MedVLM Studio: adapter of ${history.runId}`,
    });
    const pushed = (await download('radiologist/demo-adapter-card', 'README.md')).toString('utf8');
    assert.equal(pushed, card);
    // The card's numbers are the run's: every train loss point, the last and the lowest eval loss.
    const events = readFileSync(runPaths(runDir).events, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    const evalLosses = events.filter((e) => e.type === 'metrics' && e.split === 'eval').map((e) => e.loss as number);
    const trainSteps = events.filter((e) => e.type === 'metrics' && e.split === 'train').length;
    assert.equal(history.trainLoss.length, trainSteps);
    assert.ok(evalLosses.length >= 2, 'the demo evaluates twice');
    assert.match(card, /^---\nlibrary_name: peft\npipeline_tag: image-text-to-text\ntags:\n  - medvlm-studio/);
    assert.match(card, /the local model `tiny-qwen2_5_vl`/);
    assert.match(card, /\| demo \| demo-data\/records\.jsonl \| all \| 4 \|/);
    assert.match(card, new RegExp(`\\| Final eval \\| 8 \\| loss ${(evalLosses.at(-1) as number).toPrecision(4)}`));
    assert.match(card, new RegExp(`\\| Best eval \\(lowest loss\\) \\| \\d+ \\| loss ${Math.min(...evalLosses).toPrecision(4)}`));
    assert.match(card, /27 train and 4 validation samples/);
    assert.ok(card.includes(configText.trim()) && configText.includes('repo_id: radiologist/demo-adapter'), 'the config snapshot, as the trainer read it');
    assert.match(card, new RegExp(`!\\[Training and evaluation loss by step\\]\\(${LOSS_CURVE_FILE}\\)`));
    const image = (await download('radiologist/demo-adapter-card', LOSS_CURVE_FILE)).toString('utf8');
    const lines = [...image.matchAll(/<polyline [^>]*points="([^"]+)"/g)].map((m) => (m[1] ?? '').split(' ').length);
    assert.deepEqual(lines, [trainSteps, evalLosses.length], 'one vertex per logged loss, train then eval');
  });

  it('a merged model goes with a card of its own (library transformers), its weights by LFS', async () => {
    const merged = await mergeRun({ python: python as string, extensionRoot: repoRoot, runDir });
    assert.equal(merged.kind, 'merged', JSON.stringify(merged));
    const folder = path.join(runDir, 'merged');
    const plan = await runPushPlan(runDir, folder, 'merged', workspace);
    assert.match(plan.commitTitle, /^MedVLM Studio: merged model of run \S+ \(merged\)$/);
    assert.ok(plan.files.some((f) => f.path === 'model.safetensors'), JSON.stringify(plan.files.map((f) => f.path)));
    await pushToHub({ hubUrl: hub.url, token: TOKEN, repoId: 'radiologist/demo-merged', private: true, files: plan.files, extra: plan.extra, commitTitle: plan.commitTitle });
    const repo = hub.repos.repos.get('radiologist/demo-merged');
    assert.ok(repo);
    for (const file of plan.files) assert.ok((await download('radiologist/demo-merged', file.path)).equals(readFileSync(file.file)), `${file.path} is byte-equal`);
    assert.equal(repo.files.get('model.safetensors')?.lfsOid, createHash('sha256').update(readFileSync(path.join(folder, 'model.safetensors'))).digest('hex'));
    const card = (await download('radiologist/demo-merged', 'README.md')).toString('utf8');
    assert.match(card, /^---\nlibrary_name: transformers\n/);
    assert.match(card, /  - merged-lora\n/);
    assert.match(card, /\n\nThe local model `tiny-qwen2_5_vl` with a LoRA adapter merged into its weights/);
    assert.match(card, /Pushed from `merged` of run/);
  });
});

// A card drawn from a resumed run keeps the points the resume superseded out.
it('readRunHistory drops the points a resume superseded', async (t) => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'medvlm-card-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  mkdirSync(dir, { recursive: true });
  const line = (o: Record<string, unknown>) => JSON.stringify({ v: 1, t: 1, ...o });
  const started = (attempt: number, resume: number | null) => line({ type: 'run_started', run_id: 'r', trainer_version: '0.1.0', world_size: 1, config: { data: { sources: [] } }, attempt, resume_step: resume });
  const loss = (step: number, value: number, split = 'train') => line({ type: 'metrics', step, epoch: 0, split, loss: value });
  writeFileSync(
    path.join(dir, 'events.jsonl'),
    [started(1, null), loss(1, 5), loss(2, 4), loss(3, 3.5), loss(2, 4.2, 'eval'), started(2, 2), loss(3, 3.9), loss(4, 3.1), loss(4, 3.0, 'eval'), 'torn {'].join('\n') + '\n',
  );
  const history = await readRunHistory(dir);
  assert.deepEqual(history.trainLoss, [{ step: 1, loss: 5 }, { step: 2, loss: 4 }, { step: 3, loss: 3.9 }, { step: 4, loss: 3.1 }]);
  assert.deepEqual(history.evalLoss, [{ step: 2, loss: 4.2 }, { step: 4, loss: 3.0 }]);
  assert.equal(history.bestEval?.step, 4);
});
