import type { Command } from 'commander';

/**
 * `journeys worker` and `journeys api`: one role each, as a long-lived process, any number of
 * each on any host. Loaded on demand, so the other commands never load the worker's runtime.
 */
export function registerRoles(program: Command, out: (line: string) => void): void {
  program
    .command('worker')
    .description("run the worker role: every journey's workflows and activities (SMTP sends included), polling the task queue until SIGTERM")
    .action(async () => {
      await runRoles()(['worker'], (line) => out(`journeys worker: ${line}`));
    });
  program
    .command('api')
    .description('run the HTTP API role until SIGTERM: the private API (/v1) on HOST:PORT, the unsubscribe pages (/u) on PUBLIC_HOST:PUBLIC_PORT')
    .action(async () => {
      await runRoles()(['api'], (line) => out(`journeys api: ${line}`));
    });
}

/**
 * A require, not import(): bin/journeys.js runs the sources through tsx's CommonJS hook, and an
 * import() there goes to Node's ESM loader, which has no such hook and finds no compose/run.js.
 */
function runRoles(): typeof import('../../compose/run').runRoles {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  return (require('../../compose/run') as typeof import('../../compose/run')).runRoles;
}
