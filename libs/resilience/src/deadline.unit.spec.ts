import { Deadline } from './deadline';
import { ResilienceError } from './errors';

describe('Deadline', () => {
  it('counts down from its budget and reports expiry as deadline_exceeded', () => {
    let now = 1_000;
    const deadline = Deadline.after(400, () => now);
    expect(deadline.remainingMs()).toBe(400);
    now += 150;
    expect(deadline.remainingMs()).toBe(250);
    expect(() => deadline.check('x')).not.toThrow();
    now += 1_000;
    expect(deadline.remainingMs()).toBe(0);
    expect(deadline.expired).toBe(true);
    let thrown: unknown;
    try {
      deadline.check('in the database');
    } catch (err) {
      thrown = err;
    }
    expect(thrown).toBeInstanceOf(ResilienceError);
    expect(thrown).toMatchObject({ code: 'deadline_exceeded', retriable: true });
  });

  it('is capped, never extended', () => {
    let now = 0;
    const deadline = Deadline.after(400, () => now);
    expect(deadline.cap(100).remainingMs()).toBe(100);
    expect(deadline.cap(10_000).remainingMs()).toBe(400);
    now = 50;
    expect(deadline.cap(100).expiresAt).toBe(150);
  });
});
