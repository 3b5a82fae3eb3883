import { OutboundQueue, type DropReason, type OutboundMessage } from './outbound-queue';

const msg = (key: string, final = false, payload = key): OutboundMessage => ({ key, final, payload });

function queue(over: { capacity?: number; ratePerSec?: number; burst?: number; writable?: () => boolean } = {}) {
  const sent: string[] = [];
  const drops: DropReason[] = [];
  let slow = 0;
  const now = { t: 0 };
  const q = new OutboundQueue({
    capacity: over.capacity ?? 3,
    ratePerSec: over.ratePerSec ?? 1,
    burst: over.burst ?? 1,
    write: (m) => {
      sent.push(m.payload);
      return over.writable?.() ?? true;
    },
    onSlowConsumer: () => slow++,
    onDrop: (r) => drops.push(r),
    clock: () => now.t,
  });
  return { q, sent, drops, slow: () => slow, now };
}

describe('OutboundQueue', () => {
  afterEach(() => jest.useRealTimers());

  it('sends at once within the burst, then no faster than the rate', () => {
    jest.useFakeTimers();
    const { q, sent, now } = queue({ ratePerSec: 10, burst: 2, capacity: 10 });
    for (const k of ['a', 'b', 'c', 'd']) q.push(msg(k));
    expect(sent).toEqual(['a', 'b']);
    now.t = 100;
    jest.advanceTimersByTime(100);
    expect(sent).toEqual(['a', 'b', 'c']);
  });

  it('replaces a queued intermediate state of the same withdrawal with the newer one', () => {
    const { q, sent, drops } = queue();
    q.push(msg('a', false, 'a1'));
    q.push(msg('b', false, 'b1'));
    q.push(msg('b', false, 'b2'));
    expect(q.depth).toBe(1);
    expect(drops).toEqual(['superseded']);
    expect(sent).toEqual(['a1']);
  });

  it('on overflow drops intermediate states, oldest first, and never a final state', () => {
    const { q, drops, slow } = queue({ capacity: 2 });
    q.push(msg('x')); // sent (burst 1)
    q.push(msg('a'));
    q.push(msg('b'));
    q.push(msg('c', true));
    expect(drops).toEqual(['overflow']);
    q.push(msg('d'));
    expect(drops).toEqual(['overflow', 'overflow']);
    expect(q.depth).toBe(2);
    expect(slow()).toBe(0);
  });

  it('closes a connection whose queue is full of final states (the client resumes with Last-Event-ID)', () => {
    const { q, slow } = queue({ capacity: 2 });
    q.push(msg('x', true));
    q.push(msg('a', true));
    q.push(msg('b', true));
    q.push(msg('c', true));
    expect(slow()).toBe(1);
    expect(q.depth).toBe(0);
  });

  it('stops writing while the socket is full and goes on when it drains', () => {
    let writable = false;
    const { q, sent } = queue({ ratePerSec: 100, burst: 100, capacity: 10, writable: () => writable });
    q.push(msg('a'));
    q.push(msg('b'));
    expect(sent).toEqual(['a']);
    expect(q.idle).toBe(false);
    writable = true;
    q.resume();
    expect(sent).toEqual(['a', 'b']);
    expect(q.idle).toBe(true);
  });
});
