import { loadConfig, z } from '@sluice/config';
import { aclNamesEnv, aclPlan, platformKafkaNames, type Grant } from './kafka-acls';

const names = platformKafkaNames('outbox.event.${routedByValue}', loadConfig(z.object(aclNamesEnv), {}));
const plan = aclPlan(names);
const who = (resource: Grant['resource'], name: string, operation: Grant['operation']) =>
  plan
    .filter((g) => g.resource === resource && g.name === name && g.operation === operation)
    .map((g) => g.principal)
    .sort();

describe('aclPlan', () => {
  it('lets the relay alone write the event topics, by their prefix', () => {
    expect(plan.filter((g) => g.operation === 'WRITE' && g.name.startsWith('outbox.event.'))).toEqual([
      { principal: 'User:sluice-outbox-relay', resource: 'topic', name: 'outbox.event.', prefixed: true, operation: 'WRITE' },
    ]);
  });

  it('lets the payments worker and the bonus service alone write the command topic', () => {
    expect(who('topic', 'sluice.wallet.commands', 'WRITE')).toEqual(['User:sluice-bonus-service', 'User:sluice-payments-worker']);
  });

  it('lets the command API alone read the command topic, in its own group, and write its dead-letter topic', () => {
    expect(who('topic', 'sluice.wallet.commands', 'READ')).toEqual(['User:sluice-command-api']);
    // Its start-up check reads the topic's retention.ms (the inbox window must outlast it).
    expect(who('topic', 'sluice.wallet.commands', 'DESCRIBE_CONFIGS')).toEqual(['User:sluice-command-api']);
    expect(who('group', 'sluice-command-api', 'READ')).toEqual(['User:sluice-command-api']);
    expect(who('topic', 'sluice.wallet.commands.dlq', 'WRITE')).toEqual(['User:sluice-command-api']);
  });

  it('gives each consumer its own group and dead-letter topic (<group>.dlq unless set)', () => {
    for (const [service, group] of [
      ['projector', 'sluice-projector-wallet'],
      ['payments-worker', 'sluice-payments-worker'],
      ['bonus-service', 'sluice-bonus-service'],
    ]) {
      expect(who('group', group!, 'READ')).toEqual([`User:sluice-${service}`]);
      expect(who('topic', `${group}.dlq`, 'WRITE')).toEqual([`User:sluice-${service}`]);
      expect(who('topic', 'outbox.event.wallet', 'READ')).toContain(`User:sluice-${service}`);
    }
  });

  it('gives the observer read and describe on every topic, its group prefix, and no write', () => {
    const observer = plan.filter((g) => g.principal === 'User:sluice-observer');
    expect(observer.map((g) => `${g.operation} ${g.resource} ${g.name}${g.prefixed ? '*' : ''}`).sort()).toEqual([
      'DESCRIBE topic *',
      'READ group sluice-observer*',
      'READ topic *',
    ]);
  });

  it('grants no prefix to a service but the relay, and no cluster rights to anyone', () => {
    expect(plan.filter((g) => g.prefixed && g.resource === 'topic').map((g) => g.principal)).toEqual([
      'User:sluice-outbox-relay',
    ]);
    expect(plan.every((g) => g.resource === 'topic' || g.resource === 'group')).toBe(true);
  });

  it('follows the namespaced names of a second platform on the same broker', () => {
    const ns = platformKafkaNames('b1.outbox.event.${routedByValue}', {
      ...loadConfig(z.object(aclNamesEnv), {}),
      WALLET_COMMANDS_TOPIC: 'b1.sluice.wallet.commands',
      PROJECTOR_GROUP_ID: 'b1.sluice-projector-wallet',
    });
    expect(ns).toMatchObject({
      eventTopicPrefix: 'b1.outbox.event.',
      walletEventTopic: 'b1.outbox.event.wallet',
      commandTopic: 'b1.sluice.wallet.commands',
      projectorDlqTopic: 'b1.sluice-projector-wallet.dlq',
    });
  });

  it('refuses a topic pattern without a fixed prefix (the relay would need every topic)', () => {
    expect(() => platformKafkaNames('${routedByValue}', loadConfig(z.object(aclNamesEnv), {}))).toThrow(RangeError);
  });
});
