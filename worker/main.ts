// `npm run worker`: the worker role alone, for a deployment where workers run apart from the
// API (several of them, on other hosts). Needs TEMPORAL_ADDRESS; settings as in the README.
import { DefaultLogger, Runtime } from '@temporalio/worker';
import { compose } from '../compose';
import { startWorkerRole } from '../compose/roles';
import { configFromEnv } from '../config';

async function main() {
  const log = (line: string) => console.log(`journeys worker: ${line}`);
  const config = configFromEnv();
  Runtime.install({ logger: new DefaultLogger('WARN'), shutdownSignals: [] });
  const app = await compose(config);
  try {
    await startWorkerRole(app);
  } catch (err) {
    await app.close();
    throw err;
  }
  log(`polling ${config.temporal.taskQueue} on ${config.temporal.address ?? 'the embedded dev server'}`);
  let stopping = false;
  const shutdown = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    log(`${signal}: finishing the activities in hand`);
    await app.close();
    process.exit(0);
  };
  process.on('SIGINT', () => void shutdown('SIGINT'));
  process.on('SIGTERM', () => void shutdown('SIGTERM'));
}

main().catch((err: Error) => {
  console.error(`journeys worker: ${err.message}`);
  process.exit(1);
});
