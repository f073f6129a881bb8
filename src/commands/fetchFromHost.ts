// "Fetch from host": copies a remote run's checkpoints or merged model into its folder here,
// picked from what the host has, with a cancellable progress bar. Its logs and events are
// mirrored already; fetched adapters then show in the Runs view and can be pushed to the Hub.

import * as vscode from 'vscode';
import { fetchFromHost, listHostArtifacts } from '../core/remote/fetchFromHost';
import type { HostArtifact } from '../core/remote/fetchFromHost';
import { sshHostOf } from '../launch/sshLauncher';
import type { RunRegistry } from '../runs/runRegistry';
import { formatBytes } from '../shared/format';
import { pickRun } from './pickRun';
import { ensureTrusted, reportError } from './runGuards';

export function registerFetchFromHost(registry: RunRegistry, log: vscode.LogOutputChannel): vscode.Disposable {
  return vscode.commands.registerCommand('medvlm.fetchFromHost', async (arg?: unknown) => {
    try {
      await fetch(registry, log, arg);
    } catch (err) {
      await reportError(log, 'Fetch from host', err);
    }
  });
}

async function fetch(registry: RunRegistry, log: vscode.LogOutputChannel, arg: unknown): Promise<void> {
  // It runs commands on the host that a run folder names.
  if (!(await ensureTrusted('Fetch from host'))) return;
  const record = await pickRun(registry, arg, {
    filter: (r) => r.info?.target.kind === 'ssh',
    prompt: 'Remote run whose checkpoints or merged model to fetch',
    none: 'no run ran on a remote target.',
  });
  if (record === undefined) return;
  const target = record.info?.target;
  if (target?.kind !== 'ssh') {
    void vscode.window.showInformationMessage(`MedVLM: ${record.runId} ran on this machine; its files are here already.`);
    return;
  }
  const host = sshHostOf(target);
  const available = await vscode.window.withProgress(
    { location: vscode.ProgressLocation.Window, title: `Listing ${record.runId} on ${target.name}` },
    () => listHostArtifacts(host, target.run_dir),
  );
  if (available.length === 0) {
    void vscode.window.showInformationMessage(`MedVLM: ${record.runId} has no checkpoint or merged model on ${target.name} (yet).`);
    return;
  }
  const describe = (a: HostArtifact): string => (a.path === 'checkpoints/final' ? 'the adapter at the end of training' : a.path.startsWith('merged') ? 'merged model' : 'checkpoint');
  const picked = await vscode.window.showQuickPick(
    available.map((artifact) => ({
      label: artifact.path,
      description: `${describe(artifact)} · ${formatBytes(artifact.bytes)}`,
      picked: artifact.path === 'checkpoints/final',
      artifact,
    })),
    { canPickMany: true, title: `Fetch from ${target.name} into ${record.runId}` },
  );
  if (picked === undefined || picked.length === 0) return;
  const artifacts = picked.map((p) => p.artifact);
  await vscode.window.withProgress(
    { location: vscode.ProgressLocation.Notification, title: `MedVLM: fetching ${record.runId} from ${target.name}`, cancellable: true },
    async (progress, cancel) => {
      const abort = new AbortController();
      cancel.onCancellationRequested(() => abort.abort());
      let shown = 0;
      await fetchFromHost({
        host,
        remoteDir: target.run_dir,
        localDir: record.runDir,
        artifacts,
        signal: abort.signal,
        onProgress: (received, total) => {
          const percent = total > 0 ? Math.min(100, (received / total) * 100) : 0;
          progress.report({ increment: percent - shown, message: `${formatBytes(received)} of ${formatBytes(total)}` });
          shown = percent;
        },
      });
    },
  );
  log.info(`fetched ${artifacts.map((a) => a.path).join(', ')} of ${record.runId} from ${target.name}`);
  await registry.rescanArtifacts(record.runId);
  void vscode.window.showInformationMessage(`MedVLM: fetched ${artifacts.map((a) => a.path).join(', ')} of ${record.runId} from ${target.name}.`);
}
