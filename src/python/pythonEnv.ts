// Which interpreter runs the trainer: the `medvlm.pythonPath` setting when set (checked for
// the packages the trainer needs), else the managed environment that the bundled bootstrap
// creates or reuses under the extension's global storage (design contract 6).

import { execa } from 'execa';
import os from 'node:os';
import path from 'node:path';
import * as vscode from 'vscode';
import { checkInterpreter } from './trainerCli';

/** Show no progress notification when the environment already exists (bootstrap returns at once). */
const QUIET_MS = 1500;

export class PythonEnvironment {
  private resolved: Promise<string> | undefined;

  constructor(
    private readonly extensionRoot: string,
    private readonly envsDir: string,
    private readonly log: vscode.LogOutputChannel,
  ) {}

  /** The trainer's interpreter, resolved once per session (again after a failure). */
  resolve(): Promise<string> {
    this.resolved ??= this.resolveUncached().catch((err: unknown) => {
      this.resolved = undefined;
      throw err;
    });
    return this.resolved;
  }

  /**
   * The interpreter if one is ready now, without creating the managed environment (minutes
   * of downloads are not something the editor should start on its own): the setting's
   * interpreter, or a complete managed environment for the current requirements.
   */
  async existing(): Promise<string | undefined> {
    const configured = configuredPythonPath();
    if (configured !== undefined) {
      return configured;
    }
    const script = path.join(this.extensionRoot, 'python', 'bootstrap.py');
    const base = process.platform === 'win32' ? 'python' : 'python3';
    const result = await execa(base, [script, '--envs-dir', this.envsDir, '--existing'], { reject: false, stdin: 'ignore', timeout: 30_000 });
    const python = result.exitCode === 0 ? result.stdout.trim().split('\n').pop()?.trim() : undefined;
    return python ? python : undefined;
  }

  /** Forget the cached interpreter (the setting changed). */
  invalidate(): void {
    this.resolved = undefined;
  }

  private async resolveUncached(): Promise<string> {
    const configured = configuredPythonPath();
    if (configured !== undefined) {
      await this.checkConfigured(configured);
      return configured;
    }
    return this.bootstrap();
  }

  private async checkConfigured(python: string): Promise<void> {
    this.log.info(`checking medvlm.pythonPath: ${python}`);
    const check = await checkInterpreter(python);
    if (check.ok) {
      return;
    }
    const fix = 'Install python/requirements*.txt into it, or clear the setting to use the managed environment.';
    if (check.reason === 'missing') {
      throw new Error(`The interpreter in medvlm.pythonPath (${python}) lacks ${check.missing.join(', ')}. ${fix}`);
    }
    throw new Error(`The interpreter in medvlm.pythonPath (${python}) cannot be run: ${check.message}`);
  }

  private async bootstrap(): Promise<string> {
    const script = path.join(this.extensionRoot, 'python', 'bootstrap.py');
    const base = process.platform === 'win32' ? 'python' : 'python3';
    this.log.info(`$ ${base} ${script} --envs-dir ${this.envsDir}`);
    const abort = new AbortController();
    const subprocess = execa(base, [script, '--envs-dir', this.envsDir], {
      reject: false,
      stdin: 'ignore',
      cancelSignal: abort.signal,
      // Its own process group, so cancelling also stops the pip it runs.
      detached: true,
    });
    let lastLine = 'starting';
    const listeners = new Set<(line: string) => void>();
    let pendingText = '';
    subprocess.stderr?.on('data', (chunk: Buffer) => {
      pendingText += chunk.toString('utf8');
      const lines = pendingText.split('\n');
      pendingText = lines.pop() ?? '';
      for (const line of lines) {
        this.log.info(line);
        if (line.startsWith('bootstrap: ')) {
          lastLine = line.slice('bootstrap: '.length);
          listeners.forEach((listener) => listener(lastLine));
        }
      }
    });
    const cancel = (): void => {
      abort.abort();
      if (subprocess.pid !== undefined) {
        try {
          process.kill(-subprocess.pid, 'SIGTERM');
        } catch {
          // Already gone.
        }
      }
    };

    const quick = await Promise.race([subprocess.then(() => true), delay(QUIET_MS).then(() => false)]);
    if (!quick) {
      await vscode.window.withProgress(
        {
          location: vscode.ProgressLocation.Notification,
          title: 'MedVLM: preparing the trainer environment (once per requirements change)',
          cancellable: true,
        },
        async (progress, token) => {
          progress.report({ message: lastLine });
          listeners.add((line) => progress.report({ message: line }));
          token.onCancellationRequested(cancel);
          await subprocess;
        },
      );
    }
    const result = await subprocess;
    if (abort.signal.aborted) {
      throw new Error('Preparing the trainer environment was cancelled.');
    }
    if (result.failed) {
      throw new Error(`Preparing the trainer environment failed (${result.shortMessage}); see the MedVLM output for details.`);
    }
    const python = result.stdout.trim().split('\n').pop()?.trim() ?? '';
    if (python.length === 0) {
      throw new Error('The bootstrap printed no interpreter path; see the MedVLM output.');
    }
    this.log.info(`trainer environment: ${python}`);
    return python;
  }
}

function configuredPythonPath(): string | undefined {
  const raw = vscode.workspace.getConfiguration('medvlm').get<string>('pythonPath')?.trim();
  if (!raw) {
    return undefined;
  }
  return raw.startsWith('~') ? path.join(os.homedir(), raw.slice(1)) : raw;
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
