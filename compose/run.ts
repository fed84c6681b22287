// Runs roles as a long-lived process until SIGINT or SIGTERM: `journeys worker`, `journeys api`,
// `journeys consume kafka` and `npm run worker`. Each role registers what it needs on Temporal
// (search attributes, the Schedules) if missing, so any of them may be the first to start on a
// fresh cluster.
import { DefaultLogger, Runtime } from '@temporalio/worker';
import { ConfigError, configFromEnv, type Config } from '../config';
import { urlHost } from '../config/hosts';
import { compose } from './index';
import { startWorkerRole } from './roles';

export type Role = 'worker' | 'api' | 'kafka-consumer';

export async function runRoles(roles: Role[], log: (line: string) => void): Promise<void> {
  // Listening from the first moment, and for good: a signal during start-up, or a second one
  // while stopping, must not kill the process halfway with Node's default action.
  let signalled: (signal: string) => void = () => undefined;
  const stopAsked = new Promise<string>((resolve) => (signalled = resolve));
  const onSignal = (signal: string) => signalled(signal);
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);

  const config = configFromEnv();
  // Signals are ours to handle, so the process stops in order, not only the worker. The SDK's
  // own metrics (TEMPORAL_METRICS_ADDRESS) are the runtime's: set here, before any connection.
  if (roles.includes('worker')) installRuntime(config);
  // Required here, not imported: only this role loads kafkajs.
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const kafkaRole = roles.includes('kafka-consumer') ? (require('./consumerRole') as typeof import('./consumerRole')) : undefined;
  kafkaRole?.checkKafkaSettings(config);
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
      // Required here, not imported: a worker process never loads Fastify.
      // eslint-disable-next-line @typescript-eslint/no-require-imports
      const { startHttpApi } = require('./apiRole') as typeof import('./apiRole');
      const { access } = await startHttpApi(app);
      log(`private API on http://${urlHost(config.http.host)}:${config.http.port} (${access})`);
      log(`public listener (/u) on http://${urlHost(config.public.host)}:${config.public.port}, reached as ${config.unsubscribe.publicUrl}`);
    }
    const consumer = kafkaRole && (await kafkaRole.startKafkaConsumerRole(app, log));
    // A consumer that stops on an error it cannot get past ends the process with that error.
    log(`${await (consumer ? Promise.race([stopAsked, consumer.failed]) : stopAsked)}: finishing the work in hand`);
  } finally {
    await app.close();
  }
}

/** The worker's Temporal runtime, with the SDK's Prometheus exporter where TEMPORAL_METRICS_ADDRESS says (none when unset). */
function installRuntime(config: Config): void {
  const bindAddress = config.metrics.temporalAddress;
  try {
    Runtime.install({ logger: new DefaultLogger('WARN'), shutdownSignals: [], ...(bindAddress && { telemetryOptions: { metrics: { prometheus: { bindAddress } } } }) });
  } catch (err) {
    if (!bindAddress) throw err;
    throw new ConfigError(`TEMPORAL_METRICS_ADDRESS=${bindAddress}: ${(err as Error).message}`);
  }
}
