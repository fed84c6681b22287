import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { TestWorkflowEnvironment } from '@temporalio/testing';
import { bundleWorkflowCode, DefaultLogger, Runtime, type WorkflowBundleWithSourceMap } from '@temporalio/worker';
import { simpleParser } from 'mailparser';
import { createSmtpMailer } from '../../activities/smtp';
import type { Profile } from '../../domain/customer';
import { createUnsubscribeSigner, unsubscribeLinks } from '../../domain/unsubscribe';
import type { Catalogue, CatalogueJourney } from '../../journeys';
import { startOutbox } from '../../scripts/outbox';
import { testServerPath } from '../../scripts/temporalServers';
import { openSqliteStore } from '../../store/sqlite';
import { createJourneyWorker, WORKFLOWS_PATH } from '../../worker';
import { createActivityDeps } from '../../worker/deps';
import type journey from '../../workflows';
import type { JourneyState } from '../../workflows/messages';
import { journeySearchAttributes } from '../../workflows/searchAttributes';
import { JourneyClient } from '../journeyClient';
import { UsageError } from '../usageError';

export function findJourney(catalogue: Catalogue, journeyId: string): CatalogueJourney {
  const journey = catalogue.get(journeyId);
  if (!journey) throw new UsageError(`unknown journey "${journeyId}": the known journeys are ${catalogue.journeys.map((j) => j.definition.id).join(', ')}`);
  return journey;
}

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

let bundle: Promise<WorkflowBundleWithSourceMap> | undefined;

/** The worker logs only warnings, so a simulation prints its timeline and not every state change. */
function quietRuntime() {
  try {
    Runtime.install({ logger: new DefaultLogger('WARN') });
  } catch {
    // Already installed by this process (a test suite, a second simulation): keep that one.
  }
}

/**
 * Runs one customer through one journey on the time-skipping test server, with the real
 * interpreter and activities, a throwaway SQLite store and an SMTP server on loopback.
 * No frequency caps or quiet hours apply, so the timeline shows the journey's own timing.
 */
export async function simulate(catalogue: Catalogue, journeyId: string, profile: Profile, events: SimulatedEvent[]): Promise<SimulationResult> {
  quietRuntime();
  const dir = mkdtempSync(join(tmpdir(), 'journeys-simulate-'));
  const store = openSqliteStore(join(dir, 'journeys.db'));
  const outbox = await startOutbox();
  const env = await TestWorkflowEnvironment.createTimeSkipping({ server: { executable: { type: 'existing-path', path: await testServerPath() } } });
  try {
    await env.connection.operatorService.addSearchAttributes({
      namespace: 'default',
      // 2 is KEYWORD in Temporal's IndexedValueType enum.
      searchAttributes: Object.fromEntries(journeySearchAttributes.map((key) => [key.name, 2])),
    });
    const taskQueue = 'journeys-simulate';
    let simulatedNow = await env.currentTimeMs();
    const startMs = simulatedNow;
    const client = new JourneyClient({ temporal: env.client, store, catalogue, taskQueue, now: () => new Date(simulatedNow) });
    const unsubscribe = unsubscribeLinks(createUnsubscribeSigner([{ id: 'simulate', secret: randomBytes(32).toString('hex') }]), {
      publicUrl: 'https://journeys.invalid',
      mailto: 'unsubscribe@journeys.invalid',
    });
    bundle ??= bundleWorkflowCode({ workflowsPath: WORKFLOWS_PATH, logger: new DefaultLogger('WARN') });
    const worker = await createJourneyWorker({
      connection: env.nativeConnection,
      namespace: 'default',
      taskQueue,
      workflowBundle: await bundle,
      deps: createActivityDeps({
        store,
        mailer: createSmtpMailer({ url: `smtp://127.0.0.1:${outbox.port}` }),
        catalogue,
        config: { mailFrom: 'Simulation <simulate@journeys.invalid>', consent: { optInTopics: [] }, frequencyCaps: [], quietHours: undefined, defaultTimezone: 'UTC' },
        unsubscribe,
        sweepSegments: (now) => client.sweepSegments(now),
        routePendingEvents: (now) => client.routePendingEvents(now),
      }),
    });

    const elapsed = async () => (simulatedNow = await env.currentTimeMs()) - startMs;
    return await worker.runUntil(async () => {
      await client.upsertProfile(profile);
      let workflowId: string | undefined;
      for (const [index, event] of events.entries()) {
        const wait = event.atMs - (await elapsed());
        if (wait > 0) await env.sleep(wait);
        await elapsed();
        const result = await client.ingest({
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
        emails.push({ atMs: 0, stepId: String(mail.headers.get('x-journey-step')), subject: mail.subject ?? '' });
      }
      // The workflow's history has Temporal's time of each send; the outbox only wall time.
      for (const email of emails) {
        const sent = state.history.find((h) => h.stepId === email.stepId && h.kind === 'send');
        email.atMs = sent ? Date.parse(sent.at) - startMs : 0;
      }
      return { workflowId, state, endedAtMs, emails, startMs };
    });
  } finally {
    await env.teardown();
    await outbox.close();
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  }
}
