// "Check target": what a remote host offers a run, asked in one ssh call: Python, uv, the
// GPUs nvidia-smi sees (name, memory, driver) and the CUDA version the driver supports, free
// disk in the work folder (created if missing), the OS, and whether SLURM's sbatch is there.
// No `vscode`.

import { shellQuote } from './shellQuote';
import { runSsh } from './ssh';
import type { SshHost } from './ssh';

export interface TargetGpu {
  readonly index: number;
  readonly name: string;
  readonly memoryMiB: number;
}

export interface TargetReport {
  readonly python: string | undefined;
  readonly uv: boolean;
  readonly gpus: readonly TargetGpu[];
  /** Why no GPU is listed (no nvidia-smi, or it failed). */
  readonly gpuProblem: string | undefined;
  readonly driver: string | undefined;
  readonly cuda: string | undefined;
  readonly diskFreeBytes: number | undefined;
  readonly os: string;
  readonly slurm: boolean;
}

/**
 * A remote path as one shell word: `~` and `~/...` become the remote home (quoting would keep
 * the tilde literal), everything else is quoted as is.
 */
export function remotePath(value: string): string {
  if (value === '~') return '"$HOME"';
  if (value.startsWith('~/')) return `"$HOME"/${shellQuote(value.slice(2))}`;
  return shellQuote(value);
}

/** The probe, for `sh -s`: one `key=value` line per fact. */
export function probeScript(workFolder: string): string {
  const work = remotePath(workFolder);
  return [
    'if command -v python3 >/dev/null 2>&1; then echo "python=$(python3 -c \'import sys; print(sys.version.split()[0])\' 2>/dev/null)"; fi',
    'if command -v uv >/dev/null 2>&1; then echo uv=1; fi',
    'if command -v nvidia-smi >/dev/null 2>&1; then',
    '  if out=$(nvidia-smi --query-gpu=index,name,memory.total,driver_version --format=csv,noheader,nounits 2>&1); then',
    '    printf "%s\\n" "$out" | sed "s/^/gpu=/"',
    '    echo "cuda=$(nvidia-smi 2>/dev/null | sed -n "s/.*CUDA Version: *\\([0-9.]*\\).*/\\1/p" | head -n 1)"',
    '  else echo "gpu_problem=nvidia-smi failed: $(printf "%s" "$out" | head -n 1)"; fi',
    'else echo "gpu_problem=nvidia-smi is not installed (no NVIDIA driver)"; fi',
    `if mkdir -p -- ${work} 2>/dev/null; then df -Pk -- ${work} | tail -n 1 | awk '{print "disk_free_kb=" $4}'; else echo "work_problem=cannot create the work folder"; fi`,
    'echo "os=$(uname -sm)"',
    'if command -v sbatch >/dev/null 2>&1; then echo slurm=1; fi',
  ].join('\n') + '\n';
}

export function parseProbe(stdout: string): TargetReport & { readonly workProblem: string | undefined } {
  const values = new Map<string, string[]>();
  for (const line of stdout.split('\n')) {
    const eq = line.indexOf('=');
    if (eq <= 0) continue;
    const key = line.slice(0, eq);
    values.set(key, [...(values.get(key) ?? []), line.slice(eq + 1)]);
  }
  const one = (key: string): string | undefined => {
    const value = values.get(key)?.[0]?.trim();
    return value === undefined || value === '' ? undefined : value;
  };
  const gpus: TargetGpu[] = [];
  let driver: string | undefined;
  for (const row of values.get('gpu') ?? []) {
    const [index, name, memory, version] = row.split(',').map((part) => part.trim());
    if (index === undefined || name === undefined || !/^\d+$/.test(index)) continue;
    gpus.push({ index: Number(index), name, memoryMiB: Number(memory) || 0 });
    driver ??= version;
  }
  const kb = Number(one('disk_free_kb'));
  return {
    python: one('python'),
    uv: one('uv') === '1',
    gpus,
    gpuProblem: gpus.length === 0 ? (one('gpu_problem') ?? 'nvidia-smi lists no GPU') : undefined,
    driver,
    cuda: one('cuda'),
    diskFreeBytes: Number.isFinite(kb) && one('disk_free_kb') !== undefined ? kb * 1024 : undefined,
    os: one('os') ?? 'unknown',
    slurm: one('slurm') === '1',
    workProblem: one('work_problem'),
  };
}

export async function checkTarget(host: SshHost, workFolder: string, signal?: AbortSignal): Promise<TargetReport & { readonly workProblem: string | undefined }> {
  const { stdout } = await runSsh(host, 'sh -s', { stdin: probeScript(workFolder), timeoutMs: 60_000, ...(signal ? { signal } : {}) });
  return parseProbe(stdout);
}

/** The report as lines for the user; problems first. */
export function describeReport(host: string, workFolder: string, report: TargetReport & { readonly workProblem: string | undefined }): string[] {
  const gib = (bytes: number): string => `${(bytes / 2 ** 30).toFixed(1)} GiB`;
  const lines: string[] = [];
  if (report.python === undefined) lines.push('problem: no python3 on the PATH; install Python 3.10 or newer');
  if (report.workProblem !== undefined) lines.push(`problem: ${report.workProblem} ${workFolder}`);
  if (report.gpus.length === 0) lines.push(`no GPU: ${report.gpuProblem ?? 'none found'} (runs there need train.use_cpu)`);
  lines.push(`host: ${host} (${report.os})`);
  if (report.python !== undefined) lines.push(`python: ${report.python}${report.uv ? ', uv available' : ''}`);
  for (const gpu of report.gpus) lines.push(`GPU ${gpu.index}: ${gpu.name}, ${gib(gpu.memoryMiB * 2 ** 20)}`);
  if (report.gpus.length > 0) lines.push(`driver ${report.driver ?? 'unknown'}${report.cuda !== undefined ? `, CUDA ${report.cuda}` : ''}`);
  if (report.diskFreeBytes !== undefined) lines.push(`free disk in ${workFolder}: ${gib(report.diskFreeBytes)}`);
  lines.push(report.slurm ? 'SLURM: sbatch available' : 'SLURM: not here');
  return lines;
}

/** What the Runs view shows on a host's group: its GPUs, as last seen. */
export interface TargetGpuFacts {
  readonly gpus: readonly TargetGpu[];
  readonly gpuProblem?: string;
  /** When they were seen (ISO 8601). */
  readonly checked: string;
}

/** The GPU facts of a report, seen `now`. */
export function gpuFactsOf(report: TargetReport, now: Date = new Date()): TargetGpuFacts {
  return { gpus: report.gpus, ...(report.gpus.length === 0 && report.gpuProblem !== undefined ? { gpuProblem: report.gpuProblem } : {}), checked: now.toISOString() };
}

/** Stored facts read back (a memento holds whatever an older version wrote); undefined when not facts. */
export function readGpuFacts(raw: unknown): TargetGpuFacts | undefined {
  if (typeof raw !== 'object' || raw === null) return undefined;
  const r = raw as Record<string, unknown>;
  if (typeof r.checked !== 'string' || !Array.isArray(r.gpus)) return undefined;
  const gpus = r.gpus.filter(
    (g): g is TargetGpu => typeof g === 'object' && g !== null && Number.isInteger((g as TargetGpu).index) && typeof (g as TargetGpu).name === 'string' && typeof (g as TargetGpu).memoryMiB === 'number',
  );
  return { gpus, ...(typeof r.gpuProblem === 'string' ? { gpuProblem: r.gpuProblem } : {}), checked: r.checked };
}

/** `2 × NVIDIA A100 80GB (80 GiB)`, models in order of their first index; `no GPU` for none. */
export function summarizeGpus(gpus: readonly TargetGpu[]): string {
  if (gpus.length === 0) return 'no GPU';
  const models = new Map<string, { count: number; memoryMiB: number }>();
  for (const gpu of [...gpus].sort((a, b) => a.index - b.index)) {
    const model = models.get(gpu.name) ?? { count: 0, memoryMiB: gpu.memoryMiB };
    models.set(gpu.name, { count: model.count + 1, memoryMiB: model.memoryMiB });
  }
  return [...models.entries()]
    .map(([name, { count, memoryMiB }]) => `${count > 1 ? `${count} × ` : ''}${name}${memoryMiB > 0 ? ` (${Math.round(memoryMiB / 1024)} GiB)` : ''}`)
    .join(', ');
}
