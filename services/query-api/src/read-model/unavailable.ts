import { problems } from '@sluice/http';

/** PostgreSQL codes that mean "not now" rather than "broken": answered 503 with Retry-After. */
const UNAVAILABLE: Record<string, string> = {
  '42P01': 'the read model does not exist yet (the projector creates it at start-up)',
  '57014': 'the database did not answer in time',
  '53300': 'the database has no free connection',
};

/** Runs a read, turning "not now" database errors into 503 problem+json. */
export async function readOrUnavailable<T>(read: () => Promise<T>): Promise<T> {
  try {
    return await read();
  } catch (err) {
    const detail = UNAVAILABLE[pgCode(err) ?? ''];
    if (detail) throw problems.unavailable(detail, 1);
    throw err;
  }
}

/** drizzle and pg wrap driver errors; the SQLSTATE sits on the error or its cause. */
function pgCode(err: unknown): string | undefined {
  for (let e: unknown = err, depth = 0; e instanceof Error && depth < 4; e = e.cause, depth++) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === 'string') return code;
  }
  return undefined;
}
