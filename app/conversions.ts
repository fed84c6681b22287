// Conversions: a journey's `conversion` event, attributed to the last email of the journey the
// customer received within the window, as ingest records it. Also the moment to check a winner:
// conversions and clicks are what a winner is decided on.
import type { CustomerEvent } from '../domain/customer/types';
import { EMAIL_CLICKED, isMachineEngagement } from '../domain/delivery/engagement';
import { readPath } from '../domain/rules/path';
import { parseDuration } from '../domain/time/duration';
import type { Catalogue, CatalogueJourney } from '../journeys';
import type { Conversion, Exposure, SendRecord, Store } from '../store/types';
import { checkWinners } from './experiments';
import { runKeyOf } from './reports/counting';

type ConversionStore = Pick<Store, 'sendsOf' | 'eventsSince' | 'journeyRuns' | 'exposuresOf' | 'heldOutOf' | 'recordConversion' | 'winnersOf' | 'journeyActivity' | 'recordWinner'>;

const within = (at: string, from: number, to: number) => {
  const ms = Date.parse(at);
  return ms >= from && ms <= to;
};

/**
 * The conversion of `journey` this event is, or undefined when it is none: the event must be
 * the journey's conversion event, and the customer must have been the journey's within the
 * window before it: sent one of its emails, entered it, been exposed at one of its splits or
 * held out of it by the global control (so holdouts and the control group count too).
 */
export async function conversionOf(store: ConversionStore, { definition }: CatalogueJourney, event: CustomerEvent): Promise<Conversion | undefined> {
  const rule = definition.conversion;
  if (!rule || rule.event !== event.type) return undefined;
  const to = Date.parse(event.occurredAt);
  const from = to - parseDuration(rule.within);
  const customerId = event.customerId;
  const exposures = (await store.exposuresOf(customerId)).filter((e) => e.journeyId === definition.id);
  const email = await attributedEmail(store, definition.id, customerId, exposures, from, to, rule.requireClick === true);
  const related =
    email !== undefined ||
    (await store.journeyRuns(customerId)).some((run) => run.journeyId === definition.id && within(run.startedAt, from, to)) ||
    exposures.some((e) => within(e.at, from, to)) ||
    (await store.heldOutOf(customerId)).some((h) => h.journeyId === definition.id && within(h.at, from, to));
  if (!related) return undefined;
  const value = rule.value === undefined ? undefined : readPath(event, rule.value);
  return {
    eventId: event.id,
    journeyId: definition.id,
    customerId,
    occurredAt: event.occurredAt,
    ...(typeof value === 'number' && Number.isFinite(value) && { value }),
    ...(email && { email }),
  };
}

/** The last email of the journey sent to the customer in [from, to]: not bounced, and clicked by a person if `requireClick`. */
async function attributedEmail(
  store: ConversionStore,
  journeyId: string,
  customerId: string,
  exposures: Exposure[],
  from: number,
  to: number,
  requireClick: boolean,
): Promise<Conversion['email']> {
  const sent = (await store.sendsOf(customerId)).filter((send) => send.journeyId === journeyId && send.status === 'sent' && within(send.updatedAt, from, to));
  if (sent.length === 0) return undefined;
  const feedback = await store.eventsSince(customerId, ['email.bounced', EMAIL_CLICKED], new Date(from).toISOString());
  const has = (send: SendRecord, type: string) =>
    feedback.some((e) => e.type === type && !isMachineEngagement(e) && e.properties.workflowId === send.workflowId && e.properties.stepId === send.stepId && Date.parse(e.occurredAt) <= to);
  const candidates = sent.filter((send) => !has(send, 'email.bounced') && (!requireClick || has(send, EMAIL_CLICKED)));
  const last = candidates.sort((a, b) => Date.parse(a.updatedAt) - Date.parse(b.updatedAt)).at(-1);
  if (!last) return undefined;
  const run = runKeyOf(last.workflowId, last.stepId);
  const variants = Object.fromEntries(exposures.filter((e) => runKeyOf(e.workflowId, e.stepId) === run && e.at <= last.createdAt).map((e) => [e.stepId.split('@')[0], e.arm]));
  return { workflowId: last.workflowId, stepId: last.stepId, ...(last.template !== undefined && { template: last.template }), variants };
}

/**
 * After ingest recorded an event: keeps the conversions it is (a redelivered event changes
 * nothing: one row per event and journey), then checks the winners of the journeys whose
 * winner it may decide: those it converts for, and, for a person's click, the clicked journey.
 */
export async function afterRecorded(store: ConversionStore, catalogue: Catalogue, event: CustomerEvent, now: Date): Promise<void> {
  const touched = new Set<CatalogueJourney>();
  for (const journey of catalogue.journeys) {
    const conversion = await conversionOf(store, journey, event);
    if (conversion && (await store.recordConversion(conversion))) touched.add(journey);
  }
  if (event.type === EMAIL_CLICKED && !isMachineEngagement(event)) {
    const clicked = catalogue.get(String(event.properties.journeyId));
    if (clicked) touched.add(clicked);
  }
  for (const journey of touched) await checkWinners(store, journey, now);
}
