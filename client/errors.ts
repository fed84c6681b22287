import type { z } from 'zod';

export interface Problem {
  /** Where the problem is, e.g. "properties.cartId" or "items.0.email". */
  path: string;
  message: string;
}

/** Bad input from a user: every problem with its field path; nothing was started or stored. */
export class ValidationError extends Error {
  constructor(
    readonly what: string,
    readonly problems: Problem[],
  ) {
    super(`invalid ${what}: ${problems.map((p) => `${p.path || '(body)'}: ${p.message}`).join('; ')}`);
  }
}

export function problemsOf(error: z.ZodError): Problem[] {
  return error.issues.map((issue) => ({ path: issue.path.map(String).join('.'), message: issue.message }));
}

export function parseInput<T extends z.ZodType>(schema: T, input: unknown, what: string): z.infer<T> {
  const result = schema.safeParse(input);
  if (!result.success) throw new ValidationError(what, problemsOf(result.error));
  return result.data;
}
