// The run panel's header redraw: at most once per interval while events stream in, whatever
// direct redraws (a status change, the one-second clock) come between them. It once ran at
// the events' rate: each direct redraw left a pending timer firing beside the next one.
import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, it, mock } from 'node:test';
import { Throttled } from '../../webview/runPanel/throttle';

describe('Throttled', () => {
  beforeEach(() => mock.timers.enable({ apis: ['setTimeout', 'setInterval'] }));
  afterEach(() => mock.timers.reset());

  it('runs once per interval for a burst of calls', () => {
    let runs = 0;
    const header = new Throttled(() => (runs += 1), 250);
    for (let i = 0; i < 10; i++) header.soon();
    mock.timers.tick(249);
    assert.equal(runs, 0);
    mock.timers.tick(1);
    assert.equal(runs, 1);
    mock.timers.tick(1000);
    assert.equal(runs, 1, 'nothing more without new calls');
  });

  it('now() runs at once and the pending run does not fire after it', () => {
    let runs = 0;
    const header = new Throttled(() => (runs += 1), 250);
    header.soon();
    mock.timers.tick(100);
    header.now();
    assert.equal(runs, 1);
    mock.timers.tick(1000);
    assert.equal(runs, 1);
    header.soon();
    mock.timers.tick(250);
    assert.equal(runs, 2, 'soon() schedules again after now()');
  });

  it('events at 10 Hz with a redraw every second run at most 4 + 1 times a second', () => {
    let runs = 0;
    const header = new Throttled(() => (runs += 1), 250);
    setInterval(() => header.now(), 1000);
    setInterval(() => header.soon(), 100);
    for (let ms = 0; ms < 20_000; ms += 10) mock.timers.tick(10);
    // 20 s: the one-second redraws (20) and at most one throttled run per 250 ms (80).
    assert.ok(runs <= 100, `${runs} runs in 20 s`);
    assert.ok(runs >= 60, `${runs} runs in 20 s: the throttled redraws keep coming`);
  });

  it('cancel() drops the pending run', () => {
    let runs = 0;
    const header = new Throttled(() => (runs += 1), 250);
    header.soon();
    header.cancel();
    mock.timers.tick(1000);
    assert.equal(runs, 0);
  });
});
