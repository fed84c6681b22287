/** The user asked for something that cannot work as asked (exit code 2). */
export class UsageError extends Error {}
