// What the e2e suite needs from the system. A missing piece fails the suite loudly with the
// command that installs it (never a skip): a green run must mean VS Code really ran.

import { accessSync, constants, existsSync } from 'node:fs';
import path from 'node:path';

export const CODE_SERVER_VERSION = '4.100.3';
/** code-server 4.100.x ships native modules for, and refuses anything but, Node 20. */
export const CODE_SERVER_NODE_MAJOR = 20;

export function findOnPath(name: string): string | undefined {
  for (const dir of (process.env.PATH ?? '').split(path.delimiter)) {
    const candidate = path.join(dir, name);
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // Not here.
    }
  }
  return undefined;
}

export function findChromium(): string | undefined {
  const candidates = [process.env.CHROMIUM_PATH, '/usr/bin/chromium', '/usr/bin/chromium-browser'];
  return candidates.find((p): p is string => p !== undefined && p !== '' && existsSync(p));
}

export interface Prerequisites {
  readonly chromium: string;
  /** System ripgrep: code-server's own postinstall would download one, which fails offline. */
  readonly rg: string;
}

/**
 * Checks the system packages; `forInstall` adds what building code-server's native modules
 * needs (Kerberos headers and a C++ toolchain for node-gyp).
 */
export function checkPrerequisites(options: { forInstall: boolean }): Prerequisites {
  const nodeMajor = Number(process.versions.node.split('.')[0]);
  if (nodeMajor !== CODE_SERVER_NODE_MAJOR) {
    throw new Error(`e2e: code-server ${CODE_SERVER_VERSION} needs Node ${CODE_SERVER_NODE_MAJOR}, but this is Node ${process.versions.node}.`);
  }
  const missing: string[] = [];
  const chromium = findChromium();
  if (chromium === undefined) missing.push('chromium');
  const rg = findOnPath('rg');
  if (rg === undefined) missing.push('ripgrep');
  if (options.forInstall) {
    if (findOnPath('krb5-config') === undefined && !existsSync('/usr/include/gssapi/gssapi.h')) missing.push('libkrb5-dev');
    if (findOnPath('make') === undefined || findOnPath('g++') === undefined) missing.push('build-essential');
    if (findOnPath('python3') === undefined) missing.push('python3');
  }
  if (chromium === undefined || rg === undefined || missing.length > 0) {
    throw new Error(
      `e2e: missing system packages: ${missing.join(', ')}. Install them with\n` +
        `  apt-get update && apt-get install -y ${missing.join(' ')}\n` +
        '(.ci/run installs them; CHROMIUM_PATH may name another Chromium binary).',
    );
  }
  return { chromium, rg };
}
