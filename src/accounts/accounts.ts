// The Hugging Face token and the W&B API key, kept in VS Code's SecretStorage (the OS keychain
// where there is one). "Sign in" checks a token with the service before keeping it and says
// whose it is; "sign out" forgets it. Runs get the kept tokens through their environment only.
//
// The endpoints are machine settings (`medvlm.huggingFace.endpoint`, `medvlm.wandb.baseUrl`):
// a workspace cannot set them, so a cloned repository can never send a token elsewhere.

import * as vscode from 'vscode';
import path from 'node:path';
import type { HubAccount, RunSecrets, WandbAccount } from '../core/accounts';
import { configModelBase, localModelFolder } from '../core/modelBase';
import { AccountError, baseUrl, checkHubToken, checkModelAccess, checkWandbKey, DEFAULT_HUB_URL, DEFAULT_WANDB_URL, hubModelId, runEnvironment } from '../core/accounts';

const HF_SECRET = 'medvlm.huggingFace.token';
const WANDB_SECRET = 'medvlm.wandb.apiKey';

export function hubUrl(): string {
  return baseUrl(vscode.workspace.getConfiguration('medvlm').get<string>('huggingFace.endpoint'), DEFAULT_HUB_URL);
}

export function wandbUrl(): string {
  return baseUrl(vscode.workspace.getConfiguration('medvlm').get<string>('wandb.baseUrl'), DEFAULT_WANDB_URL);
}

export class Accounts {
  constructor(private readonly secrets: vscode.SecretStorage) {}

  hfToken(): Promise<string | undefined> {
    return Promise.resolve(this.secrets.get(HF_SECRET));
  }

  wandbKey(): Promise<string | undefined> {
    return Promise.resolve(this.secrets.get(WANDB_SECRET));
  }

  /** The environment for a run: the editor's own, with the kept tokens and endpoints over it. */
  async runEnvironment(base: NodeJS.ProcessEnv = process.env): Promise<NodeJS.ProcessEnv> {
    const [hfToken, wandbKey] = await Promise.all([this.hfToken(), this.wandbKey()]);
    const secrets: RunSecrets = {
      ...(hfToken !== undefined ? { hfToken } : {}),
      ...(wandbKey !== undefined ? { wandbKey } : {}),
      hubUrl: hubUrl(),
      wandbUrl: wandbUrl(),
    };
    return runEnvironment(base, secrets);
  }

  async storeHfToken(token: string): Promise<void> {
    await this.secrets.store(HF_SECRET, token);
  }

  async storeWandbKey(key: string): Promise<void> {
    await this.secrets.store(WANDB_SECRET, key);
  }

  async forgetHfToken(): Promise<boolean> {
    const had = (await this.hfToken()) !== undefined;
    await this.secrets.delete(HF_SECRET);
    return had;
  }

  async forgetWandbKey(): Promise<boolean> {
    const had = (await this.wandbKey()) !== undefined;
    await this.secrets.delete(WANDB_SECRET);
    return had;
  }
}

/**
 * Before a run starts: can it download its Hub base model? A gated model (MedGemma) without
 * access would otherwise fail minutes later, after data preparation. Returns whether to go on;
 * when the Hub cannot be asked, the run goes on and finds out itself.
 */
export async function confirmModelAccess(configFile: string, accounts: Accounts, log: (line: string) => void): Promise<boolean> {
  // A file that cannot be read: validation has said what is wrong with it.
  const base = await configModelBase(configFile);
  if (base === undefined) return true;
  const modelId = hubModelId(base, (await localModelFolder(base, path.dirname(configFile))) !== undefined);
  if (modelId === undefined) return true;
  const token = await accounts.hfToken();
  const access = await checkModelAccess(modelId, token ?? process.env.HF_TOKEN, hubUrl());
  const page = `${hubUrl()}/${modelId}`;
  let message: string;
  const actions: string[] = [];
  switch (access.kind) {
    case 'ok':
      return true;
    case 'unknown':
      log(`could not check access to ${modelId} before the run: ${access.why}`);
      return true;
    case 'sign-in':
      message = `${modelId} needs a Hugging Face sign-in (it is gated or private, and ${token === undefined ? 'no token is kept' : 'the Hub refuses the kept token'}), so the run was not started.`;
      actions.push('Sign in to Hugging Face', 'Open model page');
      break;
    case 'no-access':
      message = `Your Hugging Face account has no access to ${modelId}: it is gated, and its terms must be accepted on its page first. The run was not started.`;
      actions.push('Open model page');
      break;
    case 'not-found':
      message = `${modelId} is not on ${hubUrl()} (or it is private to another account), so the run was not started: check model.base.`;
      break;
  }
  const choice = await vscode.window.showErrorMessage(`MedVLM: ${message}`, ...actions);
  if (choice === 'Sign in to Hugging Face') await vscode.commands.executeCommand('medvlm.signInHuggingFace');
  if (choice === 'Open model page') await vscode.env.openExternal(vscode.Uri.parse(page));
  return false;
}

function describeHub(account: HubAccount): string {
  const who = account.fullname !== undefined && account.fullname !== account.name ? `${account.name} (${account.fullname})` : account.name;
  const token = account.tokenName !== undefined ? `, token "${account.tokenName}"${account.role !== undefined ? ` with ${account.role} access` : ''}` : '';
  return `${who}${token}`;
}

function describeWandb(account: WandbAccount): string {
  return account.entity !== undefined && account.entity !== account.username ? `${account.username} (entity ${account.entity})` : account.username;
}

interface SignIn<A> {
  readonly service: string;
  readonly prompt: string;
  /** What a token looks like, shown in the empty box. */
  readonly example: string;
  readonly check: (secret: string) => Promise<A>;
  readonly describe: (account: A) => string;
  readonly store: (secret: string) => Promise<void>;
}

/** Asks for a token, checks it, keeps it; says whose it is, or why not. */
async function signIn<A>(flow: SignIn<A>): Promise<void> {
  const secret = (
    await vscode.window.showInputBox({
      title: `MedVLM: ${flow.service}`,
      prompt: flow.prompt,
      placeHolder: flow.example,
      password: true,
      ignoreFocusOut: true,
      validateInput: (value) => (value.trim() === '' ? 'Paste the token here.' : /\s/.test(value.trim()) ? 'A token has no spaces in it.' : undefined),
    })
  )?.trim();
  if (secret === undefined || secret === '') return;
  let account: A;
  try {
    account = await vscode.window.withProgress({ location: vscode.ProgressLocation.Notification, title: `MedVLM: checking the token with ${flow.service}…` }, () => flow.check(secret));
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err);
    if (err instanceof AccountError && !err.rejected) {
      // The service could not be asked (offline, a proxy): the user may still want it kept.
      const choice = await vscode.window.showWarningMessage(`MedVLM: ${message}`, 'Keep it unchecked', 'Cancel');
      if (choice === 'Keep it unchecked') {
        await flow.store(secret);
        void vscode.window.showInformationMessage(`MedVLM: the ${flow.service} token is kept (not checked); runs get it in their environment.`);
      }
      return;
    }
    void vscode.window.showErrorMessage(`MedVLM: ${message}`);
    return;
  }
  // Said at once, while the token is written (the OS keychain, or a web VS Code's storage, may
  // take a moment); a run started meanwhile reads the token after this write.
  const storing = flow.store(secret);
  void vscode.window.showInformationMessage(`MedVLM: signed in to ${flow.service} as ${flow.describe(account)}. Runs get the token in their environment.`);
  await storing.catch((err: unknown) => {
    void vscode.window.showErrorMessage(`MedVLM: the ${flow.service} token could not be kept: ${err instanceof Error ? err.message : String(err)}`);
  });
}

export function registerAccountCommands(accounts: Accounts): vscode.Disposable {
  return vscode.Disposable.from(
    vscode.commands.registerCommand('medvlm.signInHuggingFace', () =>
      signIn({
        service: 'Hugging Face',
        prompt: `An access token from ${hubUrl()}/settings/tokens ("read" to load gated models such as MedGemma, "write" to push). Kept in the editor's secret storage.`,
        example: 'hf_…',
        check: (token) => checkHubToken(token, hubUrl()),
        describe: describeHub,
        store: (token) => accounts.storeHfToken(token),
      }),
    ),
    vscode.commands.registerCommand('medvlm.setWandbKey', () =>
      signIn({
        service: 'W&B',
        prompt: "Your API key from https://wandb.ai/authorize. Kept in the editor's secret storage.",
        example: 'API key',
        check: (key) => checkWandbKey(key, wandbUrl()),
        describe: describeWandb,
        store: (key) => accounts.storeWandbKey(key),
      }),
    ),
    vscode.commands.registerCommand('medvlm.signOutHuggingFace', async () => {
      const had = await accounts.forgetHfToken();
      void vscode.window.showInformationMessage(had ? 'MedVLM: signed out of Hugging Face; the token is removed from this editor.' : 'MedVLM: no Hugging Face token was kept.');
    }),
    vscode.commands.registerCommand('medvlm.removeWandbKey', async () => {
      const had = await accounts.forgetWandbKey();
      void vscode.window.showInformationMessage(had ? 'MedVLM: the W&B API key is removed from this editor.' : 'MedVLM: no W&B API key was kept.');
    }),
    vscode.commands.registerCommand('medvlm.showAccounts', async () => {
      const [hf, wandb] = await Promise.all([accounts.hfToken(), accounts.wandbKey()]);
      const lines: string[] = [];
      for (const [service, secret, check] of [
        ['Hugging Face', hf, async (t: string) => describeHub(await checkHubToken(t, hubUrl()))],
        ['W&B', wandb, async (k: string) => describeWandb(await checkWandbKey(k, wandbUrl()))],
      ] as const) {
        if (secret === undefined) {
          lines.push(`${service}: not signed in`);
          continue;
        }
        lines.push(`${service}: ${await check(secret).catch((err: unknown) => `kept, but ${err instanceof Error ? err.message : String(err)}`)}`);
      }
      void vscode.window.showInformationMessage(`MedVLM accounts. ${lines.join(' · ')}`);
    }),
  );
}
