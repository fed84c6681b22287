// The operator commands' way in: this machine's store and Temporal (a JourneyClient), or a
// deployment's HTTP API when JOURNEYS_URL is set (a JourneysHttpClient). Both answer alike.
import type { Writable } from 'node:stream';
import type { Command } from 'commander';
import type { JourneyClient } from '../app/journeyClient';
import { listSends } from '../app/sends';
import { apiBaseUrl, JourneysHttpClient } from '../client/httpClient';
import type { Store } from '../store/types';
import { UsageError } from './usageError';

/**
 * What `event`, `consent`, `status`, `segments`, `audit`, `erase`, `suppress` and `sends` need, locally or
 * remotely. `suppress` may leave out which customers have the address: the API keeps that to itself.
 */
export type Operator = Pick<JourneyClient, 'ingest' | 'changeConsent' | 'runsOf' | 'segmentsOf' | 'audit' | 'erase' | 'sends' | 'resolveSend'> & {
  suppress(input: unknown): Promise<{ suppressed: boolean; customers?: string[] }>;
};

/** A deployment's HTTP API, named by JOURNEYS_URL. */
export interface RemoteOperator {
  /** The API's address, for messages. */
  url: string;
  operator: Operator;
  /** `journeys report` through GET /v1/journeys/:journeyId/report. */
  reports?: Pick<JourneysHttpClient, 'journeyReport'>;
}

/** What the operator commands reach for (CliDeps has these). */
export interface OperatorDeps {
  connect(): Promise<{ journeys: Operator; close(): Promise<void> }>;
  openStore(): Promise<{ store: Store; close(): Promise<void> }>;
  remote?: RemoteOperator;
}

/**
 * JOURNEYS_URL and JOURNEYS_API_KEY, read once at start: the deployment every operator command
 * goes to, or undefined (neither set) for this machine's store and Temporal. A bad value is a
 * UsageError naming the setting; the key itself is never quoted.
 */
export function remoteFromEnv(env: Record<string, string | undefined>): RemoteOperator | undefined {
  const url = env.JOURNEYS_URL?.trim() || undefined;
  const apiKey = env.JOURNEYS_API_KEY?.trim() || undefined;
  if (url === undefined) {
    if (apiKey !== undefined) {
      throw new UsageError(
        'JOURNEYS_API_KEY is set but JOURNEYS_URL is not: set JOURNEYS_URL to the address of the deployment\'s HTTP API (e.g. https://journeys-admin.internal:3000), or unset JOURNEYS_API_KEY to work on this machine\'s store',
      );
    }
    return undefined;
  }
  try {
    apiBaseUrl(url);
  } catch (err) {
    throw new UsageError(`JOURNEYS_URL ${(err as Error).message}; it must be the http(s) address of a journeys HTTP API, e.g. https://journeys-admin.internal:3000`);
  }
  let client: JourneysHttpClient;
  try {
    client = new JourneysHttpClient({ url, apiKey });
  } catch {
    throw new UsageError('JOURNEYS_API_KEY holds spaces, line breaks or other characters no API key has (journeys keys create prints one)');
  }
  return { url: client.url, operator: client, reports: client };
}

/** Runs `use` on the deployment's API when JOURNEYS_URL is set, else on a JourneyClient of this machine (store and Temporal). */
export async function withOperator<T>(deps: OperatorDeps, use: (operator: Operator) => Promise<T>): Promise<T> {
  if (deps.remote) return use(deps.remote.operator);
  const { journeys, close } = await deps.connect();
  try {
    return await use(journeys);
  } finally {
    await close();
  }
}

/** As withOperator, for listing sends: locally that reads the store alone, so it answers while Temporal is down. */
export async function withSendLedger<T>(deps: OperatorDeps, use: (ledger: Pick<Operator, 'sends'>) => Promise<T>): Promise<T> {
  if (deps.remote) return use(deps.remote.operator);
  const { store, close } = await deps.openStore();
  try {
    return await use({ sends: (query) => listSends(store, query) });
  } finally {
    await close();
  }
}

/** Runs `use` on the store this machine opens (DATA_DIR or DATABASE_URL), whatever JOURNEYS_URL says, and closes it after. */
export async function withLocalStore<T>(deps: Pick<OperatorDeps, 'openStore'>, use: (store: Store) => Promise<T>): Promise<T> {
  const { store, close } = await deps.openStore();
  try {
    return await use(store);
  } finally {
    await close();
  }
}

/** The end of `journeys --help`. */
export const REMOTE_HELP = `
Operator commands (event, consent, status, audit, erase, suppress, sends, report) work on this machine's
store and Temporal. With JOURNEYS_URL set they go to that deployment's HTTP API instead, with the
key in JOURNEYS_API_KEY, and open nothing here:
  JOURNEYS_URL=https://journeys-admin.internal:3000 JOURNEYS_API_KEY=jk_... journeys status c-ada`;

/** Commands that work on this machine's store whatever JOURNEYS_URL says, and what they do there. */
const LOCAL_STORE_COMMANDS: Record<string, string> = {
  keys: 'manages the API keys of the store this machine opens',
  profiles: 'writes to the store this machine opens',
  events: 'writes to the store this machine opens',
  scores: 'trains on and writes to the store this machine opens',
  clusters: 'reads (and with --save-segments writes) the store this machine opens',
};

/** With JOURNEYS_URL set, says on stderr that a command about to run works on this machine's store, not the deployment's. */
export function noteLocalStore(action: Command, url: string, stderr: Writable): void {
  const path: string[] = [];
  for (let command: Command | null = action; command?.parent; command = command.parent) path.unshift(command.name());
  const does = LOCAL_STORE_COMMANDS[path[0]];
  if (does) stderr.write(`note: JOURNEYS_URL is set, but journeys ${path.join(' ')} ${does} (DATA_DIR or DATABASE_URL here), not the one of ${url}\n`);
}
