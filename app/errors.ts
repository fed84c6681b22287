import type { z } from 'zod';
import type { EventField } from '../store/types';

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

/** An event id recorded before with another payload: an id names one event, so this is no retry, and nothing was recorded or routed. */
export class EventIdConflictError extends Error {
  constructor(
    readonly eventId: string,
    readonly differsIn: EventField[],
  ) {
    super(`event id "${eventId}" was recorded before with different ${differsIn.join(' and ')}: an id names one event, so send a new event with a new id`);
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
