import { BaseRpcContext } from '@nestjs/microservices';
import type { BatchContext, InboundRecord } from '@sluice/messaging';

/** What a NestJS handler on the runtime transport gets with @Ctx(): the record and its batch. */
export class RuntimeContext extends BaseRpcContext<[InboundRecord, BatchContext]> {
  getRecord(): InboundRecord {
    return this.args[0];
  }

  getBatch(): BatchContext {
    return this.args[1];
  }

  getTopic(): string {
    return this.args[0].topic;
  }

  getPartition(): number {
    return this.args[0].partition;
  }
}
