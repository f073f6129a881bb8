// "Push adapter to Hub" and "Push merged model to Hub": a checkpoint's LoRA adapter, or a merged
// model, of an ended run goes to a Hub repository (private unless the user picks public) with a
// model card drawn from the run. Progress in a cancellable notification; a failed push offers
// "Retry", which sends only what the Hub does not have yet (see core/hubPush.ts).

import path from 'node:path';
import * as vscode from 'vscode';
import type { Accounts } from '../accounts/accounts';
import { hubUrl } from '../accounts/accounts';
import { checkHubToken } from '../core/accounts';
import { PushError, pushToHub, repoIdProblem } from '../core/hubPush';
import { formatBytes } from '../shared/format';
import type { PushProgress } from '../core/hubPush';
import { runPushPlan } from '../core/modelCard';
import type { PushKind } from '../core/modelCard';
import type { CheckpointArtifact } from '../core/runArtifacts';
import { hasAdapter } from '../core/runArtifacts';
import { isActiveStatus } from '../core/runExplorer';
import type { RunRecord, RunRegistry } from '../runs/runRegistry';
import { pickRun } from './pickRun';
import { ensureTrusted, reportError } from './runGuards';

export interface PushToHubDeps {
  readonly registry: RunRegistry;
  readonly accounts: Accounts;
  readonly log: vscode.LogOutputChannel;
  /** Remembers the repository each run's adapter / merged model went to, as the next default. */
  readonly state: vscode.Memento;
}

const TITLES: Record<PushKind, string> = { adapter: 'Push adapter to Hub', merged: 'Push merged model to Hub' };

export function registerPushToHub(deps: PushToHubDeps): vscode.Disposable {
  const register = (command: string, kind: PushKind): vscode.Disposable =>
    vscode.commands.registerCommand(command, async (arg?: unknown) => {
      try {
        await push(deps, kind, arg);
      } catch (err) {
        await reportError(deps.log, TITLES[kind], err);
      }
    });
  return vscode.Disposable.from(register('medvlm.pushAdapterToHub', 'adapter'), register('medvlm.pushMergedToHub', 'merged'));
}

/** The folder a Runs view node names: a checkpoint node's, or a merged model node's. */
function folderOfArgument(arg: unknown): string | undefined {
  if (typeof arg !== 'object' || arg === null) return undefined;
  const node = arg as { kind?: unknown; checkpoint?: { path?: unknown }; path?: unknown };
  if (node.kind === 'checkpoint' && typeof node.checkpoint?.path === 'string') return node.checkpoint.path;
  if (node.kind === 'merged' && typeof node.path === 'string') return node.path;
  return undefined;
}

async function push(deps: PushToHubDeps, kind: PushKind, arg: unknown): Promise<void> {
  if (!(await ensureTrusted(TITLES[kind]))) return;
  const has = (r: RunRecord): boolean => (kind === 'adapter' ? hasAdapter(r.artifacts) : r.artifacts.merged.length > 0);
  const record = await pickRun(deps.registry, arg, {
    filter: (r) => !isActiveStatus(r.summary.status) && has(r),
    prompt: kind === 'adapter' ? 'Run whose LoRA adapter to push to the Hugging Face Hub' : 'Run whose merged model to push to the Hugging Face Hub',
    none: kind === 'adapter' ? 'no ended run has a LoRA adapter to push.' : 'no ended run has a merged model to push (merge one first with "Merge LoRA").',
  });
  if (record === undefined) return;
  if (!has(record)) {
    const target = record.info?.target;
    const what = kind === 'adapter' ? 'LoRA adapter' : 'merged model';
    void vscode.window.showErrorMessage(
      target?.kind === 'ssh'
        ? `MedVLM: ${record.runId} has no ${what} on this machine yet: it ran on ${target.name}; fetch it first with "Fetch checkpoints from host".`
        : `MedVLM: ${record.runId} has no ${what} to push.`,
    );
    return;
  }
  if (isActiveStatus(record.summary.status)) {
    void vscode.window.showErrorMessage(`MedVLM: run ${record.runId} is still going; push once it has ended (its checkpoints may still be rotated away).`);
    return;
  }
  const folder = folderOfArgument(arg) ?? (await pickFolder(record, kind));
  if (folder === undefined) return;

  const token = await deps.accounts.hfToken();
  if (token === undefined) {
    const signIn = 'Sign in to Hugging Face';
    if ((await vscode.window.showErrorMessage(`MedVLM: sign in to Hugging Face (with a token that has write access) to push ${record.runId}.`, signIn)) === signIn) {
      await vscode.commands.executeCommand('medvlm.signInHuggingFace');
    }
    return;
  }
  const remembered = deps.state.get<string>(`medvlm.push.${kind}.${record.runId}`);
  let owner: string | undefined;
  if (remembered === undefined) {
    try {
      owner = (await checkHubToken(token, hubUrl())).name;
    } catch (err) {
      deps.log.warn(`${TITLES[kind]}: could not ask the Hub whose token this is: ${err instanceof Error ? err.message : String(err)}`);
    }
  }
  const suggested = remembered ?? `${owner ?? 'your-name'}/${record.runId}${kind === 'merged' ? '-merged' : ''}`.replace(/[^A-Za-z0-9._/-]/g, '-');
  const repoId = await vscode.window.showInputBox({
    title: `${TITLES[kind]}: ${record.runId}`,
    prompt: `Repository on ${hubUrl()} (owner/name). It is created if it does not exist.`,
    value: suggested,
    valueSelection: [suggested.indexOf('/') + 1, suggested.length],
    validateInput: (value) => {
      const problem = repoIdProblem(value.trim());
      return problem === undefined ? undefined : problem;
    },
    ignoreFocusOut: true,
  });
  if (repoId === undefined) return;
  const visibility = await vscode.window.showQuickPick(
    [
      { label: 'Private', description: 'only you and your organisation (recommended for models trained on patient data)', private: true },
      { label: 'Public', description: 'anyone can download it', private: false },
    ],
    { title: `Visibility of ${repoId.trim()} (when it is created)`, ignoreFocusOut: true },
  );
  if (visibility === undefined) return;
  await deps.state.update(`medvlm.push.${kind}.${record.runId}`, repoId.trim());
  await pushWithRetry(deps, { record, kind, folder, repoId: repoId.trim(), isPrivate: visibility.private, token });
}

async function pickFolder(record: RunRecord, kind: PushKind): Promise<string | undefined> {
  if (kind === 'merged') {
    const merged = record.artifacts.merged;
    if (merged.length === 1) return merged[0];
    const picked = await vscode.window.showQuickPick(
      merged.map((m) => ({ label: path.relative(record.runDir, m), folder: m })),
      { placeHolder: `Merged model of ${record.runId} to push` },
    );
    return picked?.folder;
  }
  // The final adapter first, then checkpoints newest first.
  const adapters = record.artifacts.checkpoints.filter((c) => c.adapter);
  const ordered = [...adapters.filter((c) => c.name === 'final'), ...adapters.filter((c) => c.name !== 'final').reverse()];
  if (ordered.length === 1) return ordered[0]?.path;
  const describe = (c: CheckpointArtifact): string => (c.name === 'final' ? 'the adapter at the end of training' : c.step !== undefined ? `step ${c.step}` : '');
  const picked = await vscode.window.showQuickPick(
    ordered.map((c) => ({ label: c.name, description: describe(c), folder: c.path })),
    { placeHolder: `Checkpoint of ${record.runId} whose adapter to push` },
  );
  return picked?.folder;
}

interface PushRequest {
  readonly record: RunRecord;
  readonly kind: PushKind;
  readonly folder: string;
  readonly repoId: string;
  readonly isPrivate: boolean;
  readonly token: string;
}

async function pushWithRetry(deps: PushToHubDeps, request: PushRequest): Promise<void> {
  const { log } = deps;
  const { record, kind, repoId } = request;
  const plan = await runPushPlan(record.runDir, request.folder, kind, record.configPath !== undefined ? path.dirname(record.configPath) : undefined);
  if (!plan.files.some((f) => /\.safetensors$|\.bin$/.test(f.path))) {
    throw new Error(`${request.folder} holds no weights (*.safetensors), so there is nothing to push.`);
  }
  const target = `${hubUrl()}/${repoId}`;
  for (;;) {
    log.info(`${TITLES[kind]}: ${plan.files.length} files of ${request.folder} (+ model card) to ${target}${request.isPrivate ? ' (private)' : ''}`);
    const outcome = await vscode.window.withProgress(
      { location: vscode.ProgressLocation.Notification, title: `MedVLM: pushing ${record.runId} to ${repoId}`, cancellable: true },
      async (progress, cancel) => {
        const abort = new AbortController();
        cancel.onCancellationRequested(() => abort.abort());
        let shown = 0;
        const onProgress = (p: PushProgress): void => {
          const percent = p.totalBytes > 0 ? (100 * p.sentBytes) / p.totalBytes : 0;
          const words = { creating: 'creating the repository', hashing: 'hashing the weights', uploading: `${formatBytes(p.sentBytes)} of ${formatBytes(p.totalBytes)}`, committing: 'committing' };
          progress.report({ message: words[p.phase], increment: Math.max(0, percent - shown) });
          shown = Math.max(shown, percent);
        };
        try {
          return await pushToHub({
            hubUrl: hubUrl(),
            token: request.token,
            repoId,
            private: request.isPrivate,
            files: plan.files,
            extra: plan.extra,
            commitTitle: plan.commitTitle,
            signal: abort.signal,
            onProgress,
          });
        } catch (err) {
          if (err instanceof PushError) return err;
          throw err;
        }
      },
    );
    if (!(outcome instanceof PushError)) {
      log.info(`${TITLES[kind]}: ${record.runId} is on ${outcome.repoUrl} (${outcome.commitUrl})`);
      const open = 'Open on Hub';
      void vscode.window.showInformationMessage(`MedVLM: pushed the ${kind === 'adapter' ? 'adapter' : 'merged model'} of ${record.runId} to ${repoId}.`, open).then(async (choice) => {
        if (choice === open) await vscode.env.openExternal(vscode.Uri.parse(outcome.repoUrl));
      });
      return;
    }
    log.error(`${TITLES[kind]}: ${outcome.message}`);
    const retry = 'Retry';
    const signIn = 'Sign in to Hugging Face';
    const actions = outcome.kind === 'auth' ? [signIn] : outcome.kind === 'network' || outcome.kind === 'hub' || outcome.kind === 'cancelled' ? [retry] : [];
    const choice = await (outcome.kind === 'cancelled' ? vscode.window.showInformationMessage : vscode.window.showErrorMessage)(`MedVLM: ${outcome.message}`, ...actions);
    if (choice === signIn) {
      await vscode.commands.executeCommand('medvlm.signInHuggingFace');
      return;
    }
    if (choice !== retry) return;
  }
}
