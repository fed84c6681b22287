/**
 * Resolves (building once if needed) both Temporal servers before any test file runs, and
 * hands their paths to the test workers through the environment they inherit.
 */
import { temporalCliPath, testServerPath } from '../scripts/temporalServers';

export default async function setup(): Promise<void> {
  process.env.TEMPORAL_CLI_PATH = await temporalCliPath();
  process.env.TEMPORAL_TEST_SERVER_PATH = await testServerPath();
}
