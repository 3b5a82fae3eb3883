import { ArrivalRate } from './arrival-rate';

describe('ArrivalRate', () => {
  it('is 0 until a window has passed, then the records per second of the last window', () => {
    const rate = new ArrivalRate(250, 1_000);
    for (let t = 0; t < 250; t += 10) rate.note(t, 1);
    expect(rate.value).toBe(0);
    rate.note(250, 1); // 26 records over 250 ms
    expect(rate.value).toBeCloseTo(104, 5);
    for (let t = 260; t <= 500; t += 10) rate.note(t, 4);
    expect(rate.value).toBeCloseTo(400, 5);
  });

  it('starts again from 0 after a quiet spell', () => {
    const rate = new ArrivalRate(250, 1_000);
    for (let t = 0; t <= 500; t += 10) rate.note(t, 1);
    expect(rate.value).toBeGreaterThan(90);
    rate.note(1_600, 1);
    expect(rate.value).toBe(0);
    rate.note(1_700, 1);
    expect(rate.value).toBe(0);
  });

  it('keeps the last rate through gaps shorter than a quiet spell', () => {
    const rate = new ArrivalRate(250, 1_000);
    for (let t = 0; t <= 250; t += 10) rate.note(t, 1);
    expect(rate.value).toBeCloseTo(104, 5);
    rate.note(900, 1); // 650 ms after the window began: it closes with 1 record
    expect(rate.value).toBeCloseTo(1_000 / 650, 5);
  });
});
