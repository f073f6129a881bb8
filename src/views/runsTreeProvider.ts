// The Runs view: one item per run folder (never hidden, even half-written), with its status,
// progress and ETA; its checkpoints and its log file as children.

import { readdir } from 'node:fs/promises';
import path from 'node:path';
import * as vscode from 'vscode';
import { runPaths } from '../core/runDir';
import { formatProgress } from '../core/runStatus';
import type { RunRecord, RunRegistry } from '../runs/runRegistry';
import type { RunStatus } from '../shared/runStatus';
import { STATUS_LABELS, TERMINAL_STATUSES } from '../shared/runStatus';

export type RunsNode =
  | { readonly kind: 'run'; readonly runId: string }
  | { readonly kind: 'checkpoint'; readonly runId: string; readonly step: number | undefined; readonly path: string }
  | { readonly kind: 'log'; readonly runId: string; readonly path: string };

/** Context values the menus in package.json match on. */
export const CONTEXT_ACTIVE_RUN = 'run.active';
export const CONTEXT_ENDED_RUN = 'run.ended';

export class RunsTreeProvider implements vscode.TreeDataProvider<RunsNode>, vscode.Disposable {
  private readonly changed = new vscode.EventEmitter<RunsNode | undefined>();
  readonly onDidChangeTreeData = this.changed.event;
  private readonly subscription: vscode.Disposable;

  constructor(private readonly registry: RunRegistry) {
    this.subscription = registry.onDidChange(() => this.changed.fire(undefined));
  }

  getTreeItem(node: RunsNode): vscode.TreeItem {
    switch (node.kind) {
      case 'run': {
        const record = this.registry.get(node.runId);
        return record ? runItem(record) : new vscode.TreeItem(node.runId);
      }
      case 'checkpoint': {
        const item = new vscode.TreeItem(path.basename(node.path), vscode.TreeItemCollapsibleState.None);
        item.description = node.step === undefined ? undefined : `step ${node.step}`;
        item.iconPath = new vscode.ThemeIcon('save');
        item.resourceUri = vscode.Uri.file(node.path);
        item.tooltip = node.path;
        item.contextValue = 'checkpoint';
        return item;
      }
      case 'log': {
        const item = new vscode.TreeItem('stdout.log', vscode.TreeItemCollapsibleState.None);
        item.iconPath = new vscode.ThemeIcon('output');
        item.resourceUri = vscode.Uri.file(node.path);
        item.tooltip = node.path;
        item.contextValue = 'log';
        item.command = { command: 'vscode.open', title: 'Open log', arguments: [vscode.Uri.file(node.path)] };
        return item;
      }
    }
  }

  async getChildren(node?: RunsNode): Promise<RunsNode[]> {
    if (node === undefined) {
      return this.registry.list().map((record) => ({ kind: 'run', runId: record.runId }));
    }
    if (node.kind !== 'run') {
      return [];
    }
    const record = this.registry.get(node.runId);
    if (!record) {
      return [];
    }
    const checkpoints = await listCheckpoints(record);
    return [
      ...checkpoints.map((c): RunsNode => ({ kind: 'checkpoint', runId: record.runId, ...c })),
      { kind: 'log', runId: record.runId, path: runPaths(record.runDir).stdoutLog },
    ];
  }

  dispose(): void {
    this.subscription.dispose();
    this.changed.dispose();
  }
}

function isActive(status: RunStatus): boolean {
  return !TERMINAL_STATUSES.has(status);
}

function runItem(record: RunRecord): vscode.TreeItem {
  const { summary } = record;
  const item = new vscode.TreeItem(record.runId, vscode.TreeItemCollapsibleState.Collapsed);
  const progress = formatProgress(summary);
  item.description = progress ? `${STATUS_LABELS[summary.status]} · ${progress}` : STATUS_LABELS[summary.status];
  item.iconPath = statusIcon(summary.status);
  item.contextValue = isActive(summary.status) ? CONTEXT_ACTIVE_RUN : CONTEXT_ENDED_RUN;
  item.id = record.runId;
  const tooltip = new vscode.MarkdownString(undefined, true);
  tooltip.appendMarkdown(`**${record.runId}** — ${STATUS_LABELS[summary.status]}\n\n`);
  if (record.configPath) {
    tooltip.appendMarkdown('Config: ').appendText(record.configPath).appendMarkdown('\n\n');
  }
  if (summary.error) {
    tooltip.appendMarkdown('Error: ').appendText(summary.error).appendMarkdown('\n\n');
  }
  tooltip.appendMarkdown('Folder: ').appendText(record.runDir);
  item.tooltip = tooltip;
  item.command = { command: 'medvlm.openRunPanel', title: 'Open run panel', arguments: [record.runId] };
  return item;
}

function statusIcon(status: RunStatus): vscode.ThemeIcon {
  switch (status) {
    case 'finished':
      return new vscode.ThemeIcon('pass', new vscode.ThemeColor('testing.iconPassed'));
    case 'failed':
      return new vscode.ThemeIcon('error', new vscode.ThemeColor('testing.iconFailed'));
    case 'stopped':
      return new vscode.ThemeIcon('circle-slash');
    case 'lost':
      return new vscode.ThemeIcon('question');
    default:
      return new vscode.ThemeIcon('sync~spin');
  }
}

/**
 * Checkpoint folders that exist now (the trainer may rotate old ones away), with the step
 * from their checkpoint event, or from the folder name for folders without one.
 */
async function listCheckpoints(record: RunRecord): Promise<Array<{ step: number | undefined; path: string }>> {
  const stepByPath = new Map<string, number>();
  for (const checkpoint of record.state.checkpoints) {
    stepByPath.set(path.resolve(record.runDir, checkpoint.path), checkpoint.step);
  }
  const folder = runPaths(record.runDir).checkpoints;
  let names: string[];
  try {
    names = (await readdir(folder, { withFileTypes: true })).filter((d) => d.isDirectory()).map((d) => d.name);
  } catch {
    return [];
  }
  return names
    .map((name) => {
      const full = path.join(folder, name);
      const fromName = /(\d+)$/.exec(name)?.[1];
      return { path: full, step: stepByPath.get(full) ?? (fromName === undefined ? undefined : Number(fromName)) };
    })
    .sort((a, b) => (a.step ?? 0) - (b.step ?? 0) || a.path.localeCompare(b.path));
}
