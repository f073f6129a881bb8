// Remote targets: the hosts runs can go to. Each is a host as ssh knows it (a Host of the
// user's ssh config, or user@hostname) with a work folder there; they come from the
// `medvlm.remote.targets` setting and, with the default work folder, from the concrete Host
// names of ~/.ssh/config. A target with `slurm` defaults is a cluster's login host. No `vscode`.

import type { SlurmOptions } from './slurm';
import { slurmOptionsProblem } from './slurm';

export const DEFAULT_WORK_FOLDER = '~/medvlm';

export interface RemoteTarget {
  /** What the user calls it; a run config's `launch.target` names it. */
  readonly name: string;
  /** The ssh destination. */
  readonly host: string;
  readonly workFolder: string;
  /** An ssh config file to use instead of ~/.ssh/config (`ssh -F`), when the setting names one. */
  readonly sshConfigFile?: string;
  /** A SLURM cluster's login host: runs go through sbatch with these defaults. */
  readonly slurm?: SlurmOptions;
  readonly source: 'settings' | 'ssh-config';
}

/** The ssh destination of a target, as the ssh helpers take it. */
export function targetHost(target: RemoteTarget): { readonly alias: string; readonly configFile?: string } {
  return { alias: target.host, ...(target.sshConfigFile !== undefined ? { configFile: target.sshConfigFile } : {}) };
}

export interface TargetsRead {
  readonly targets: readonly RemoteTarget[];
  /** Setting entries that were left out, and why. */
  readonly problems: readonly string[];
}

const HOST = /^(?:[A-Za-z0-9._-]+@)?[A-Za-z0-9._:[\]-]+$/;

/** Targets from the setting's value (as the user wrote it) and the ssh config's hosts. */
export function readTargets(setting: unknown, sshHosts: readonly string[]): TargetsRead {
  const targets: RemoteTarget[] = [];
  const problems: string[] = [];
  const entries = Array.isArray(setting) ? setting : [];
  if (setting !== undefined && !Array.isArray(setting)) problems.push('medvlm.remote.targets must be a list of {name, host, workFolder}');
  entries.forEach((entry: unknown, i) => {
    const problem = addTarget(targets, entry, `medvlm.remote.targets[${i}]`);
    if (problem !== undefined) problems.push(problem);
  });
  for (const host of sshHosts) {
    if (host === 'local' || !HOST.test(host) || host.startsWith('-') || targets.some((t) => t.name === host || t.host === host)) continue;
    targets.push({ name: host, host, workFolder: DEFAULT_WORK_FOLDER, source: 'ssh-config' });
  }
  return { targets, problems };
}

/** Adds the setting entry to `targets`, or says why not. */
function addTarget(targets: RemoteTarget[], entry: unknown, where: string): string | undefined {
  if (typeof entry !== 'object' || entry === null) return `${where} is not an object`;
  const { name, host, workFolder, sshConfigFile, slurm } = entry as Record<string, unknown>;
  if (typeof host !== 'string' || !HOST.test(host) || host.startsWith('-')) return `${where}.host must be an ssh destination (a Host of your ssh config, or user@hostname)`;
  const label = typeof name === 'string' && name.trim() !== '' ? name.trim() : host;
  if (label === 'local') return `${where}: "local" is this machine; give the target another name`;
  if (targets.some((t) => t.name === label)) return `${where}: another target is already called ${label}`;
  if (workFolder !== undefined && (typeof workFolder !== 'string' || workFolder.trim() === '' || workFolder.includes('\0'))) return `${where}.workFolder must be a folder path on the host`;
  if (sshConfigFile !== undefined && (typeof sshConfigFile !== 'string' || !sshConfigFile.startsWith('/'))) return `${where}.sshConfigFile must be an absolute path`;
  let slurmOptions: SlurmOptions | undefined;
  if (slurm !== undefined) {
    const read = readSlurmSetting(slurm);
    if (typeof read === 'string') return `${where}.slurm: ${read}`;
    slurmOptions = read;
  }
  targets.push({
    name: label,
    host,
    workFolder: typeof workFolder === 'string' ? workFolder : DEFAULT_WORK_FOLDER,
    ...(typeof sshConfigFile === 'string' ? { sshConfigFile } : {}),
    ...(slurmOptions !== undefined ? { slurm: slurmOptions } : {}),
    source: 'settings',
  });
  return undefined;
}

/** A target's `slurm` setting: its defaults, or what is wrong with it. */
function readSlurmSetting(raw: unknown): SlurmOptions | string {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) return 'must be an object of SLURM defaults';
  const { partition, nodes, gpusPerNode, time, account, extraSbatch } = raw as Record<string, unknown>;
  const options: SlurmOptions = {
    ...(typeof partition === 'string' ? { partition } : {}),
    ...(typeof time === 'string' ? { time } : {}),
    ...(typeof account === 'string' ? { account } : {}),
    ...(Number.isInteger(nodes) ? { nodes: nodes as number } : {}),
    ...(Number.isInteger(gpusPerNode) && (gpusPerNode as number) >= 0 ? { gpusPerNode: gpusPerNode as number } : {}),
    ...(Array.isArray(extraSbatch) && extraSbatch.every((l) => typeof l === 'string') ? { extraSbatch: extraSbatch as string[] } : {}),
  };
  if (gpusPerNode !== undefined && options.gpusPerNode === undefined) return 'gpusPerNode must be a whole number';
  if (extraSbatch !== undefined && options.extraSbatch === undefined) return 'extraSbatch must be a list of #SBATCH lines';
  return slurmOptionsProblem(options) ?? options;
}
