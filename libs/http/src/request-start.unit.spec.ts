import { requestStartOf } from './backpressure';

describe('requestStartOf (X-Request-Start from an edge proxy)', () => {
  it.each<[string, number]>([
    ['t=1764230400.123', 1764230400123],
    ['1764230400.5', 1764230400500],
    ['t=1764230400123', 1764230400123],
    ['t=1764230400123456', 1764230400123.456],
  ])('reads %s as %d ms since the epoch', (header, ms) => {
    expect(requestStartOf({ 'x-request-start': header })).toBeCloseTo(ms, 3);
  });

  it.each([['t='], ['soon'], ['-5'], ['0'], ['t=NaN']])('ignores a stamp it cannot read (%s)', (header) => {
    expect(requestStartOf({ 'x-request-start': header })).toBeUndefined();
  });

  it('is undefined without the header', () => {
    expect(requestStartOf({})).toBeUndefined();
  });
});
