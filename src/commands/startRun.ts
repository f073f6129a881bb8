// "Start SFT run": pick and save the config, make sure the trainer's environment exists,
// validate with the trainer itself (so the editor and the CLI never disagree), then start
// the run detached and show it.

import { readFile } from 'node:fs/promises';
import path from 'node:path';
import * as vscode from 'vscode';
import type { Accounts } from '../accounts/accounts';
import { confirmModelAccess } from '../accounts/accounts';
import { checkTarget, gpuFactsOf } from '../core/remote/targetCheck';
import type { RemoteTarget } from '../core/remote/targets';
import { targetHost } from '../core/remote/targets';
import { readLaunchOptions } from '../core/trainerCommand';
import { describeProblem } from '../core/validation';
import type { ConfigLanguageService } from '../language/configLanguage';
import { startLocalRun } from '../launch/localLauncher';
import { startSshRun } from '../launch/sshLauncher';
import type { PythonEnvironment } from '../python/pythonEnv';
import { validateConfig } from '../python/trainerCli';
import type { RemoteMirrors } from '../runs/remoteMirrors';
import type { RunRegistry } from '../runs/runRegistry';
import type { TargetFacts } from '../runs/targetFacts';
import { runsRoot } from '../settings';
import { remoteTargets } from './checkTarget';
import { confirmClusterHubLogin } from './hubLoginOnTarget';

const CONFIG_SUFFIX = '.sft.yaml';

export interface StartRunDeps {
  readonly extensionUri: vscode.Uri;
  readonly python: PythonEnvironment;
  readonly registry: RunRegistry;
  /** Follows runs on remote targets. */
  readonly mirrors: RemoteMirrors;
  /** Shows the trainer's report on the config, like its own checks while editing. */
  readonly configLanguage: ConfigLanguageService;
  readonly log: vscode.LogOutputChannel;
  readonly openPanel: (runId: string) => void;
  /** The kept Hugging Face and W&B tokens, handed to the run in its environment. */
  readonly accounts: Accounts;
  /** The GPUs of remote hosts, for the Runs view: looked at again after a start there. */
  readonly targetFacts: TargetFacts;
}

export function registerStartRun(deps: StartRunDeps): vscode.Disposable {
  return vscode.commands.registerCommand('medvlm.startRun', async (arg?: unknown) => {
    try {
      await startRun(deps, arg);
    } catch (err) {
      const message = err instanceof Error ? err.message : String(err);
      deps.log.error(`Start SFT run: ${message}`);
      const choice = await vscode.window.showErrorMessage(`MedVLM: ${message}`, 'Show output');
      if (choice === 'Show output') {
        deps.log.show(true);
      }
    }
  });
}

async function startRun(deps: StartRunDeps, arg: unknown): Promise<void> {
  if (!vscode.workspace.isTrusted) {
    const choice = await vscode.window.showWarningMessage(
      'MedVLM: Start SFT run is disabled in an untrusted workspace, because it runs Python code and reads the files its run config names. Trust the workspace to start runs.',
      'Manage Workspace Trust',
    );
    if (choice) {
      await vscode.commands.executeCommand('workbench.trust.manage');
    }
    return;
  }
  const config = await pickConfig(arg);
  if (!config) {
    return;
  }
  const open = vscode.workspace.textDocuments.find((doc) => doc.uri.toString() === config.toString());
  if (open?.isDirty && !(await open.save())) {
    throw new Error(`could not save ${path.basename(config.fsPath)}; the run would not see the unsaved changes.`);
  }
  const root = runsRoot() ?? path.join(path.dirname(config.fsPath), '.medvlm', 'runs');
  const python = await deps.python.resolve();
  const extensionRoot = deps.extensionUri.fsPath;

  const launch = readLaunchOptions(await readFile(config.fsPath, 'utf8'));
  const remote = launch.target === 'local' ? undefined : await findTarget(launch.target, deps.log);
  if (remote === null) {
    return;
  }
  // A run for a remote target names files on that host: the trainer checks them there when it
  // starts; here the config itself is checked.
  const result = await vscode.window.withProgress(
    { location: vscode.ProgressLocation.Window, title: `Validating ${path.basename(config.fsPath)}` },
    () => validateConfig({ python, extensionRoot, configPath: config.fsPath, checkData: remote === undefined }),
  );
  if (result.kind === 'unreadable') {
    throw new Error(result.message);
  }
  deps.configLanguage.acceptTrainerReport(await vscode.workspace.openTextDocument(config), result);
  const errors = result.problems.filter((p) => p.severity === 'error');
  const warnings = result.problems.filter((p) => p.severity === 'warning');
  if (errors.length > 0) {
    const first = errors[0];
    const more = errors.length > 1 ? ` (and ${errors.length - 1} more)` : '';
    const choice = await vscode.window.showErrorMessage(
      `MedVLM: the run config has errors, so the run was not started: ${first ? describeProblem(first) : ''}${more}`,
      'Show Problems',
    );
    if (choice) {
      await vscode.commands.executeCommand('workbench.actions.view.problems');
    }
    return;
  }
  if (warnings.length > 0) {
    const first = warnings[0];
    void vscode.window.showWarningMessage(`MedVLM: starting despite ${warnings.length} warning(s): ${first ? describeProblem(first) : ''}`);
  }

  if (remote !== undefined) {
    // No Hub access check here: model.base may be a folder on the host that only looks like a
    // Hub id from this machine; the trainer there says when the Hub refuses the download.
    await startOnTarget(deps, remote, config.fsPath, extensionRoot, root);
    return;
  }
  if (!(await confirmModelAccess(config.fsPath, deps.accounts, (line) => deps.log.info(line)))) {
    return;
  }
  const started = await startLocalRun({ pythonPath: python, extensionRoot, configPath: config.fsPath, runsRoot: root, env: await deps.accounts.runEnvironment() });
  deps.log.info(`started ${started.runId} (pid ${started.pid}) in ${started.runDir}`);
  await deps.registry.refresh();
  deps.openPanel(started.runId);
}

/** The target a config's `launch.target` names; null (after saying so) when there is none. */
async function findTarget(name: string, log: vscode.LogOutputChannel): Promise<RemoteTarget | null> {
  const targets = await remoteTargets(log);
  const target = targets.find((t) => t.name === name);
  if (target !== undefined) {
    return target;
  }
  const known = targets.length > 0 ? `Known targets: ${targets.map((t) => t.name).join(', ')}.` : 'No target is defined.';
  const open = 'Open Settings';
  const choice = await vscode.window.showErrorMessage(
    `MedVLM: the run config's launch.target is "${name}", which is not a remote target. ${known} Add it to the medvlm.remote.targets setting or as a Host in ~/.ssh/config, or set launch.target to local.`,
    open,
  );
  if (choice === open) {
    await vscode.commands.executeCommand('workbench.action.openSettings', 'medvlm.remote.targets');
  }
  return null;
}

/**
 * Starts the run on a remote target: trainer sync, environment and launch with their progress
 * in a cancellable notification, tokens over ssh's stdin. The run then shows up like a local
 * one, its mirror following it here.
 */
async function startOnTarget(deps: StartRunDeps, target: RemoteTarget, configPath: string, extensionRoot: string, root: string): Promise<void> {
  // On SLURM the job's environment is stored by the controller: no token travels, and the job
  // uses the Hugging Face login on the cluster.
  if (target.slurm !== undefined && !(await confirmClusterHubLogin(deps.accounts, deps.log, target, configPath))) return;
  const env = target.slurm === undefined ? await deps.accounts.runEnvironment({}) : {};
  const secrets = Object.fromEntries(Object.entries(env).filter((entry): entry is [string, string] => entry[1] !== undefined));
  const started = await vscode.window.withProgress(
    { location: vscode.ProgressLocation.Notification, title: `MedVLM: starting on ${target.name}`, cancellable: true },
    async (progress, cancel) => {
      const abort = new AbortController();
      cancel.onCancellationRequested(() => abort.abort());
      return startSshRun({
        target,
        extensionRoot,
        configPath,
        runsRoot: root,
        secrets,
        signal: abort.signal,
        onProgress: (message) => {
          deps.log.info(`${target.name}: ${message}`);
          progress.report({ message });
        },
      });
    },
  );
  deps.log.info(`started ${started.runId} on ${target.name} (${started.jobId !== undefined ? `SLURM job ${started.jobId}` : `pid ${String(started.pid)}`} in ${started.remoteDir})`);
  await deps.registry.refresh();
  await deps.mirrors.sync();
  deps.openPanel(started.runId);
  // The connection is up: see the host's GPUs for its group in the Runs view, in the background.
  void checkTarget(targetHost(target), target.workFolder).then(
    (report) => deps.targetFacts.record(target.host, gpuFactsOf(report)),
    (err: unknown) => deps.log.warn(`could not look at the GPUs of ${target.name}: ${err instanceof Error ? err.message : String(err)}`),
  );
}

async function pickConfig(arg: unknown): Promise<vscode.Uri | undefined> {
  if (arg instanceof vscode.Uri && arg.fsPath.endsWith(CONFIG_SUFFIX)) {
    return arg;
  }
  const active = vscode.window.activeTextEditor?.document;
  if (active && active.uri.scheme === 'file' && active.fileName.endsWith(CONFIG_SUFFIX)) {
    return active.uri;
  }
  const files = await vscode.workspace.findFiles(`**/*${CONFIG_SUFFIX}`, '**/{node_modules,.medvlm}/**', 500);
  if (files.length === 0) {
    void vscode.window.showErrorMessage(`MedVLM: there is no *${CONFIG_SUFFIX} run config in this workspace.`);
    return undefined;
  }
  if (files.length === 1) {
    return files[0];
  }
  const picked = await vscode.window.showQuickPick(
    files
      .map((uri) => ({ label: path.basename(uri.fsPath), description: vscode.workspace.asRelativePath(uri), uri }))
      .sort((a, b) => a.description.localeCompare(b.description)),
    { placeHolder: 'Run config to start' },
  );
  return picked?.uri;
}
