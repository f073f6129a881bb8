// Commands on a run take it from the Runs view (a tree node: every node carries `runId`), from
// a caller such as the run panel's buttons (a run id), or else ask with a quick pick.

import * as vscode from 'vscode';
import type { RunRecord, RunRegistry } from '../runs/runRegistry';
import { STATUS_LABELS } from '../shared/runStatus';

/** The run id in a command argument: a string, or a Runs view node. */
export function runIdFromArgument(arg: unknown): string | undefined {
  if (typeof arg === 'string') {
    return arg;
  }
  if (typeof arg === 'object' && arg !== null && typeof (arg as { runId?: unknown }).runId === 'string') {
    return (arg as { runId: string }).runId;
  }
  return undefined;
}

export async function pickRun(
  registry: RunRegistry,
  arg: unknown,
  options: { readonly filter?: (record: RunRecord) => boolean; readonly prompt: string; readonly none: string },
): Promise<RunRecord | undefined> {
  const fromArg = runIdFromArgument(arg);
  if (fromArg !== undefined) {
    await registry.refresh();
    const record = registry.get(fromArg);
    if (!record) {
      void vscode.window.showErrorMessage(`MedVLM: there is no run ${fromArg} under ${registry.runsRoot ?? 'the runs root'}.`);
      return undefined;
    }
    if (record.removed) {
      // A run panel can outlive its folder; its buttons then have nothing left to act on.
      void vscode.window.showErrorMessage(`MedVLM: the folder of run ${fromArg} was deleted.`);
      return undefined;
    }
    return record;
  }
  await registry.refresh();
  const records = registry.list().filter(options.filter ?? (() => true));
  if (records.length === 0) {
    void vscode.window.showInformationMessage(`MedVLM: ${options.none}`);
    return undefined;
  }
  const picked = await vscode.window.showQuickPick(
    records.map((record) => ({ label: record.runId, description: STATUS_LABELS[record.summary.status], record })),
    { placeHolder: options.prompt },
  );
  return picked?.record;
}
