// A run config's `model.base` as the trainer resolves it (python: train/setup.py
// resolve_model_path): a local folder, relative to the config file's folder (`~` is the home
// folder), when one exists; otherwise a Hugging Face Hub id.

import { readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { parse } from 'yaml';

/** The model folder `base` names, or undefined when there is none (then it is a Hub id). */
export async function localModelFolder(base: string, configDir: string): Promise<string | undefined> {
  const expanded = base.startsWith('~') ? path.join(process.env.HOME ?? '', base.slice(1)) : base;
  const candidate = path.resolve(configDir, expanded);
  try {
    return (await stat(candidate)).isDirectory() ? candidate : undefined;
  } catch {
    return undefined;
  }
}

/** `model.base` of a run config file; undefined when the file cannot be read or names none. */
export async function configModelBase(configFile: string): Promise<string | undefined> {
  try {
    const config = parse(await readFile(configFile, 'utf8')) as { model?: { base?: unknown } } | null;
    const base = config?.model?.base;
    return typeof base === 'string' && base.trim() !== '' ? base : undefined;
  } catch {
    return undefined;
  }
}
