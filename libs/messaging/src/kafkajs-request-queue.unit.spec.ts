// kafkajs 2.2.4 re-armed a 1 ms timer for ever on every broker connection with no pending
// request (kafkajs#1556): about 3 % of a core per idle client here. patches/kafkajs+2.2.4.patch
// (applied by patch-package on install) arms it only while requests wait; this checks the
// installed copy carries the patch.
// eslint-disable-next-line @typescript-eslint/no-require-imports
const RequestQueue = require('kafkajs/src/network/requestQueue') as new (options: object) => {
  pending: unknown[];
  throttleCheckTimeoutId: NodeJS.Timeout | null;
  checkPendingRequests(): void;
  scheduleCheckPendingRequests(): void;
};

const logger = { debug: () => undefined, info: () => undefined, warn: () => undefined, error: () => undefined };

function queue() {
  return new RequestQueue({ maxInFlightRequests: null, requestTimeout: 1_000, clientId: 't', broker: 'b', logger });
}

describe('kafkajs request queue (patched)', () => {
  it('arms no timer while no request is pending', () => {
    const q = queue();
    q.checkPendingRequests();
    expect(q.throttleCheckTimeoutId).toBeNull();
  });

  it('still checks pending requests on a timer while some wait', () => {
    const q = queue();
    q.pending.push({});
    q.scheduleCheckPendingRequests();
    expect(q.throttleCheckTimeoutId).not.toBeNull();
    clearTimeout(q.throttleCheckTimeoutId!);
  });
});
