// The GPUs each remote host was last seen with, for the Runs view's host groups. Learned by
// "Check remote target" and after a run starts on a target (the connection is up then), kept in
// the editor's global state by ssh destination: a host's GPUs are the same from any workspace.

import * as vscode from 'vscode';
import { readGpuFacts } from '../core/remote/targetCheck';
import type { TargetGpuFacts } from '../core/remote/targetCheck';

const KEY = 'medvlm.targetGpus';

export class TargetFacts implements vscode.Disposable {
  private readonly changed = new vscode.EventEmitter<void>();
  readonly onDidChange = this.changed.event;

  constructor(private readonly state: vscode.Memento) {}

  /** What is known about `host` (an ssh destination). */
  get(host: string): TargetGpuFacts | undefined {
    const all = this.state.get<Record<string, unknown>>(KEY, {});
    return Object.prototype.hasOwnProperty.call(all, host) ? readGpuFacts(all[host]) : undefined;
  }

  async record(host: string, facts: TargetGpuFacts): Promise<void> {
    const all = this.state.get<Record<string, unknown>>(KEY, {});
    await this.state.update(KEY, { ...all, [host]: facts });
    this.changed.fire();
  }

  dispose(): void {
    this.changed.dispose();
  }
}
