// The pacing of flushes that follow a stream of events (src/shared/coalescer.ts): the run
// panel host's and the config editor's posts, and the run panel webview's header.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Timers } from '../../src/shared/coalescer';
import { Coalescer } from '../../src/shared/coalescer';

describe('Coalescer', () => {
  function fakeTimers() {
    let now = 0;
    const queue: Array<{ at: number; fn: () => void; id: number }> = [];
    let nextId = 0;
    const timers: Timers = {
      setTimeout: (fn, ms) => {
        const id = nextId++;
        queue.push({ at: now + ms, fn, id });
        return id;
      },
      clearTimeout: (handle) => {
        const i = queue.findIndex((t) => t.id === handle);
        if (i >= 0) queue.splice(i, 1);
      },
      now: () => now,
    };
    const advance = (ms: number) => {
      now += ms;
      for (let t = queue.find((q) => q.at <= now); t !== undefined; t = queue.find((q) => q.at <= now)) {
        queue.splice(queue.indexOf(t), 1);
        t.fn();
      }
    };
    return { timers, advance };
  }

  it('flushes a lone request at once and bursts at most once per interval', () => {
    const { timers, advance } = fakeTimers();
    let flushes = 0;
    const c = new Coalescer(() => flushes++, 200, timers);
    c.request();
    assert.equal(flushes, 1);
    for (let ms = 0; ms < 1000; ms += 10) {
      c.request();
      advance(10);
    }
    assert.ok(flushes >= 5 && flushes <= 7, `~5 flushes per second, got ${flushes}`);
    c.dispose();
    c.request();
    advance(1000);
    const after = flushes;
    advance(1000);
    assert.equal(flushes, after);
  });

  it('flushNow() flushes at once and the pending flush does not fire after it', () => {
    const { timers, advance } = fakeTimers();
    let flushes = 0;
    const c = new Coalescer(() => flushes++, 250, timers);
    c.request();
    c.request();
    assert.equal(flushes, 1);
    advance(100);
    c.flushNow();
    assert.equal(flushes, 2);
    advance(1000);
    assert.equal(flushes, 2, 'the request pending before flushNow() is dropped');
    c.request();
    assert.equal(flushes, 3, 'a request after a quiet interval flushes at once');
  });

  // The run panel's header: events at 10 Hz, and the one-second clock redrawing it directly.
  // It once ran at the events' rate: each direct redraw left a pending timer firing beside
  // the next one (202 redraws in this scenario).
  it('events at 10 Hz with a direct flush every second flush at most 4 + 1 times a second', () => {
    const { timers, advance } = fakeTimers();
    let flushes = 0;
    const c = new Coalescer(() => flushes++, 250, timers);
    for (let ms = 0; ms < 20_000; ms += 10) {
      if (ms % 100 === 0) c.request();
      if (ms % 1000 === 0) c.flushNow();
      advance(10);
    }
    // The clock's 20, at most one paced flush per 250 ms (80), and the first request's.
    assert.ok(flushes <= 101, `${flushes} flushes in 20 s`);
    assert.ok(flushes >= 60, `${flushes} flushes in 20 s: the paced flushes keep coming`);
  });
});
