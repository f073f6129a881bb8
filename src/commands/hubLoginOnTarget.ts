// "Set up Hugging Face login on target": writes the signed-in Hugging Face token as the user's
// own login on a remote target (the file huggingface_hub reads there, mode 0600). SLURM jobs
// need it: the controller stores a job's environment, so no token travels with the job (design:
// remote runs). "Start SFT run" offers it when a job on a cluster without a login would need one.

import * as vscode from 'vscode';
import { readFile } from 'node:fs/promises';
import { parse } from 'yaml';
import type { Accounts } from '../accounts/accounts';
import { hubLoginOnHost, writeHubLoginOnHost } from '../core/remote/hubLogin';
import { targetHost } from '../core/remote/targets';
import type { RemoteTarget } from '../core/remote/targets';
import { remoteTargets } from './checkTarget';
import { ensureTrusted, reportError } from './runGuards';

export function registerHubLoginOnTarget(accounts: Accounts, log: vscode.LogOutputChannel): vscode.Disposable {
  return vscode.commands.registerCommand('medvlm.setUpHubLoginOnTarget', async () => {
    try {
      if (!(await ensureTrusted('Set up Hugging Face login on target'))) return;
      const targets = await remoteTargets(log);
      if (targets.length === 0) {
        void vscode.window.showInformationMessage('MedVLM: no remote target: add a Host to ~/.ssh/config, or a target to the medvlm.remote.targets setting.');
        return;
      }
      // Clusters first: their jobs are the ones that need the login.
      const ordered = [...targets].sort((a, b) => Number(b.slurm !== undefined) - Number(a.slurm !== undefined));
      const picked = await vscode.window.showQuickPick(
        ordered.map((target) => ({ label: target.name, description: target.slurm !== undefined ? 'SLURM' : target.host, target })),
        { title: 'Set up Hugging Face login on target: the target whose runs use your login' },
      );
      if (picked !== undefined) await setUpHubLogin(accounts, log, picked.target);
    } catch (err) {
      await reportError(log, 'Set up Hugging Face login on target', err);
    }
  });
}

/** Writes the login on `target` after the user agrees; says whether the target has it now. */
export async function setUpHubLogin(accounts: Accounts, log: vscode.LogOutputChannel, target: RemoteTarget): Promise<boolean> {
  let token = await accounts.hfToken();
  if (token === undefined) {
    const signIn = 'Sign in to Hugging Face';
    if ((await vscode.window.showWarningMessage(`MedVLM: sign in to Hugging Face first: your token is what gets written on ${target.name}.`, signIn)) !== signIn) return false;
    await vscode.commands.executeCommand('medvlm.signInHuggingFace');
    token = await accounts.hfToken();
    if (token === undefined) return false;
  }
  const host = targetHost(target);
  const secret = token;
  const current = await vscode.window.withProgress({ location: vscode.ProgressLocation.Notification, title: `MedVLM: looking at ${target.name}` }, () => hubLoginOnHost(host, { token: secret }));
  if (current.state === 'same' && current.mode === '600') {
    void vscode.window.showInformationMessage(`MedVLM: ${target.name} already has your Hugging Face login (${current.file}).`);
    return true;
  }
  const write = current.state === 'other' ? 'Replace Login' : 'Write Login';
  const question =
    current.state === 'other'
      ? `${target.name} has another Hugging Face login in ${current.file}. Replace it with yours? Every job and program of yours there will use your token.`
      : `Write your Hugging Face token to ${current.file} on ${target.name}, readable only by you? Jobs there read it to download gated models and push to the Hub.`;
  if ((await vscode.window.showWarningMessage(`MedVLM: ${question}`, { modal: true }, write)) !== write) return false;
  const written = await writeHubLoginOnHost(host, secret);
  log.info(`wrote the Hugging Face login on ${target.name} (${written.file}, mode ${written.mode ?? '?'})`);
  void vscode.window.showInformationMessage(`MedVLM: ${target.name} now has your Hugging Face login (${written.file}, readable only by you).`);
  return true;
}

/** What a run config asks of the Hub: its base model and whether it pushes. */
async function hubNeeds(configPath: string): Promise<{ base?: string; pushes: boolean }> {
  try {
    const config = parse(await readFile(configPath, 'utf8')) as { model?: { base?: unknown }; hub?: Record<string, unknown> } | null;
    const base = typeof config?.model?.base === 'string' && config.model.base.trim() !== '' ? config.model.base : undefined;
    const hub = config?.hub ?? {};
    return { ...(base !== undefined ? { base } : {}), pushes: hub.push_adapter === true || hub.push_merged === true || hub.push_adapter_every_save === true };
  } catch {
    return { pushes: false };
  }
}

/**
 * Before a job goes to a cluster: when it would use the Hub (a base model that is no folder on
 * the host, or a push) and the cluster has no Hugging Face login, offer to set one up. Says
 * whether to go on; a host that cannot be asked is left to the start to report.
 */
export async function confirmClusterHubLogin(accounts: Accounts, log: vscode.LogOutputChannel, target: RemoteTarget, configPath: string): Promise<boolean> {
  const needs = await hubNeeds(configPath);
  let login;
  try {
    login = await hubLoginOnHost(targetHost(target), { workFolder: target.workFolder, ...(needs.base !== undefined ? { base: needs.base } : {}) });
  } catch (err) {
    log.warn(`could not look for a Hugging Face login on ${target.name}: ${err instanceof Error ? err.message : String(err)}`);
    return true;
  }
  const downloads = needs.base !== undefined && login.baseIsFolder === false;
  if (login.state !== 'missing' || (!downloads && !needs.pushes)) return true;
  const why = [downloads ? `download ${needs.base ?? ''} (gated models such as MedGemma need a login)` : '', needs.pushes ? 'push to the Hub' : ''].filter((s) => s !== '').join(' and ');
  const setUp = 'Set Up Login';
  const anyway = 'Start Anyway';
  const choice = await vscode.window.showWarningMessage(
    `MedVLM: ${target.name} has no Hugging Face login, and this job would ${why}. Jobs on a SLURM cluster read the login there (no token travels with them).`,
    setUp,
    anyway,
  );
  if (choice === setUp) return setUpHubLogin(accounts, log, target);
  return choice === anyway;
}
