import { configFromEnv, type Config } from '../../config';
import { requiredEnv } from './journeyEnv';
import { freePort } from './ports';

/**
 * The settings of a whole `npm start` stack on a data folder of the test's own, every port
 * free, waits 14,400× shorter (1 h → 0.25 s, 24 h → 6 s) through the documented demo setting.
 */
export async function devStackConfig(dataDir: string, settings: Record<string, string> = {}): Promise<Config> {
  return configFromEnv({
    DATA_DIR: dataDir,
    ...(await freeStackPorts()),
    JOURNEY_WAIT_SCALE: '14400',
    // Quiet hours follow the wall clock, which a scaled demo does not: off, so the run passes at any hour.
    QUIET_HOURS: 'off',
    TEMPORAL_CLI_PATH: requiredEnv('TEMPORAL_CLI_PATH'),
    ...settings,
  });
}

/** Polls `read` every 100 ms until `ok` holds; a timeout names what was awaited and the last value read. */
export async function eventually<T>(read: () => Promise<T>, ok: (value: T) => boolean, what: string, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await read().catch(() => undefined);
    if (value !== undefined && ok(value)) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}; last value: ${JSON.stringify(value)}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/** A free port for each listener of a whole stack, as the settings that move them. */
export async function freeStackPorts(): Promise<Record<'PORT' | 'PUBLIC_PORT' | 'TEMPORAL_PORT' | 'TEMPORAL_UI_PORT' | 'OUTBOX_PORT', string>> {
  return {
    PORT: String(await freePort()),
    PUBLIC_PORT: String(await freePort()),
    TEMPORAL_PORT: String(await freePort()),
    TEMPORAL_UI_PORT: String(await freePort()),
    OUTBOX_PORT: String(await freePort()),
  };
}
