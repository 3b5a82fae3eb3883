import { Server, type CustomTransportStrategy } from '@nestjs/microservices';
import { isObservable, lastValueFrom } from 'rxjs';
import { errorMessage, isRetriable } from '@sluice/core';
import { failureCode, RecordError, withRecordContext, type Handler, type Subscriber } from '@sluice/messaging';
import { RuntimeContext } from './runtime-context';

export interface RuntimeTransportOptions {
  /** Subscribes to the topics the application's @EventPattern handlers name. */
  subscriber: (topics: readonly string[]) => Subscriber;
  /** The runtime's middleware around the dispatch to the NestJS handlers (consumerPipeline). */
  pipeline: (dispatch: Handler) => Handler;
}

/**
 * A NestJS microservice transport on the consumer runtime: a handler
 * declared with @EventPattern(topic) receives each record of that topic in
 * order, as the decoded event when the pipeline decodes (else the raw
 * value), with a RuntimeContext. What the handler throws reaches the
 * runtime's retry and dead-letter middleware (see RethrowErrors); what it
 * resolves is committed.
 */
export class RuntimeTransport extends Server implements CustomTransportStrategy {
  private subscriber: Subscriber | undefined;

  constructor(private readonly options: RuntimeTransportOptions) {
    super();
  }

  listen(callback: (...optionalParams: unknown[]) => unknown): void {
    const topics = [...this.messageHandlers.keys()];
    const subscriber = this.options.subscriber(topics);
    this.subscriber = subscriber;
    subscriber.start(this.options.pipeline(this.dispatch)).then(
      () => callback(),
      (err: unknown) => callback(err),
    );
  }

  async close(): Promise<void> {
    await this.subscriber?.stop();
    this.subscriber = undefined;
  }

  /** For readiness: throws until the subscriber joined its group. */
  assertConsuming(): void {
    if (!this.subscriber) throw new Error('the runtime transport is not listening');
    this.subscriber.assertConsuming();
  }

  on(): never {
    throw new Error('the runtime transport has no events to listen to');
  }

  unwrap<T>(): T {
    if (!this.subscriber) throw new Error('the runtime transport is not listening');
    return this.subscriber as T;
  }

  private readonly dispatch: Handler = async (messages, ctx) => {
    for (const message of messages) {
      const { record } = message;
      const handler = this.getHandlerByPattern(record.topic);
      if (!handler) throw new Error(`no @EventPattern handler for topic ${record.topic}`);
      try {
        // In the record's trace context: what the handler writes (outbox rows, log lines) joins its trace.
        const result: unknown = await withRecordContext(record, () =>
          handler(message.event ?? record.value, new RuntimeContext([record, ctx])),
        );
        if (isObservable(result)) await lastValueFrom(result, { defaultValue: undefined });
      } catch (err) {
        // Pinned on its record: the dead-letter middleware parks this one, not the batch.
        throw new RecordError(failureCode(err), errorMessage(err), record, { cause: err, retriable: isRetriable(err) });
      }
    }
  };
}
