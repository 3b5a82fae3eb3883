import type { z } from 'zod';
import { problems } from './problem';

/** Parses a request part against a zod schema, answering 400 problem+json on failure. */
export function parseOrProblem<S extends z.ZodType>(schema: S, value: unknown, what = 'body'): z.infer<S> {
  const result = schema.safeParse(value);
  if (result.success) return result.data;
  const errors = result.error.issues.map((i) => ({
    path: [what, ...i.path.map(String)].join('.'),
    message: i.message,
  }));
  throw problems.validation(errors.map((e) => `${e.path}: ${e.message}`).join('; '), errors);
}
