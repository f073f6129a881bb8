// The demo workspace as `npm start` makes it (tiny random Qwen2.5-VL, synthetic MedVision
// data, python/configs/demo.sft.yaml), made fresh by the trainer of this checkout, plus a
// file that is not a run config.

import { execFile } from 'node:child_process';
import { copyFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { repoRoot } from '../../unit/testUtil';
import { trainerPython } from './session';

const run = promisify(execFile);

export const DEMO_CONFIG = 'demo.sft.yaml';
export const PLAIN_FILE = 'notes.md';

export async function makeDemoWorkspace(dir: string): Promise<void> {
  const python = trainerPython();
  const env = { ...process.env, PYTHONPATH: path.join(repoRoot, 'python', 'src') };
  const trainer = async (args: string[]): Promise<void> => {
    try {
      await run(python, ['-m', 'medvlm_sft', ...args], { env, maxBuffer: 16 * 1024 * 1024 });
    } catch (err) {
      const { stderr } = err as { stderr?: string };
      throw new Error(`e2e: medvlm_sft ${args.join(' ')} failed:\n${stderr ?? String(err)}`);
    }
  };
  await Promise.all([
    trainer(['make-tiny-model', path.join(dir, 'tiny-qwen2_5_vl'), '--family', 'qwen2_5_vl']),
    trainer(['make-demo-data', path.join(dir, 'demo-data')]),
  ]);
  copyFileSync(path.join(repoRoot, 'python', 'configs', DEMO_CONFIG), path.join(dir, DEMO_CONFIG));
  writeFileSync(path.join(dir, PLAIN_FILE), '# Notes\n\nNot a run config: opening this file must not activate MedVLM.\n');
}
