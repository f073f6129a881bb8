// "Compare runs": one panel overlaying several runs' charts, with the settings their configs
// differ in. The runs come from a multi-selection in the Runs view (tree nodes carrying
// `runId`), from a caller (run ids), or else from a multi-select quick pick.

import { readFile } from 'node:fs/promises';
import path from 'node:path';
import * as vscode from 'vscode';
import { parse } from 'yaml';
import { CONFIG_SNAPSHOT, readRunInfo } from '../core/runDir';
import type { RunRecord, RunRegistry } from '../runs/runRegistry';
import { MAX_COMPARE_RUNS } from '../shared/protocol/runPanel';
import { STATUS_LABELS } from '../shared/runStatus';
import type { CompareSource } from '../webviews/runPanel';
import { RunPanel } from '../webviews/runPanel';

/** A run id from a string or a Runs view node (`{ kind: 'run', runId }`). */
function runIdOf(item: unknown): string | undefined {
  if (typeof item === 'string') {
    return item;
  }
  if (typeof item === 'object' && item !== null) {
    const node = item as { kind?: unknown; runId?: unknown };
    if (typeof node.runId === 'string' && (node.kind === undefined || node.kind === 'run')) {
      return node.runId;
    }
  }
  return undefined;
}

/**
 * The run ids a command invocation names. A tree view calls a command with the clicked node
 * and then every selected node; other callers pass an array or a single id.
 */
export function runIdsFromArguments(arg: unknown, selected: unknown): string[] {
  const items = Array.isArray(selected) && selected.length > 0 ? selected : Array.isArray(arg) ? arg : [arg];
  const ids = items.map(runIdOf).filter((id): id is string => id !== undefined);
  return [...new Set(ids)];
}

/**
 * The config the launcher snapshot beside run.json: what the user asked for, which is what a
 * comparison is about. Undefined when there is none (the panel then uses the config the
 * trainer reported in run_started).
 */
async function readConfigSnapshot(runDir: string): Promise<unknown> {
  const info = await readRunInfo(runDir);
  // Only a file in the run folder: run.json is workspace content and must not point elsewhere.
  const file = path.join(runDir, path.basename(info?.config_file ?? CONFIG_SNAPSHOT));
  try {
    const value: unknown = parse(await readFile(file, 'utf8'));
    return typeof value === 'object' && value !== null && !Array.isArray(value) ? value : undefined;
  } catch {
    return undefined;
  }
}

async function pickRuns(registry: RunRegistry, preselected: readonly string[]): Promise<string[] | undefined> {
  const records = registry.list();
  if (records.length < 2) {
    void vscode.window.showInformationMessage('MedVLM: comparing needs at least two runs.');
    return undefined;
  }
  const picked = await vscode.window.showQuickPick(
    records.map((record) => ({
      label: record.runId,
      description: STATUS_LABELS[record.summary.status],
      picked: preselected.includes(record.runId),
      record,
    })),
    { canPickMany: true, placeHolder: `Runs to compare (2 to ${MAX_COMPARE_RUNS})` },
  );
  return picked?.map((item) => item.record.runId);
}

export function registerCompareRuns(extensionUri: vscode.Uri, registry: RunRegistry, log: vscode.LogOutputChannel): vscode.Disposable {
  return vscode.commands.registerCommand('medvlm.compareRuns', async (arg?: unknown, selected?: unknown) => {
    await registry.refresh();
    let ids = runIdsFromArguments(arg, selected);
    if (ids.length < 2) {
      const picked = await pickRuns(registry, ids);
      if (picked === undefined) {
        return;
      }
      ids = picked;
    }
    if (ids.length < 2) {
      void vscode.window.showInformationMessage('MedVLM: pick at least two runs to compare.');
      return;
    }
    const records: RunRecord[] = [];
    for (const id of ids) {
      const record = registry.get(id);
      if (record === undefined) {
        void vscode.window.showErrorMessage(`MedVLM: there is no run ${id}.`);
        return;
      }
      records.push(record);
    }
    if (records.length > MAX_COMPARE_RUNS) {
      void vscode.window.showWarningMessage(`MedVLM: comparing the first ${MAX_COMPARE_RUNS} of ${records.length} runs.`);
      records.length = MAX_COMPARE_RUNS;
    }
    // Oldest first, so the baseline leads the legend and the same runs open the same panel.
    records.sort((a, b) => a.createdMs - b.createdMs || a.runId.localeCompare(b.runId));
    const sources: CompareSource[] = [];
    for (const record of records) {
      const source = registry.panelSource(record.runId);
      if (source === undefined) {
        void vscode.window.showErrorMessage(`MedVLM: there is no run ${record.runId}.`);
        return;
      }
      sources.push({ ...source, readConfig: () => readConfigSnapshot(record.runDir) });
    }
    RunPanel.showCompare(extensionUri, sources, { log: (line) => log.warn(line) });
  });
}
