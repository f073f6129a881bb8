// Remote commands over the system ssh (src/core/remote/ssh.ts) and the one quoting function
// (shellQuote.ts), against a real OpenSSH server on 127.0.0.1 (helpers/localSshd.ts): hostile
// strings come back byte-equal through a real remote shell, many commands share one
// handshake, secrets go over stdin and never into argv, and each way a connection fails (key
// refused, host key unknown or changed, nothing listening) says so.

import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { shellCommand, shellQuote, ShellQuoteError } from '../../src/core/remote/shellQuote';
import { closeSsh, runSsh, SshError } from '../../src/core/remote/ssh';
import type { SshHost } from '../../src/core/remote/ssh';
import { sshConfigHosts } from '../../src/core/remote/sshConfig';
import type { LocalSshd } from './helpers/localSshd';
import { startLocalSshd } from './helpers/localSshd';
import { tempDir } from './testUtil';

/** Characters that break naive quoting, and some that do not need it. */
const NASTY = [' ', "'", '"', '$', '(', ')', '`', '\\', '\n', '\t', ';', '&', '|', '<', '>', '*', '?', '[', ']', '{', '}', '~', '#', '!', '=', '%', '-', 'é', '字', '🩻', 'a', 'Z', '0', '.', '/'];

function nastyString(rand: () => number): string {
  const length = Math.floor(rand() * 12);
  let out = '';
  for (let i = 0; i < length; i++) out += NASTY[Math.floor(rand() * NASTY.length)];
  return out;
}

/** A small seeded generator, so a failure can be reproduced. */
function seeded(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state * 1664525 + 1013904223) >>> 0;
    return state / 2 ** 32;
  };
}

describe('remote commands over ssh (real sshd on 127.0.0.1)', () => {
  let sshd: LocalSshd;
  let host: SshHost;
  before(async () => {
    sshd = await startLocalSshd();
    host = { alias: sshd.alias, configFile: sshd.configFile };
  });
  after(async () => {
    for (const alias of [sshd.alias, sshd.unknownKeyAlias, sshd.changedKeyAlias, sshd.wrongKeyAlias]) await closeSsh({ alias, configFile: sshd.configFile });
    await sshd.stop();
  });

  it('quoting: hostile strings come back byte-equal through the remote shell', async () => {
    const rand = seeded(20261127);
    const values = ['', "'", "a'b", '$(touch /tmp/pwned)', '`id`', 'x\ny', ' lead and trail ', '--help', '~', '*', ...Array.from({ length: 300 }, () => nastyString(rand))];
    // One command prints every argument NUL-terminated: the shell saw exactly these words.
    const { stdout } = await runSsh(host, `printf '%s\\0' ${values.map(shellQuote).join(' ')}`);
    assert.deepEqual(stdout.split('\0').slice(0, -1), values);
    assert.throws(() => shellQuote('a\0b'), ShellQuoteError);
    assert.equal(shellCommand(['ls', '-la', 'my runs/r1', 'plain-name.yaml']), "ls -la 'my runs/r1' plain-name.yaml");
    assert.equal(shellQuote('A=b'), "'A=b'", 'never an environment assignment');
  });

  it('many commands share one SSH handshake (a multiplexed connection)', async () => {
    const before = (sshd.log().match(/Accepted publickey/g) ?? []).length;
    for (let i = 0; i < 5; i++) assert.equal((await runSsh(host, shellCommand(['echo', `call ${i}`]))).stdout, `call ${i}\n`);
    const handshakes = (sshd.log().match(/Accepted publickey/g) ?? []).length - before;
    assert.ok(handshakes <= 1, `${handshakes} handshakes for 5 commands`);
  });

  it('a secret goes over stdin into the remote process, never into an argv', async () => {
    const secret = `hf_${randomBytes(12).toString('hex')}`;
    // The remote side reads the secret, then lists every argv on the host while it still runs.
    const command = `read -r TOKEN; export TOKEN; for f in /proc/[0-9]*/cmdline; do tr '\\0' ' ' < "$f" 2>/dev/null; echo; done; printf 'len=%s\\n' "\${#TOKEN}"`;
    const { stdout } = await runSsh(host, command, { stdin: `${secret}\n` });
    assert.match(stdout, new RegExp(`len=${secret.length}\\n$`), 'the remote process got it');
    assert.ok(!stdout.split('\n').slice(0, -2).some((line) => line.includes(secret)), 'no remote command line holds it');
  });

  it('a failing remote command reports its exit status and last line', async () => {
    await assert.rejects(runSsh(host, 'echo "disk full" >&2; exit 3'), (err: unknown) => err instanceof SshError && err.kind === 'command' && err.exitCode === 3 && /exit status 3\): disk full/.test(err.message));
  });

  it('says why a connection fails: key refused, unknown or changed host key, nothing listening', async () => {
    // The fault aliases reach the same user@127.0.0.1:port, so they would share the running
    // master connection (its socket is named by those); each must make its own.
    await closeSsh(host);
    const fails = (alias: string, kind: SshError['kind'], text: RegExp) =>
      assert.rejects(runSsh({ alias, configFile: sshd.configFile }, 'true', { timeoutMs: 30_000 }), (err: unknown) => {
        assert.ok(err instanceof SshError, String(err));
        assert.equal(err.kind, kind, err.message);
        assert.match(err.message, text);
        return true;
      });
    await fails(sshd.wrongKeyAlias, 'auth', /refused the login .*ssh-add -l/);
    await fails(sshd.unknownKeyAlias, 'host-key-unknown', /is not a known host.*never accepts one unseen.*Run `ssh medvlm-unknown-key` once in a terminal/);
    await fails(sshd.changedKeyAlias, 'host-key-changed', /has CHANGED/);
    await fails(sshd.closedPortAlias, 'unreachable', /cannot reach medvlm-closed-port: .*Connection refused/);
  });
});

it('ssh config hosts: Host names through Includes (globs, ~/.ssh-relative), patterns left out', async (t) => {
  const dir = tempDir(t);
  mkdirSync(path.join(dir, 'conf.d'));
  writeFileSync(path.join(dir, 'conf.d', 'a.conf'), 'Host gpu-a gpu-b\n  HostName 10.0.0.1\n');
  writeFileSync(path.join(dir, 'conf.d', 'b.conf'), 'Host "cluster login"\nHost *.internal\n');
  writeFileSync(path.join(dir, 'conf.d', 'skip.txt'), 'Host not-included\n');
  writeFileSync(
    path.join(dir, 'config'),
    ['# my hosts', 'Host bastion', '  User me', `Include ${path.join(dir, 'conf.d')}/*.conf`, 'Include does-not-exist', 'Host * !bastion', 'Host=gpu-a', 'Host final'].join('\n'),
  );
  assert.deepEqual(await sshConfigHosts(path.join(dir, 'config')), ['bastion', 'gpu-a', 'gpu-b', 'cluster login', 'final']);
  assert.deepEqual(await sshConfigHosts(path.join(os.tmpdir(), 'no-such-ssh-config')), []);
});
