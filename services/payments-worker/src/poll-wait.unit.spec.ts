import { PollWait } from './poll-wait';

describe('PollWait', () => {
  beforeEach(() => jest.useFakeTimers());
  afterEach(() => jest.useRealTimers());

  /** How long (fake) time ran until the wait ended, in 10 ms steps. */
  async function waited(wait: PollWait, dueInMs?: number): Promise<number> {
    let over = false;
    const done = wait.idle(dueInMs).then(() => (over = true));
    let ms = 0;
    while (!over && ms < 60_000) {
      await jest.advanceTimersByTimeAsync(10);
      ms += 10;
    }
    await done;
    return ms;
  }

  it('doubles the wait with each empty round up to the idle maximum, and starts over after a round with work', async () => {
    const wait = new PollWait(200, 2_000);
    const waits = [];
    for (let i = 0; i < 6; i++) waits.push(await waited(wait));
    expect(waits).toEqual([200, 400, 800, 1_600, 2_000, 2_000]);
    wait.worked();
    expect(await waited(wait)).toBe(200);
  });

  it('cuts the wait to when the next item falls due, never below the poll interval', async () => {
    const wait = new PollWait(200, 2_000);
    for (let i = 0; i < 5; i++) await waited(wait);
    expect(await waited(wait, 700)).toBe(700);
    expect(await waited(wait, 10)).toBe(200);
  });

  it('ends a wait at once when woken, and one woken before it began does not wait at all', async () => {
    const wait = new PollWait(200, 2_000);
    for (let i = 0; i < 5; i++) await waited(wait);
    const started = Date.now();
    const done = wait.idle();
    await jest.advanceTimersByTimeAsync(50);
    wait.wake();
    await done;
    expect(Date.now() - started).toBe(50);
    // Woken: the backoff starts over.
    expect(wait.nextWaitMs).toBe(200);

    wait.wake(); // work arrived during a round
    const before = Date.now();
    await wait.idle();
    expect(Date.now() - before).toBe(0);
  });
});
