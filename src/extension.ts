// Activation builds the services and registers commands and views; nothing here waits on
// the disk or a process. Runs are detached, so deactivation leaves them running.

import * as vscode from 'vscode';
import { Accounts, hubUrl, registerAccountCommands } from './accounts/accounts';
import { registerCheckDataset } from './commands/checkDataset';
import { registerCompareRuns } from './commands/compareRuns';
import { registerDeleteRun } from './commands/deleteRun';
import { registerFetchFromHost } from './commands/fetchFromHost';
import { registerMergeRun } from './commands/mergeRun';
import { registerPushToHub } from './commands/pushToHub';
import { registerPickBaseModel } from './commands/pickBaseModel';
import { registerCheckTarget } from './commands/checkTarget';
import { registerHubLoginOnTarget } from './commands/hubLoginOnTarget';
import { registerOpenConfigEditor } from './commands/openConfigEditor';
import { registerOpenRunLog } from './commands/openRunLog';
import { registerOpenRunPanel, showRunPanel } from './commands/openRunPanel';
import { registerOpenWandbRun } from './commands/openWandbRun';
import { registerPreviewSamples } from './commands/previewSamples';
import { registerRefreshRuns } from './commands/refreshRuns';
import { registerRestartRun } from './commands/restartRun';
import { registerResumeRun } from './commands/resumeRun';
import { registerRevealRunFolder } from './commands/revealRunFolder';
import { registerStartRun } from './commands/startRun';
import { registerStopRun } from './commands/stopRun';
import { ConfigLanguageService } from './language/configLanguage';
import { PythonEnvironment } from './python/pythonEnv';
import { notifyRunEnds } from './runs/runNotifications';
import { isRunPanelVisible } from './runs/runPanelVisibility';
import { RemoteMirrors } from './runs/remoteMirrors';
import { TargetFacts } from './runs/targetFacts';
import { RunRegistry } from './runs/runRegistry';
import { runsRoot } from './settings';
import { showActiveRunsStatus } from './views/activeRunsStatusBar';
import { RunsTreeProvider } from './views/runsTreeProvider';
import { ConfigEditorProvider } from './webviews/configEditor';
import { ModelShapeCache } from './core/modelShapeCache';
import { NiftiViewerProvider } from './webviews/niftiViewer';

export function activate(context: vscode.ExtensionContext): void {
  const log = vscode.window.createOutputChannel('MedVLM', { log: true });
  const accounts = new Accounts(context.secrets);
  const registry = new RunRegistry(runsRoot, log);
  const python = new PythonEnvironment(
    context.extensionUri.fsPath,
    vscode.Uri.joinPath(context.globalStorageUri, 'envs').fsPath,
    log,
  );
  const configLanguage = new ConfigLanguageService({ extensionUri: context.extensionUri, python, log });
  const targetFacts = new TargetFacts(context.globalState);
  const tree = new RunsTreeProvider(registry, targetFacts);
  const mirrors = new RemoteMirrors(registry, log);
  const openPanel = (runId: string): void => showRunPanel(context.extensionUri, registry, log, runId);
  const shapesLoaded = new vscode.EventEmitter<void>();
  const modelShapes = new ModelShapeCache({ hubUrl, token: () => accounts.hfToken(), onLoaded: () => shapesLoaded.fire() });
  const configEditor = ConfigEditorProvider.register({
    extensionUri: context.extensionUri,
    language: configLanguage,
    log: (line) => log.warn(line),
    modelShapes: { lookup: (dir) => modelShapes.lookup(dir), onDidLoad: shapesLoaded.event },
  });

  context.subscriptions.push(
    log,
    registry,
    mirrors,
    configLanguage,
    targetFacts,
    tree,
    vscode.window.createTreeView('medvlm.runs', { treeDataProvider: tree, showCollapseAll: true, canSelectMany: true }),
    showActiveRunsStatus(registry),
    registerStartRun({ extensionUri: context.extensionUri, python, registry, mirrors, configLanguage, log, openPanel, accounts, targetFacts }),
    registerStopRun(registry),
    registerOpenRunPanel(context.extensionUri, registry, log),
    registerRefreshRuns(registry),
    registerRevealRunFolder(registry),
    registerOpenRunLog(registry),
    registerOpenWandbRun(registry),
    registerResumeRun({ extensionUri: context.extensionUri, python, registry, mirrors, log, openPanel, accounts }),
    registerAccountCommands(accounts),
    registerRestartRun(registry, log),
    registerMergeRun({ extensionUri: context.extensionUri, python, registry, log, accounts }),
    registerPushToHub({ registry, accounts, log, state: context.workspaceState }),
    registerPickBaseModel(accounts, context.globalState, log),
    registerCheckTarget(log, targetFacts),
    registerHubLoginOnTarget(accounts, log),
    registerFetchFromHost(registry, log),
    registerDeleteRun(registry, log),
    registerCompareRuns(context.extensionUri, registry, log),
    notifyRunEnds(registry, {
      openPanel,
      openLog: (runId) => void vscode.commands.executeCommand('medvlm.openRunLog', runId),
      isPanelVisible: (runId) => registry.isFollowed(runId) && isRunPanelVisible(runId),
    }),
    configEditor.disposable,
    shapesLoaded,
    { dispose: () => modelShapes.dispose() },
    registerOpenConfigEditor(configEditor.provider),
    registerPreviewSamples({ extensionUri: context.extensionUri, python, log }),
    registerCheckDataset({ extensionUri: context.extensionUri, python }),
    NiftiViewerProvider.register(context.extensionUri, (line) => log.warn(line)),
    vscode.workspace.onDidChangeConfiguration((event) => {
      if (event.affectsConfiguration('medvlm.pythonPath')) {
        python.invalidate();
      }
      if (event.affectsConfiguration('medvlm.runsRoot')) {
        void registry.refresh();
      }
    }),
    vscode.workspace.onDidChangeWorkspaceFolders(() => void registry.refresh()),
    // Remote runs are followed only in a trusted workspace (run folders are workspace content).
    vscode.workspace.onDidGrantWorkspaceTrust(() => void mirrors.sync()),
  );
  void registry.refresh();
}

export function deactivate(): void {
  // Runs are detached from the editor on purpose; there is nothing to stop.
}
