// The Runs view: one item per run folder (never hidden, even half-written), grouped by target
// when runs come from more than one, with the status, progress and ETA; its checkpoints, merged
// models and log files as children. Context values come from src/core/runExplorer.ts.

import path from 'node:path';
import * as vscode from 'vscode';
import { runPaths } from '../core/runDir';
import type { CheckpointArtifact } from '../core/runArtifacts';
import {
  CHECKPOINT_CONTEXT,
  checkpointContextValue,
  EVENTS_CONTEXT,
  groupRunsByTarget,
  LOCAL_TARGET,
  LOG_CONTEXT,
  mergedContextValue,
  runContextValue,
  runTargetOf,
  showTargetGroups,
  TARGET_CONTEXT,
} from '../core/runExplorer';
import { summarizeGpus } from '../core/remote/targetCheck';
import { formatProgress } from '../core/runStatus';
import type { RunRecord, RunRegistry } from '../runs/runRegistry';
import type { TargetFacts } from '../runs/targetFacts';
import type { RunStatus } from '../shared/runStatus';
import { STATUS_LABELS } from '../shared/runStatus';

/** Every node carries the run's id as `runId`, which is what commands read from a node. */
export type RunsNode =
  | { readonly kind: 'target'; readonly key: string; readonly label: string }
  | { readonly kind: 'run'; readonly runId: string }
  | { readonly kind: 'checkpoint'; readonly runId: string; readonly checkpoint: CheckpointArtifact }
  | { readonly kind: 'merged'; readonly runId: string; readonly path: string }
  | { readonly kind: 'file'; readonly runId: string; readonly path: string; readonly role: 'log' | 'events' };

const RESUMABLE_CHECKPOINT_NAME = /^checkpoint-\d+$/;

export class RunsTreeProvider implements vscode.TreeDataProvider<RunsNode>, vscode.Disposable {
  private readonly changed = new vscode.EventEmitter<RunsNode | undefined>();
  readonly onDidChangeTreeData = this.changed.event;
  private readonly subscription: vscode.Disposable;

  constructor(
    private readonly registry: RunRegistry,
    private readonly targets: TargetFacts,
  ) {
    this.subscription = vscode.Disposable.from(
      registry.onDidChange(() => this.changed.fire(undefined)),
      targets.onDidChange(() => this.changed.fire(undefined)),
    );
  }

  getTreeItem(node: RunsNode): vscode.TreeItem {
    switch (node.kind) {
      case 'target':
        return this.targetItem(node.key, node.label);
      case 'run': {
        const record = this.registry.get(node.runId);
        return record ? runItem(record) : new vscode.TreeItem(node.runId);
      }
      case 'checkpoint':
        return checkpointItem(node.checkpoint, this.registry.get(node.runId));
      case 'merged': {
        const item = new vscode.TreeItem(mergedLabel(node.path), vscode.TreeItemCollapsibleState.None);
        item.description = 'merged model';
        item.iconPath = new vscode.ThemeIcon('package');
        item.resourceUri = vscode.Uri.file(node.path);
        item.tooltip = `${node.path}\nA standard Hugging Face model folder: the LoRA adapter folded into its base.`;
        item.contextValue = mergedContextValue(this.registry.get(node.runId)?.summary.status);
        return item;
      }
      case 'file': {
        const item = new vscode.TreeItem(path.basename(node.path), vscode.TreeItemCollapsibleState.None);
        item.iconPath = new vscode.ThemeIcon(node.role === 'log' ? 'output' : 'list-unordered');
        item.description = node.role === 'log' ? 'trainer output' : 'events';
        item.resourceUri = vscode.Uri.file(node.path);
        item.tooltip = node.path;
        item.contextValue = node.role === 'log' ? LOG_CONTEXT : EVENTS_CONTEXT;
        item.command = { command: 'vscode.open', title: 'Open', arguments: [vscode.Uri.file(node.path)] };
        return item;
      }
    }
  }

  getChildren(node?: RunsNode): RunsNode[] {
    if (node === undefined) {
      const groups = groupRunsByTarget(this.registry.list());
      if (showTargetGroups(groups)) {
        return groups.map((g): RunsNode => ({ kind: 'target', key: g.target.key, label: g.target.label }));
      }
      return (groups[0]?.runs ?? []).map(runNode);
    }
    switch (node.kind) {
      case 'target':
        return this.registry
          .list()
          .filter((record) => runTargetOf(record.info).key === node.key)
          .map(runNode);
      case 'run':
        return runChildren(this.registry.get(node.runId));
      default:
        return [];
    }
  }

  dispose(): void {
    this.subscription.dispose();
    this.changed.dispose();
  }

  private targetItem(key: string, label: string): vscode.TreeItem {
    const count = this.registry.list().filter((record) => runTargetOf(record.info).key === key).length;
    const item = new vscode.TreeItem(label, vscode.TreeItemCollapsibleState.Expanded);
    item.id = `target:${key}`;
    const runs = `${count} run${count === 1 ? '' : 's'}`;
    item.iconPath = new vscode.ThemeIcon(key === LOCAL_TARGET.key ? 'device-desktop' : 'remote');
    item.contextValue = TARGET_CONTEXT;
    // A host's GPUs, as "Check remote target" or the last start there saw them.
    const facts = key.startsWith('ssh:') ? this.targets.get(key.slice('ssh:'.length)) : undefined;
    item.description = facts !== undefined ? `${runs} · ${summarizeGpus(facts.gpus)}` : runs;
    if (facts !== undefined) {
      const lines = facts.gpus.length > 0 ? facts.gpus.map((gpu) => `GPU ${gpu.index}: ${gpu.name}, ${Math.round(gpu.memoryMiB / 1024)} GiB`) : [`No GPU: ${facts.gpuProblem ?? 'none found'}`];
      item.tooltip = `${label}\n${lines.join('\n')}\nSeen ${facts.checked.slice(0, 16).replace('T', ' ')} UTC; "Check remote target" looks again.`;
    }
    return item;
  }
}

function runNode(record: RunRecord): RunsNode {
  return { kind: 'run', runId: record.runId };
}

function runChildren(record: RunRecord | undefined): RunsNode[] {
  if (!record || record.removed) {
    return [];
  }
  const { runId, runDir, artifacts } = record;
  const paths = runPaths(runDir);
  return [
    ...artifacts.checkpoints.map((checkpoint): RunsNode => ({ kind: 'checkpoint', runId, checkpoint })),
    ...artifacts.merged.map((merged): RunsNode => ({ kind: 'merged', runId, path: merged })),
    { kind: 'file', runId, path: paths.stdoutLog, role: 'log' },
    { kind: 'file', runId, path: paths.events, role: 'events' },
  ];
}

function runItem(record: RunRecord): vscode.TreeItem {
  const { summary, artifacts } = record;
  const item = new vscode.TreeItem(record.runId, vscode.TreeItemCollapsibleState.Collapsed);
  const progress = formatProgress(summary);
  const label = summary.queued !== undefined ? `${STATUS_LABELS[summary.status]} (${summary.queued})` : STATUS_LABELS[summary.status];
  const described = progress ? `${label} · ${progress}` : label;
  item.description = summary.unreachable !== undefined ? `${described} · host unreachable` : described;
  item.iconPath = summary.unreachable !== undefined ? new vscode.ThemeIcon('debug-disconnect') : statusIcon(summary.status);
  item.contextValue = runContextValue(
    summary.status,
    artifacts,
    summary.wandbUrl !== undefined,
    record.info?.target.kind === 'ssh' ? { checkpointed: record.state.checkpoints.length > 0 } : undefined,
  );
  item.id = record.runId;
  const tooltip = new vscode.MarkdownString(undefined, true);
  tooltip.appendMarkdown(`**${record.runId}** — ${STATUS_LABELS[summary.status]}\n\n`);
  tooltip.appendMarkdown('Target: ').appendText(runTargetOf(record.info).label).appendMarkdown('\n\n');
  if (record.info?.target.kind === 'ssh') {
    tooltip.appendMarkdown('On the host: ').appendText(`${record.info.target.host}:${record.info.target.run_dir}`).appendMarkdown('\n\n');
  }
  if (summary.unreachable !== undefined) {
    tooltip.appendMarkdown('Connection: ').appendText(`${summary.unreachable} (reconnecting; the run goes on there)`).appendMarkdown('\n\n');
  }
  if (record.configPath) {
    tooltip.appendMarkdown('Config: ').appendText(record.configPath).appendMarkdown('\n\n');
  }
  const why = summary.error ?? summary.reason;
  if (why) {
    tooltip.appendMarkdown(summary.error ? 'Error: ' : 'Why: ').appendText(why).appendMarkdown('\n\n');
  }
  const n = artifacts.checkpoints.length;
  tooltip.appendText(`${n} checkpoint${n === 1 ? '' : 's'}${artifacts.merged.length > 0 ? ', merged model' : ''}`).appendMarkdown('\n\n');
  tooltip.appendMarkdown('Folder: ').appendText(record.runDir);
  item.tooltip = tooltip;
  item.command = { command: 'medvlm.openRunPanel', title: 'Open run panel', arguments: [record.runId] };
  return item;
}

function checkpointItem(checkpoint: CheckpointArtifact, record: RunRecord | undefined): vscode.TreeItem {
  const status = record?.summary.status;
  const item = new vscode.TreeItem(checkpoint.name, vscode.TreeItemCollapsibleState.None);
  const parts = checkpoint.step === undefined ? [] : [`step ${checkpoint.step}`];
  // A checkpoint-N folder without its trainer state is still being written, or was cut short.
  if (!checkpoint.complete && RESUMABLE_CHECKPOINT_NAME.test(checkpoint.name)) {
    parts.push('incomplete');
  }
  item.description = parts.join(' · ') || undefined;
  item.iconPath = new vscode.ThemeIcon('save');
  item.resourceUri = vscode.Uri.file(checkpoint.path);
  item.tooltip = checkpoint.path;
  item.contextValue = status === undefined ? CHECKPOINT_CONTEXT : checkpointContextValue(status, checkpoint, record?.info?.target.kind === 'ssh');
  return item;
}

/** `merged`, or `checkpoints/checkpoint-200-merged` for a merge of one checkpoint. */
function mergedLabel(folder: string): string {
  const parent = path.basename(path.dirname(folder));
  return parent === 'checkpoints' ? `checkpoints/${path.basename(folder)}` : path.basename(folder);
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
