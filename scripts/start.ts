// `npm start`: the product on its embedded defaults (see README for the settings).
import { DefaultLogger, Runtime } from '@temporalio/worker';
import { configFromEnv } from '../config';
import { startStack } from './stack';

async function main() {
  const log = (line: string) => console.log(`journeys: ${line}`);
  const config = configFromEnv();
  // Worker state changes and the bundler's report are noise to an operator; warnings are not.
  // Signals are ours to handle, so everything stops in order, not only the worker.
  Runtime.install({ logger: new DefaultLogger('WARN'), shutdownSignals: [] });
  const stack = await startStack(config, log);
  console.log(
    [
      '',
      'journeys is running',
      `  private API       ${stack.apiUrl}/v1   (try GET ${stack.apiUrl}/healthz)`,
      `  public (/u)       ${stack.publicUrl}   (emails link to ${config.unsubscribe.publicUrl}/u/…)`,
      `  Temporal          ${stack.temporalAddress}`,
      ...(stack.uiUrl ? [`  Temporal Web UI   ${stack.uiUrl}`] : []),
      stack.outboxDir ? `  SMTP outbox       smtp://127.0.0.1:${config.smtp.outboxPort} → ${stack.outboxDir}` : `  SMTP              ${config.smtp.url}`,
      `  data              ${config.dataDir}`,
      ...(config.waitScale !== 1 ? [`  waits             ${config.waitScale}× shorter (JOURNEY_WAIT_SCALE, for demos only)`] : []),
      '',
      'Ctrl-C stops everything.',
    ].join('\n'),
  );
  let stopping = false;
  const shutdown = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    log(`${signal}: stopping`);
    await stack.stop();
    log('stopped');
    process.exit(0);
  };
  process.on('SIGINT', () => void shutdown('SIGINT'));
  process.on('SIGTERM', () => void shutdown('SIGTERM'));
}

main().catch((err: Error) => {
  console.error(`journeys: ${err.message}`);
  process.exit(1);
});
