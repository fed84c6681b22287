import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DefaultLogger, Runtime } from '@temporalio/worker';
import { compose } from '../../compose';
import { startWorkerRole } from '../../compose/roles';
import { PROJECT_ROOT, readConfig } from '../../config';
import type { Profile } from '../../domain/customer/types';
import type { Catalogue } from '../../journeys';
import { startOutbox } from '../../scripts/outbox';
import { testServerPath } from '../../scripts/temporalServers';
import { journeyWorkflowBundle } from '../../worker';
import type journey from '../../workflows';
import type { JourneyState } from '../../workflows/messages';
import { UsageError } from '../usageError';

/** One event of a simulation, `atMs` after the start. */
export interface SimulatedEvent {
  atMs: number;
  type: string;
  properties: Record<string, unknown>;
}

export interface SimulatedEmail {
  atMs: number;
  stepId: string;
  subject: string;
}

export interface SimulationResult {
  workflowId: string;
  state: JourneyState;
  /** When the run's state was read, relative to the start: its end, or the cap. */
  endedAtMs: number;
  emails: SimulatedEmail[];
  startMs: number;
}

export const SIMULATION_CAP_MS = 400 * 86_400_000;
const STEP_MS = 86_400_000;

/** The worker logs only warnings, so a simulation prints its timeline and not every state change. */
function quietRuntime() {
  try {
    Runtime.install({ logger: new DefaultLogger('WARN') });
  } catch {
    // Already installed by this process (a test suite, a second simulation): keep that one.
  }
}

/** Settings of its own, not the environment's: no caps and no quiet hours, so the timeline shows the journey's own timing. */
function simulationConfig(dataDir: string) {
  return readConfig(
    {
      DATA_DIR: dataDir,
      TEMPORAL_TASK_QUEUE: 'journeys-simulate',
      MAIL_FROM: 'Simulation <simulate@journeys.invalid>',
      QUIET_HOURS: 'off',
      PUBLIC_URL: 'https://journeys.invalid',
      UNSUBSCRIBE_MAILTO: 'unsubscribe@journeys.invalid',
    },
    PROJECT_ROOT,
  );
}

/**
 * Runs one customer through one journey on the time-skipping test server, with the real
 * interpreter and activities, a throwaway SQLite store and an SMTP server on loopback.
 */
export async function simulate(catalogue: Catalogue, journeyId: string, profile: Profile, events: SimulatedEvent[]): Promise<SimulationResult> {
  // Loaded here, not at the top: they are devDependencies, and every other command must run without them.
  const [{ TestWorkflowEnvironment }, { simpleParser }] = await Promise.all([import('@temporalio/testing'), import('mailparser')]);
  quietRuntime();
  const dir = mkdtempSync(join(tmpdir(), 'journeys-simulate-'));
  const outbox = await startOutbox();
  const env = await TestWorkflowEnvironment.createTimeSkipping({ server: { executable: { type: 'existing-path', path: await testServerPath() } } });
  const startMs = await env.currentTimeMs();
  let simulatedNow = startMs;
  const elapsed = async () => (simulatedNow = await env.currentTimeMs()) - startMs;
  const app = await compose(simulationConfig(dir), {
    catalogue,
    smtpUrl: `smtp://127.0.0.1:${outbox.port}`,
    clock: () => new Date(simulatedNow),
    temporal: { client: env.client, workerConnection: env.nativeConnection },
    workflowBundle: await journeyWorkflowBundle(),
    unsubscribeKeys: [{ id: 'simulate', secret: randomBytes(32).toString('hex') }],
  });
  try {
    await app.ensureSearchAttributes();
    await startWorkerRole(app);
    await app.journeys.upsertProfile(profile);
    let workflowId: string | undefined;
    for (const [index, event] of events.entries()) {
      const wait = event.atMs - (await elapsed());
      if (wait > 0) await env.sleep(wait);
      await elapsed();
      const result = await app.journeys.ingest({
        id: `simulated-${index + 1}`,
        type: event.type,
        customerId: profile.customerId,
        occurredAt: new Date(startMs + event.atMs).toISOString(),
        properties: event.properties,
      });
      if (index === 0) {
        workflowId = result.started.find((id) => id.startsWith(`${journeyId}:`));
        if (!workflowId) throw new UsageError(`the first event (${event.type}) did not start ${journeyId}: its trigger is ${catalogue.get(journeyId)?.definition.trigger.event}`);
      }
    }
    if (!workflowId) throw new UsageError(`no events: the first event must start ${journeyId}`);

    const handle = env.client.workflow.getHandle<typeof journey>(workflowId);
    // Skip a day at a time until the run closes: a journey that never ends stops at the cap.
    while ((await handle.describe()).status.name === 'RUNNING' && (await elapsed()) < SIMULATION_CAP_MS) await env.sleep(STEP_MS);
    const closed = (await handle.describe()).status.name !== 'RUNNING';
    const state = closed ? await handle.result() : await handle.query<JourneyState>('state');
    const endedAtMs = (closed ? Date.parse(state.history.at(-1)?.at ?? new Date(startMs).toISOString()) : simulatedNow) - startMs;

    const emails: SimulatedEmail[] = [];
    for (const message of outbox.messages) {
      const mail = await simpleParser(message.raw);
      if (mail.headers.get('x-journey') !== journeyId) continue;
      // The workflow's history has Temporal's time of each send; the outbox only wall time.
      const stepId = String(mail.headers.get('x-journey-step'));
      const sent = state.history.find((h) => h.stepId === stepId && h.kind === 'send');
      emails.push({ atMs: sent ? Date.parse(sent.at) - startMs : 0, stepId, subject: mail.subject ?? '' });
    }
    return { workflowId, state, endedAtMs, emails, startMs };
  } finally {
    await app.close();
    await env.teardown();
    await outbox.close();
    rmSync(dir, { recursive: true, force: true });
  }
}
