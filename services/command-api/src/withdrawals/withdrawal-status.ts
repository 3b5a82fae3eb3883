import { eq } from 'drizzle-orm';
import { drizzle } from 'drizzle-orm/node-postgres';
import type { Pool } from 'pg';
import { withTransaction } from '@sluice/db';
import { SingleFlight, type AdmissionController, type Deadline } from '@sluice/resilience';
import type { Registry } from 'prom-client';
import { wallets, withdrawals } from '../db/schema';
import { toProblem } from '../commands/command-problems';

export interface WithdrawalStatus {
  withdrawalId: string;
  walletId: string;
  amount: number;
  currency: string;
  state: 'requested' | 'submitted' | 'completed' | 'failed' | 'compensated';
  createdAt: string;
  updatedAt: string;
}

/** A withdrawal's status and its wallet's owner, for the caller's authorization check. */
export interface OwnedWithdrawalStatus {
  status: WithdrawalStatus;
  owner: string | null;
}

/**
 * A withdrawal's state, for clients polling the Location a withdrawal request
 * answered with. Clients poll in bursts (every Retry-After seconds, often
 * many at once after a deploy), so identical reads in flight share one query,
 * and every query goes through the database's admission control.
 */
export class WithdrawalStatusReader {
  private readonly flight: SingleFlight<OwnedWithdrawalStatus | undefined>;

  constructor(
    private readonly pool: Pool,
    private readonly admission: AdmissionController,
    registry?: Registry,
  ) {
    this.flight = new SingleFlight('withdrawal_status', registry);
  }

  find(withdrawalId: string, deadline?: Deadline): Promise<OwnedWithdrawalStatus | undefined> {
    return this.flight
      .do(withdrawalId, () => this.query(withdrawalId, deadline))
      .catch((err: unknown) => {
        throw toProblem(err);
      });
  }

  private query(withdrawalId: string, deadline: Deadline | undefined): Promise<OwnedWithdrawalStatus | undefined> {
    return this.admission.run(async () => {
      const timeoutMs = deadline?.remainingMs();
      const [row] = await withTransaction(
        this.pool,
        (client) =>
          drizzle(client)
            .select({ withdrawal: withdrawals, owner: wallets.owner })
            .from(withdrawals)
            .innerJoin(wallets, eq(wallets.id, withdrawals.walletId))
            .where(eq(withdrawals.id, withdrawalId)),
        { ...(timeoutMs !== undefined && { timeoutMs }) },
      );
      if (!row) return undefined;
      const w = row.withdrawal;
      return {
        owner: row.owner,
        status: {
          withdrawalId: w.id,
          walletId: w.walletId,
          amount: w.amount,
          currency: w.currency,
          state: w.status,
          createdAt: w.createdAt.toISOString(),
          updatedAt: w.updatedAt.toISOString(),
        },
      };
    }, deadline);
  }
}
