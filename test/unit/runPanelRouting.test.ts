// The run panel's host side: every message the webview can post is validated against its
// token before the host acts on it (malformed ones are counted and ignored, never thrown),
// each button maps to its command, the actions that fit a run, and the host's pacing.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { dispatch, isEnvelopeShape, on } from '../../src/shared/protocol/dispatch';
import { envelope, matchMessage } from '../../src/shared/protocol/message';
import type { RunAction } from '../../src/shared/protocol/runPanel';
import {
  ACTION_MESSAGES,
  actionsFor,
  DeleteMessage,
  LogTailMessage,
  MAX_LOG_TAIL_CHARS,
  MergeMessage,
  OpenLogMessage,
  ReadyMessage,
  RequestLogTailMessage,
  RestartMessage,
  ResumeMessage,
  RevealFolderMessage,
  RUN_ACTIONS,
  StopMessage,
} from '../../src/shared/protocol/runPanel';
import type { RunStatus } from '../../src/shared/runStatus';
import { RUN_STATUSES } from '../../src/shared/runStatus';
import type { RunPanelHostHandlers } from '../../src/webviews/runPanelRouting';
import { ACTION_COMMANDS, createHostRouter } from '../../src/webviews/runPanelRouting';
import { repoRoot } from './testUtil';

const WEBVIEW_TO_HOST = [
  ReadyMessage,
  RequestLogTailMessage,
  StopMessage,
  ResumeMessage,
  RestartMessage,
  RevealFolderMessage,
  OpenLogMessage,
  MergeMessage,
  DeleteMessage,
];
const HUGE = 'x'.repeat(2 * MAX_LOG_TAIL_CHARS);

/** Everything a confused or hostile webview might post. */
const MALFORMED: ReadonlyArray<[string, unknown]> = [
  ['undefined', undefined],
  ['null', null],
  ['number', 42],
  ['string', 'runPanel/stop'],
  ['huge string', HUGE],
  ['boolean', true],
  ['empty array', []],
  ['array envelope', ['runPanel/stop', {}]],
  ['array of envelopes', [{ type: 'runPanel/stop', payload: {} }]],
  ['empty object', {}],
  ['missing payload', { type: 'runPanel/stop' }],
  ['null payload', { type: 'runPanel/stop', payload: null }],
  ['array payload', { type: 'runPanel/stop', payload: [] }],
  ['string payload', { type: 'runPanel/stop', payload: 'now' }],
  ['junk in payload', { type: 'runPanel/stop', payload: { force: true } }],
  ['huge junk in payload', { type: 'runPanel/openLog', payload: { path: HUGE } }],
  ['path in payload', { type: 'runPanel/revealFolder', payload: { path: '/etc' } }],
  ['run id in an action', { type: 'runPanel/delete', payload: { runId: 'someone-else' } }],
  ['command in an action', { type: 'runPanel/merge', payload: { command: 'workbench.action.terminal.sendSequence' } }],
  ['junk beside payload', { type: 'runPanel/stop', payload: {}, extra: 1 }],
  ['__proto__ in payload', JSON.parse('{"type":"runPanel/stop","payload":{"__proto__":{"x":1}}}')],
  ['non-string type', { type: 7, payload: {} }],
  ['empty type', { type: '', payload: {} }],
  ['huge type', { type: HUGE, payload: {} }],
  ['wrong case type', { type: 'runPanel/STOP', payload: {} }],
  ['host-bound type from webview', { type: 'runPanel/logTail', payload: { text: 'x' } }],
  ['unknown type', { type: 'runPanel/deleteEverything', payload: {} }],
];

describe('webview -> host messages', () => {
  for (const message of WEBVIEW_TO_HOST) {
    it(`accepts a well-formed ${message.type}`, () => {
      assert.deepEqual(matchMessage(message, envelope(message, {})), {});
      assert.deepEqual(matchMessage(message, JSON.parse(JSON.stringify(envelope(message, {})))), {});
    });
  }

  for (const [name, data] of MALFORMED) {
    it(`rejects ${name}`, () => {
      let handled = 0;
      const routes = WEBVIEW_TO_HOST.map((message) => on(message, () => handled++));
      assert.notEqual(dispatch(data, routes), 'handled');
      assert.equal(handled, 0);
    });
  }

  it('keeps the envelope strict: only type and payload', () => {
    assert.ok(isEnvelopeShape({ type: 'a', payload: undefined }));
    assert.ok(!isEnvelopeShape({ type: 'a' }));
    assert.ok(!isEnvelopeShape({ type: 'a', payload: {}, junk: 0 }));
    assert.ok(!isEnvelopeShape([{ type: 'a', payload: {} }]));
  });
});

describe('host router', () => {
  function setup() {
    const calls: string[] = [];
    const logged: string[] = [];
    const handlers: RunPanelHostHandlers = {
      ready: () => calls.push('ready'),
      requestLogTail: () => calls.push('requestLogTail'),
      action: (action) => calls.push(action),
    };
    const router = createHostRouter(handlers, (line) => logged.push(line));
    return { calls, logged, router };
  }

  it('routes each declared message to its handler', () => {
    const { calls, router } = setup();
    for (const message of WEBVIEW_TO_HOST) router.receive(envelope(message, {}));
    assert.deepEqual(calls, ['ready', 'requestLogTail', 'stop', 'resume', 'restart', 'revealFolder', 'openLog', 'merge', 'delete']);
    assert.equal(router.stats.handled, WEBVIEW_TO_HOST.length);
    assert.equal(router.stats.rejected, 0);
  });

  it('maps every action to its command, which takes the run id', () => {
    assert.deepEqual(ACTION_COMMANDS, {
      stop: 'medvlm.stopRun',
      resume: 'medvlm.resumeRun',
      restart: 'medvlm.restartRun',
      revealFolder: 'medvlm.revealRunFolder',
      openLog: 'medvlm.openRunLog',
      merge: 'medvlm.mergeRun',
      openWandb: 'medvlm.openWandbRun',
      delete: 'medvlm.deleteRun',
    });
    const commands = JSON.parse(readFileSync(path.join(repoRoot, 'package.json'), 'utf8')).contributes.commands.map(
      (c: { command: string }) => c.command,
    ) as string[];
    for (const action of RUN_ACTIONS) {
      assert.equal(ACTION_MESSAGES[action].type, `runPanel/${action}`);
      assert.ok(commands.includes(ACTION_COMMANDS[action]), `${ACTION_COMMANDS[action]} is declared in package.json`);
    }
  });

  it('ignores, counts and logs malformed messages without throwing', () => {
    const { calls, logged, router } = setup();
    for (const [, data] of MALFORMED) assert.doesNotThrow(() => router.receive(data));
    assert.deepEqual(calls, []);
    assert.equal(router.stats.rejected, MALFORMED.length);
    assert.equal(router.stats.unknown, 3); // wrong case, host-bound, unknown type
    assert.ok(logged.length > 0 && logged.length <= 10, 'logging is rate-limited');
    assert.ok(logged.every((line) => line.length < 300), 'log lines never echo huge payloads');
  });

  it('logs only every 100th rejection after the first ten', () => {
    const { logged, router } = setup();
    for (let i = 0; i < 250; i++) router.receive(null);
    assert.equal(logged.length, 12); // 1..10, 100, 200
  });

  it('dispatch reports handled, unknown and malformed', () => {
    let got: unknown;
    const routes = [on(LogTailMessage, (p) => (got = p.text))];
    assert.equal(dispatch(envelope(LogTailMessage, { text: 'hi' }), routes), 'handled');
    assert.equal(got, 'hi');
    assert.equal(dispatch({ type: 'other', payload: {} }, routes), 'unknown');
    assert.equal(dispatch({ type: LogTailMessage.type, payload: { text: 1 } }, routes), 'malformed');
  });
});

describe('actions for a run\'s status', () => {
  const fit = (status: RunStatus, checkpoints = 0, loraEnabled?: boolean): RunAction[] =>
    actionsFor({ status, checkpoints, ...(loraEnabled !== undefined ? { loraEnabled } : {}) });

  it('offers Stop only while the run is active', () => {
    for (const status of RUN_STATUSES) {
      const active = !['finished', 'failed', 'stopped', 'lost'].includes(status);
      assert.equal(fit(status).includes('stop'), active, status);
      assert.equal(fit(status).includes('delete'), !active, status);
      assert.equal(fit(status).includes('restart'), !active, status);
      assert.ok(fit(status).includes('openLog') && fit(status).includes('revealFolder'), status);
    }
  });

  it('offers Resume for a stopped, failed or lost run with a checkpoint', () => {
    assert.deepEqual(fit('stopped', 1), ['resume', 'restart', 'merge', 'openLog', 'revealFolder', 'delete']);
    assert.ok(fit('failed', 2).includes('resume') && fit('lost', 1).includes('resume'));
    assert.ok(!fit('failed', 0).includes('resume'), 'nothing to resume from');
    assert.ok(!fit('finished', 3).includes('resume'), 'a finished run is done');
  });

  it('offers Merge LoRA once a LoRA run has an adapter', () => {
    assert.deepEqual(fit('finished'), ['restart', 'merge', 'openLog', 'revealFolder', 'delete']);
    assert.ok(!fit('finished', 0, false).includes('merge'), 'full fine-tuning has no adapter');
    assert.ok(!fit('failed', 0).includes('merge'), 'no checkpoint, no adapter');
    assert.ok(!fit('training', 4).includes('merge'));
  });

  it('offers the W&B run once the trainer reported an online one', () => {
    assert.ok(!fit('training').includes('openWandb'));
    assert.deepEqual(actionsFor({ status: 'training', checkpoints: 0, wandb: true }), ['stop', 'openLog', 'openWandb', 'revealFolder']);
    assert.ok(actionsFor({ status: 'finished', checkpoints: 1, wandb: true }).includes('openWandb'));
  });
});
