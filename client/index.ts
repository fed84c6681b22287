import { join } from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { consentDefault, readConfig, temporalAddress, type Config } from '../domain/config';
import { loadCatalogue } from '../journeys';
import { openSqliteStore } from '../store/sqlite';
import type { Store } from '../store/types';
import { JourneyClient } from './journeyClient';

export { JourneyClient } from './journeyClient';
export { ValidationError } from './errors';

export const PROJECT_ROOT = join(__dirname, '..');

export function configFromEnv(env: NodeJS.ProcessEnv = process.env): Config {
  return readConfig(env, PROJECT_ROOT);
}

export interface ConnectedJourneys {
  journeys: JourneyClient;
  store: Store;
  connection: Connection;
  close(): Promise<void>;
}

/**
 * Opens a Temporal connection (and the store, unless one is given) and wires a JourneyClient
 * to them; `close` closes only what it opened.
 */
export async function connectJourneys(config: Config, sharedStore?: Store): Promise<ConnectedJourneys> {
  const store = sharedStore ?? openSqliteStore(config.storeFile);
  const address = temporalAddress(config);
  const connection = await Connection.connect({ address, connectTimeout: '3s' }).catch((err: Error) => {
    throw new Error(`cannot reach Temporal at ${address} (${err.message}); start the product with \`npm start\` or set TEMPORAL_ADDRESS`);
  });
  const journeys = new JourneyClient({
    temporal: new Client({ connection, namespace: config.temporal.namespace }),
    store,
    catalogue: loadCatalogue(),
    taskQueue: config.temporal.taskQueue,
    waitScale: config.waitScale,
    maxStartsInFlight: config.maxStartsInFlight,
    consentDefault: consentDefault(config),
  });
  return {
    journeys,
    store,
    connection,
    async close() {
      await connection.close();
      if (!sharedStore) await store.close();
    },
  };
}
