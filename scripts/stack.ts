import type { WorkflowBundleOption } from '@temporalio/worker';
import { compose } from '../compose';
import { startHttpApi } from '../compose/apiRole';
import { startWorkerRole } from '../compose/roles';
import { urlHost } from '../config/hosts';
import { temporalAddress, type Config } from '../config';
import { demoProfiles } from './demoProfiles';
import { isPortFree, startDevServer, stopLeftoverDevServer, type DevServer } from './devServer';
import { startOutbox, type Outbox } from './outbox';
import { temporalCliPath } from './temporalServers';

export interface Stack {
  apiUrl: string;
  /** Where the public listener (/u) listens; PUBLIC_URL may name a proxy in front of it. */
  publicUrl: string;
  temporalAddress: string;
  /** The Temporal Web UI, when the embedded dev server runs. */
  uiUrl?: string;
  /** Where the embedded SMTP server keeps emails, when it runs. */
  outboxDir?: string;
  stop(): Promise<void>;
}

export class PortTakenError extends Error {}

async function assertFree(host: string, port: number, what: string, setting: string) {
  if (!(await isPortFree(host, port))) {
    throw new PortTakenError(`${what} cannot listen on ${host}:${port}: the port is taken (is journeys already running? set ${setting} to use another port)`);
  }
}

/**
 * The whole product on one machine: the Temporal dev server (unless TEMPORAL_ADDRESS
 * names one), the embedded SMTP outbox (unless SMTP_URL names a server), the worker and
 * the HTTP API. Stops in reverse order.
 */
export async function startStack(config: Config, log: (line: string) => void, extra: { workflowBundle?: WorkflowBundleOption } = {}): Promise<Stack> {
  const host = config.http.host;
  const devHost = config.temporal.devServerHost;
  await assertFree(host, config.http.port, 'the private API', 'PORT');
  await assertFree(config.public.host, config.public.port, 'the public listener', 'PUBLIC_PORT');
  if (!config.smtp.url) await assertFree('127.0.0.1', config.smtp.outboxPort, 'the SMTP outbox', 'OUTBOX_PORT');
  if (!config.temporal.address) {
    await stopLeftoverDevServer(config.temporal.dbFile, log);
    await assertFree(devHost, config.temporal.port, 'the Temporal dev server', 'TEMPORAL_PORT');
    await assertFree(devHost, config.temporal.uiPort, 'the Temporal Web UI', 'TEMPORAL_UI_PORT');
  }

  const stops: (() => Promise<void>)[] = [];
  const stop = async () => {
    for (const step of stops.reverse()) await step().catch((err: Error) => log(`while stopping: ${err.message}`));
  };
  try {
    let devServer: DevServer | undefined;
    if (!config.temporal.address) {
      // With PAYLOAD_KEYS the histories are encrypted: the Web UI shows them through the API's codec endpoint.
      const uiCodecEndpoint = config.payloadKeys ? `http://${urlHost(host)}:${config.http.port}/codec` : undefined;
      devServer = await startDevServer({ cliPath: await temporalCliPath(log), ip: devHost, port: config.temporal.port, uiPort: config.temporal.uiPort, dbFile: config.temporal.dbFile, log, uiCodecEndpoint });
      stops.push(() => devServer!.stop());
    }

    let outbox: Outbox | undefined;
    if (!config.smtp.url) {
      outbox = await startOutbox({ port: config.smtp.outboxPort, dir: config.smtp.outboxDir });
      stops.push(() => outbox!.close());
    }

    const app = await compose(config, extra);
    stops.push(() => app.close());
    if ((await app.store.countProfiles()) === 0) {
      await app.store.upsertProfiles(demoProfiles);
      log(`loaded ${demoProfiles.length} demo profiles (${demoProfiles.map((p) => p.customerId).join(', ')})`);
    }
    // The dev server is started with them; a Temporal of one's own may lack them.
    if (config.temporal.address) await app.ensureSearchAttributes();
    await startWorkerRole(app);
    await app.ensureSchedules(log);
    const { access } = await startHttpApi(app);
    log(`private API: ${access}`);

    return {
      apiUrl: `http://${urlHost(host)}:${config.http.port}`,
      publicUrl: `http://${urlHost(config.public.host)}:${config.public.port}`,
      temporalAddress: temporalAddress(config),
      uiUrl: devServer?.uiUrl,
      outboxDir: outbox ? config.smtp.outboxDir : undefined,
      stop,
    };
  } catch (err) {
    await stop();
    throw err;
  }
}
