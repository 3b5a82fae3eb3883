import { z } from 'zod';
import { UUID_PATTERN } from '@sluice/core';
import { parseOrProblem } from '@sluice/http';

const Id = z.string().regex(UUID_PATTERN, 'must be a UUID');
const MinVersion = z.coerce.number().int().min(1).max(2_147_483_647).optional();

/** A UUID path parameter, lower-cased. */
export function idParam(raw: unknown, name: string): string {
  return parseOrProblem(Id, raw, `path.${name}`).toLowerCase();
}

/** ?minVersion=N: the version a command returned; the read waits (bounded) until the read model has it. */
export function minVersionParam(raw: unknown): number | undefined {
  return parseOrProblem(MinVersion, raw === '' ? undefined : raw, 'query.minVersion');
}
