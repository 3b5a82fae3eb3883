import { DEFAULT_TOPIC_PATTERN, routeTopic, subjectFor } from './routing';

describe('topic routing', () => {
  it("routes by aggregate type with Debezium's default pattern", () => {
    expect(routeTopic(DEFAULT_TOPIC_PATTERN, 'wallet')).toBe('outbox.event.wallet');
  });

  it('supports prefixes and repeated placeholders', () => {
    expect(routeTopic('t1.${routedByValue}.events.${routedByValue}', 'wallet')).toBe('t1.wallet.events.wallet');
  });

  it('rejects an aggregate type that makes an illegal topic name', () => {
    expect(() => routeTopic(DEFAULT_TOPIC_PATTERN, 'wal let')).toThrow(/legal Kafka topic/);
  });

  it('names subjects by TopicRecordNameStrategy', () => {
    expect(subjectFor('outbox.event.wallet', 'dev.sluice.wallet.FundsDeposited')).toBe(
      'outbox.event.wallet-dev.sluice.wallet.FundsDeposited',
    );
  });
});
