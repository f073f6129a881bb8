// "Check target": pick a remote target (the `medvlm.remote.targets` setting and the hosts of
// ~/.ssh/config) and report what it offers a run: Python, GPUs and CUDA, free disk in its work
// folder, SLURM. The report goes to the MedVLM log and a notification; a connection that
// fails says how (key refused, unknown or changed host key, unreachable).

import * as vscode from 'vscode';
import { checkTarget, describeReport, gpuFactsOf } from '../core/remote/targetCheck';
import { SshError } from '../core/remote/ssh';
import { sshConfigHosts } from '../core/remote/sshConfig';
import { readTargets, targetHost } from '../core/remote/targets';
import type { RemoteTarget } from '../core/remote/targets';
import type { TargetFacts } from '../runs/targetFacts';
import { ensureTrusted, reportError } from './runGuards';

export async function remoteTargets(log: vscode.LogOutputChannel): Promise<RemoteTarget[]> {
  const setting = vscode.workspace.getConfiguration('medvlm').get<unknown>('remote.targets');
  const { targets, problems } = readTargets(setting, await sshConfigHosts());
  for (const problem of problems) log.warn(problem);
  return [...targets];
}

export function registerCheckTarget(log: vscode.LogOutputChannel, facts: TargetFacts): vscode.Disposable {
  return vscode.commands.registerCommand('medvlm.checkTarget', async () => {
    try {
      await check(log, facts);
    } catch (err) {
      await reportError(log, 'Check target', err);
    }
  });
}

async function check(log: vscode.LogOutputChannel, facts: TargetFacts): Promise<void> {
  // It runs a probe script on the host.
  if (!(await ensureTrusted('Check target'))) return;
  const targets = await remoteTargets(log);
  if (targets.length === 0) {
    const open = 'Open Settings';
    if ((await vscode.window.showInformationMessage('MedVLM: no remote target: add a Host to ~/.ssh/config, or a target to the medvlm.remote.targets setting.', open)) === open) {
      await vscode.commands.executeCommand('workbench.action.openSettings', 'medvlm.remote.targets');
    }
    return;
  }
  const picked = await vscode.window.showQuickPick(
    targets.map((target) => ({
      label: target.name,
      description: target.host === target.name ? target.workFolder : `${target.host}:${target.workFolder}`,
      detail: target.source === 'settings' ? 'from the medvlm.remote.targets setting' : 'from your ssh config',
      target,
    })),
    { placeHolder: 'Remote target to check' },
  );
  if (picked === undefined) return;
  const { target } = picked;
  const outcome = await vscode.window.withProgress(
    { location: vscode.ProgressLocation.Notification, title: `MedVLM: checking ${target.name}`, cancellable: true },
    async (_progress, cancel) => {
      const abort = new AbortController();
      cancel.onCancellationRequested(() => abort.abort());
      try {
        return await checkTarget(targetHost(target), target.workFolder, abort.signal);
      } catch (err) {
        if (err instanceof SshError) return err;
        throw err;
      }
    },
  );
  if (outcome instanceof SshError) {
    log.error(`check target ${target.name}: ${outcome.message}`);
    void vscode.window.showErrorMessage(`MedVLM: ${outcome.message}`);
    return;
  }
  await facts.record(target.host, gpuFactsOf(outcome));
  const lines = describeReport(target.host, target.workFolder, outcome);
  log.info(`check target ${target.name}:\n  ${lines.join('\n  ')}`);
  const details = 'Show details';
  const problem = outcome.python === undefined || outcome.workProblem !== undefined;
  const gpus = outcome.gpus.length > 0 ? `${outcome.gpus.length} GPU${outcome.gpus.length === 1 ? '' : 's'} (${outcome.gpus[0]?.name ?? ''})` : 'no GPU';
  const summary = `${target.name}: ${outcome.python !== undefined ? `Python ${outcome.python}` : 'no Python'}, ${gpus}${outcome.cuda !== undefined ? `, CUDA ${outcome.cuda}` : ''}${outcome.slurm ? ', SLURM' : ''}`;
  const show = problem ? vscode.window.showWarningMessage : vscode.window.showInformationMessage;
  if ((await show(`MedVLM: ${problem ? `${lines[0] ?? ''}; ` : ''}${summary}`, details)) === details) log.show(true);
}
