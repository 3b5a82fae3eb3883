import type { FastifyReply } from 'fastify';
import type { CommandResult } from './command-transaction';

export function sendCommandResult(reply: FastifyReply, result: CommandResult): void {
  void reply
    .code(result.response.status)
    .headers(result.response.headers)
    .header('idempotent-replayed', result.replayed ? 'true' : 'false')
    .type('application/json')
    .send(result.response.body);
}
