import { Catch, type RpcExceptionFilter } from '@nestjs/common';
import { throwError, type Observable } from 'rxjs';

/**
 * NestJS turns an error thrown by an RPC handler into a generic "Internal
 * server error" object; the runtime's retry and dead-letter middleware need
 * the error itself (its code, retriable flag and cause). Put it on every
 * controller of the runtime transport: @UseFilters(new RethrowErrors()).
 */
@Catch()
export class RethrowErrors implements RpcExceptionFilter<unknown> {
  catch(exception: unknown): Observable<never> {
    return throwError(() => exception);
  }
}
