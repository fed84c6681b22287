// The library a shop's own code imports: JourneyClient (events, profiles, consent, journeys
// of a customer), the shapes it takes and answers, and a way to connect it to the product.
import { JourneyClient } from '../app/journeyClient';
import { configFromEnv, temporalAddress, type Config } from '../config';
import { compose } from '../compose';

export { JourneyClient };
export type { BatchMode, BatchResult, JourneyRunSummary, EventIdConflict, IgnoredStart, IgnoreReason, IngestResult } from '../app/journeyClient';
export type { AuditEntry } from '../app/customerRecords';
export type { CustomerSegment } from '../app/segmentTracker';
export type { SendResolution } from '../app/sends';
export { EventIdConflictError, ValidationError, type Problem } from '../app/errors';
export { JourneysApiError, JourneysHttpClient, type JourneysHttpClientOptions, type ProfileInput, type SendResolutionInput, type SendsQuery, type SuppressionInput } from './httpClient';
export type { ConsentChange, CustomerEventInput, Profile } from '../domain/customer/types';

export interface ConnectedJourneys {
  journeys: JourneyClient;
  close(): Promise<void>;
}

/**
 * A JourneyClient on the deployment the settings name (the environment's, by default): its
 * store and its Temporal, which must be reachable. `close` closes both.
 */
export async function connectJourneys(config: Config = configFromEnv()): Promise<ConnectedJourneys> {
  const app = await compose(config);
  try {
    await app.temporal.connection.ensureConnected();
  } catch (err) {
    await app.close();
    throw new Error(`cannot reach Temporal at ${temporalAddress(config)} (${(err as Error).message}); start the product with \`npm start\`, or set TEMPORAL_ADDRESS (or TEMPORAL_PROFILE)`);
  }
  return { journeys: app.journeys, close: app.close };
}
