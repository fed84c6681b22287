// Runs roles as a long-lived process until SIGINT or SIGTERM: `journeys worker`, `journeys api`
// and `npm run worker`. Each role registers what it needs on Temporal (search attributes, the
// Schedules) if missing, so any of them may be the first to start on a fresh cluster.
import { DefaultLogger, Runtime } from '@temporalio/worker';
import { configFromEnv } from '../config';
import { compose } from './index';
import { startHttpApi, startWorkerRole } from './roles';

export type Role = 'worker' | 'api';

export async function runRoles(roles: Role[], log: (line: string) => void): Promise<void> {
  // Listening from the first moment, and for good: a signal during start-up, or a second one
  // while stopping, must not kill the process halfway with Node's default action.
  let signalled: (signal: string) => void = () => undefined;
  const stopAsked = new Promise<string>((resolve) => (signalled = resolve));
  const onSignal = (signal: string) => signalled(signal);
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);

  const config = configFromEnv();
  // Signals are ours to handle, so the process stops in order, not only the worker.
  if (roles.includes('worker')) Runtime.install({ logger: new DefaultLogger('WARN'), shutdownSignals: [] });
  const app = await compose(config);
  try {
    await app.ensureSearchAttributes();
    await app.ensureSchedules(log);
    const started = Date.now();
    if (roles.includes('worker')) {
      await startWorkerRole(app, log);
      log(`worker polling ${config.temporal.taskQueue} on ${config.temporal.address ?? 'the embedded dev server'} (ready in ${Date.now() - started} ms)`);
    }
    if (roles.includes('api')) {
      await startHttpApi(app);
      log(`HTTP API on http://${config.http.host}:${config.http.port}`);
    }
    log(`${await stopAsked}: finishing the work in hand`);
  } finally {
    await app.close();
  }
}
