// "Start SFT run": pick and save the config, make sure the trainer's environment exists,
// validate with the trainer itself (so the editor and the CLI never disagree), then start
// the run detached and show it.

import path from 'node:path';
import * as vscode from 'vscode';
import type { Accounts } from '../accounts/accounts';
import { confirmModelAccess } from '../accounts/accounts';
import { describeProblem } from '../core/validation';
import type { ConfigLanguageService } from '../language/configLanguage';
import { startLocalRun } from '../launch/localLauncher';
import type { PythonEnvironment } from '../python/pythonEnv';
import { validateConfig } from '../python/trainerCli';
import type { RunRegistry } from '../runs/runRegistry';
import { runsRoot } from '../settings';

const CONFIG_SUFFIX = '.sft.yaml';

export interface StartRunDeps {
  readonly extensionUri: vscode.Uri;
  readonly python: PythonEnvironment;
  readonly registry: RunRegistry;
  /** Shows the trainer's report on the config, like its own checks while editing. */
  readonly configLanguage: ConfigLanguageService;
  readonly log: vscode.LogOutputChannel;
  readonly openPanel: (runId: string) => void;
  /** The kept Hugging Face and W&B tokens, handed to the run in its environment. */
  readonly accounts: Accounts;
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

  const result = await vscode.window.withProgress(
    { location: vscode.ProgressLocation.Window, title: `Validating ${path.basename(config.fsPath)}` },
    () => validateConfig({ python, extensionRoot, configPath: config.fsPath, checkData: true }),
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

  if (!(await confirmModelAccess(config.fsPath, deps.accounts, (line) => deps.log.info(line)))) {
    return;
  }
  const started = await startLocalRun({ pythonPath: python, extensionRoot, configPath: config.fsPath, runsRoot: root, env: await deps.accounts.runEnvironment() });
  deps.log.info(`started ${started.runId} (pid ${started.pid}) in ${started.runDir}`);
  await deps.registry.refresh();
  deps.openPanel(started.runId);
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
