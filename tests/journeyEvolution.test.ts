import { defaultPayloadConverter, type Payload } from '@temporalio/common';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadEntryEvent } from '../activities/entryEvent';
import type { CustomerEvent } from '../domain/customer/types';
import type { JourneyDefinitionInput } from '../domain/journey/types';
import { loadCatalogue, shippedJourneys, TEMPLATES_DIR } from '../journeys';
import type journey from '../workflows';
import { eventSignal, INTERPRETER, stateQuery, type JourneyInput } from '../workflows/messages';
import { CUSTOMER_ID, JOURNEY_ID, JOURNEY_STATUS, JOURNEY_STEP, JOURNEY_VERSION } from '../workflows/searchAttributes';
import { FIXTURE_TEMPLATES, reviewRequest, waitUntilEventDate } from './fixtures/journeys';
import { startJourneyEnv, type JourneyEnv } from './support/journeyEnv';

// How running journeys stay safe as they grow and as the interpreter changes: small
// payloads in their histories, bounded state, continue-as-new, and no personal data in
// what operators read. The shipped journeys plus a few fixtures, on the time-skipping server.

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;

/** Branches on a property of the entry event that the workflow itself never reads. */
const giftNote: JourneyDefinitionInput = {
  id: 'giftNote',
  name: 'Fixture: branch on the entry event',
  trigger: { event: 'evolution.gift_ordered', entryKey: 'properties.orderId' },
  steps: [
    { id: 'wrapped', kind: 'branch', rules: [{ name: 'giftWrap', when: { attr: 'event.properties.giftWrap', op: 'eq', value: true }, next: 'withWrap' }], otherwise: 'withoutWrap' },
    { id: 'withWrap', kind: 'exit' },
    { id: 'withoutWrap', kind: 'exit' },
  ],
};

// What the SMTP server refuses at RCPT TO, with the address in its reply as real servers do.
const refused = new Set<string>();

const catalogue = loadCatalogue([...shippedJourneys, reviewRequest, waitUntilEventDate, giftNote], [TEMPLATES_DIR, FIXTURE_TEMPLATES]);
let t: JourneyEnv;
beforeAll(async () => {
  t = await startJourneyEnv({
    catalogue,
    mailbox: {
      onRecipient: (address) => (refused.has(address) ? Object.assign(new Error(`5.1.1 <${address}>: mailbox does not exist`), { responseCode: 550 }) : undefined),
    },
  });
});
afterAll(async () => {
  await t?.close();
});

let seq = 0;
const now = () => t.env.currentTimeMs();
const iso = (ms: number) => new Date(ms).toISOString();
const customer = (customerId: string, attributes: Record<string, unknown> = {}) => t.client.upsertProfile({ customerId, email: `${customerId}@example.com`, attributes });
const cart = (customerId: string, cartId: string, items: { name: string; price: number }[], occurredAt?: number) => ({
  id: `evolution-${++seq}`,
  type: 'cart.updated',
  customerId,
  ...(occurredAt !== undefined && { occurredAt: iso(occurredAt) }),
  properties: { cartId, items: items.map((item) => ({ ...item, quantity: 1 })), total: items.reduce((sum, item) => sum + item.price, 0), currency: 'EUR' },
});
const shoes = [{ name: 'Trail shoes', price: 80 }];
const handle = (workflowId: string, runId?: string) => t.env.client.workflow.getHandle<typeof journey>(workflowId, runId);
const sleepUntil = async (instant: number) => {
  const ms = instant - (await now());
  if (ms > 0) await t.env.sleep(ms);
};
/** Polls in real time: `result()` on a running workflow would unlock time skipping. */
const finished = async (workflowId: string) => {
  for (let i = 0; i < 800 && (await handle(workflowId).describe()).status.name === 'RUNNING'; i++) await new Promise((resolve) => setTimeout(resolve, 25));
  return handle(workflowId).result();
};
/** Polls `probe` in real time until it gives a value, for at most 30 seconds. */
const until = async <T>(what: string, probe: () => Promise<T | undefined>): Promise<T> => {
  for (const deadline = Date.now() + 30_000; Date.now() < deadline; ) {
    const value = await probe().catch(() => undefined);
    if (value !== undefined) return value;
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
  throw new Error(`never: ${what}`);
};
const historyEvents = async (workflowId: string, runId?: string) => (await handle(workflowId, runId).fetchHistory()).events ?? [];
const decode = (payload: Payload | null | undefined) => (payload ? defaultPayloadConverter.fromPayload(payload) : undefined);
const inputOf = async (workflowId: string) => decode((await historyEvents(workflowId))[0].workflowExecutionStartedEventAttributes?.input?.payloads?.[0]) as JourneyInput;
const signalledEvents = async (workflowId: string) =>
  (await historyEvents(workflowId)).flatMap((e) => (e.workflowExecutionSignaledEventAttributes?.signalName === 'event' ? [decode(e.workflowExecutionSignaledEventAttributes.input?.payloads?.[0]) as CustomerEvent] : []));
/** The story in the run's current details, as the Temporal UI shows it. */
const storyOf = async (workflowId: string) => (await handle(workflowId).query<{ currentDetails: string }>('__temporal_workflow_metadata')).currentDetails;
const timerSummaries = async (workflowId: string) =>
  (await historyEvents(workflowId)).flatMap((e) => (e.timerStartedEventAttributes ? [decode(e.userMetadata?.summary) as string] : []));
/** The summaries of its activities and local activities (a send's first attempt), as the Temporal UI shows them. */
const activitySummaries = async (workflowId: string) =>
  (await historyEvents(workflowId)).flatMap((e) => (e.activityTaskScheduledEventAttributes || e.markerRecordedEventAttributes ? [decode(e.userMetadata?.summary) as string] : []));

describe('events passed to running journeys carry only what the journey reads', () => {
  it('starts and signals a cart journey with the cart id alone; the email step still gets the whole cart from the store', async () => {
    await customer('slim');
    const first = cart('slim', 'cart-s', shoes);
    await t.client.ingest(first);
    const jacket = cart('slim', 'cart-s', [{ name: 'Rain jacket', price: 60 }]);
    await t.client.ingest(jacket);
    const workflowId = 'cartAbandonment:slim:cart-s';

    const input = await inputOf(workflowId);
    expect(input.entryEvent).toEqual({ id: first.id, type: 'cart.updated', customerId: 'slim', occurredAt: expect.any(String), properties: { cartId: 'cart-s' } });
    // A signal shows in the history once the workflow task in flight, if any, completes.
    expect(await until('the newer cart is signalled', async () => (await signalledEvents(workflowId))[0])).toEqual({
      id: jacket.id,
      type: 'cart.updated',
      customerId: 'slim',
      occurredAt: expect.any(String),
      properties: { cartId: 'cart-s' },
    });
    expect(await loadEntryEvent(t.store, { ...input.entryEvent, id: jacket.id })).toMatchObject({ properties: jacket.properties });
    const erased = { ...input.entryEvent, id: 'never-recorded' };
    expect(await loadEntryEvent(t.store, erased)).toBe(erased);
  });

  it('keeps the entry key and the `where` paths of waitFor steps, so matching still works on slim events', async () => {
    await customer('rae');
    await t.client.ingest({ id: `evolution-${++seq}`, type: 'fixture.delivered', customerId: 'rae', properties: { orderId: 'o-rae', carrier: 'DHL', address: '1 Main St' } });
    const workflowId = 'reviewRequest:rae:o-rae';
    expect((await inputOf(workflowId)).entryEvent.properties).toEqual({ orderId: 'o-rae' });
    await t.client.ingest({ id: `evolution-${++seq}`, type: 'review.submitted', customerId: 'rae', properties: { orderId: 'o-rae', rating: 5, comment: 'Lovely, thanks Rae' } });
    const state = await finished(workflowId);
    expect(state.history.map((h) => h.stepId)).toEqual(['goodReview', 'thanks', 'done']);
    expect((await signalledEvents(workflowId)).map((e) => e.properties)).toEqual([{ orderId: 'o-rae', rating: 5 }]);
  });

  it('resolves a wait on an entry-event date and decides a branch on an entry-event property from the event in the store', async () => {
    await customer('wes');
    const delivery = (await now()) + 3 * DAY;
    await t.client.ingest({ id: `evolution-${++seq}`, type: 'fixture.shipped', customerId: 'wes', properties: { orderId: 'o-wes', deliveryDate: iso(delivery) } });
    const workflowId = 'waitUntilEventDate:wes:o-wes';
    expect((await inputOf(workflowId)).entryEvent.properties).toEqual({ orderId: 'o-wes' });
    expect(await until('the wait is resolved', async () => (await handle(workflowId).query(stateQuery)).nextWakeAt)).toBe(iso(delivery - DAY));

    await t.client.ingest({ id: `evolution-${++seq}`, type: 'evolution.gift_ordered', customerId: 'wes', properties: { orderId: 'g-1', giftWrap: true } });
    const gift = await finished('giftNote:wes:g-1');
    expect(gift.history.map((h) => h.outcome)).toEqual(['giftWrap: withWrap', 'exit']);
  });
});

describe('bounded buffers and continue-as-new', () => {
  it('a flood of 5,000 events leaves a waiting cart journey running on a short history, as operators knew it, and reminder 1 goes out once at 1 h', async () => {
    await customer('flood');
    const start = await now();
    await t.client.ingest(cart('flood', 'cart-f', shoes));
    const workflowId = 'cartAbandonment:flood:cart-f';
    const wakeAt = await until('the first wait begins', async () => (await handle(workflowId).query(stateQuery)).nextWakeAt);
    const firstRun = await handle(workflowId).describe();
    const summary = await firstRun.staticSummary();
    expect(summary).toContain('customer flood');

    // Updates of the cart, and events no step of the journey waits for, as fast as they come.
    const signal = handle(workflowId);
    for (let batch = 0; batch < 100; batch++) {
      await Promise.all(
        Array.from({ length: 50 }, (_, i) => {
          const n = batch * 50 + i;
          const type = n % 2 === 0 ? 'cart.updated' : 'product.viewed';
          return signal.signal(eventSignal, { id: `flood-${n}`, type, customerId: 'flood', occurredAt: iso(start + n), properties: { cartId: 'cart-f' } });
        }),
      );
    }

    // Signals reach a run in the order the server took them: once the journey has read this
    // last one, it has read the flood. It is the newest cart, which the reminder shows.
    const last = { ...cart('flood', 'cart-f', [{ name: 'Rain jacket', price: 60 }], start + 5_000), id: 'flood-last' };
    expect((await t.client.ingest(last)).signalled).toEqual([workflowId]);
    const current = await until('the journey reads the whole flood in a new run', async () => {
      const description = await handle(workflowId).describe();
      if (description.runId === firstRun.runId || !(await storyOf(workflowId)).includes(`cart.updated at ${last.occurredAt}`)) return undefined;
      const again = await handle(workflowId).describe();
      return again.runId === description.runId ? again : undefined;
    });
    expect(current.status.name).toBe('RUNNING');
    expect(current.historyLength).toBeLessThan(2_500);
    expect((await historyEvents(workflowId, firstRun.runId)).at(-1)?.workflowExecutionContinuedAsNewEventAttributes).toBeTruthy();
    // What the new run carries over is bounded too: no cart contents, a window of event ids.
    expect(JSON.stringify(await inputOf(workflowId)).length).toBeLessThan(64_000);
    const attributes = current.typedSearchAttributes;
    expect([JOURNEY_ID, CUSTOMER_ID, JOURNEY_VERSION, JOURNEY_STEP, JOURNEY_STATUS].map((key) => attributes.get(key))).toEqual([
      'cartAbandonment',
      'flood',
      firstRun.typedSearchAttributes.get(JOURNEY_VERSION),
      'waitBeforeReminder1',
      'running',
    ]);
    expect(await handle(workflowId).query(stateQuery)).toMatchObject({ currentStep: 'waitBeforeReminder1', nextWakeAt: wakeAt, history: [] });
    // The static summary stays with the first run; the continued run heads its story with it.
    const [heading, ...story] = (await storyOf(workflowId)).split('\n');
    expect(heading).toBe(`${summary}; continued as new, as its history had grown long`);
    expect(story.length).toBeLessThanOrEqual(50);
    expect(story[0]).toMatch(/^- Entered on cart.updated \(cart-f\)/);

    await sleepUntil(Date.parse(wakeAt) - MINUTE);
    expect(await t.mailbox.emailsTo('flood@example.com')).toEqual([]);
    await t.env.sleep(2 * MINUTE);
    const [email] = await t.mailbox.waitForCount(1, { to: 'flood@example.com' });
    expect(email.html).toContain('Rain jacket');
    const [sent] = await t.store.sendsOf('flood');
    expect(Math.abs(Date.parse(sent.createdAt) - Date.parse(wakeAt))).toBeLessThan(10_000);
    expect(Date.parse(wakeAt) - start).toBeLessThan(HOUR + 10_000);
    const state = await until('reminder 1 is recorded', async () => {
      const s = await handle(workflowId).query(stateQuery);
      return s.currentStep === 'waitBeforeReminder2' ? s : undefined;
    });
    expect(state.history.map((h) => `${h.stepId}: ${h.outcome}`)).toEqual(['waitBeforeReminder1: waited 1h', 'reminder1: sent reminder1']);
    await t.env.sleep(HOUR);
    expect((await t.mailbox.emailsTo('flood@example.com')).map((e) => e.journeyStep)).toEqual(['reminder1']);
  }, 180_000);
});

describe('a goal recorded before the journey started', () => {
  it('ends the journey at once as goal_reached, says so, and sends nothing', async () => {
    await customer('early');
    const { definition, version } = catalogue.get('cartAbandonment')!;
    const at = iso(await now());
    const input: JourneyInput = {
      definition,
      version,
      customerId: 'early',
      entryKey: 'cart-e',
      entryEvent: { id: 'early-cart', type: 'cart.updated', customerId: 'early', occurredAt: at, properties: { cartId: 'cart-e' } },
      priorGoal: { id: 'early-order', type: 'order.completed', customerId: 'early', occurredAt: at, properties: { cartId: 'cart-e' } },
      waitScale: 1,
    };
    const workflowId = 'cartAbandonment:early:cart-e';
    await t.env.client.workflow.start('cartAbandonment', {
      workflowId,
      taskQueue: 'journeys-test',
      args: [input],
      typedSearchAttributes: [
        { key: JOURNEY_ID, value: 'cartAbandonment' },
        { key: CUSTOMER_ID, value: 'early' },
        { key: JOURNEY_STEP, value: 'waitBeforeReminder1' },
        { key: JOURNEY_STATUS, value: 'running' },
      ],
    });
    const state = await finished(workflowId);
    expect(state).toMatchObject({ status: 'goal_reached', endedBy: 'order.completed', history: [] });
    expect((await handle(workflowId).describe()).typedSearchAttributes.get(JOURNEY_STATUS)).toBe('goal_reached');
    expect(await storyOf(workflowId)).toContain(`Goal order.completed reached at ${at}, before the journey started: nothing sent`);
    expect((await historyEvents(workflowId)).filter((e) => e.activityTaskScheduledEventAttributes || e.timerStartedEventAttributes)).toEqual([]);
    await t.env.sleep(2 * HOUR);
    expect(await t.store.sendsOf('early')).toEqual([]);
  });
});

describe('runs started by this client carry the interpreter in their input', () => {
  it('take every interpreter change without a patch marker: no marker, no TemporalChangeVersion upsert, JourneyStep upserted only when the step changes', async () => {
    await customer('markers');
    await t.client.ingest(cart('markers', 'cart-m', shoes));
    const workflowId = 'cartAbandonment:markers:cart-m';
    expect((await inputOf(workflowId)).interpreter).toBe(INTERPRETER);
    await t.env.sleep(HOUR + MINUTE);
    await t.mailbox.waitForCount(1, { to: 'markers@example.com' });
    await until('reminder 1 is recorded', async () => ((await handle(workflowId).query(stateQuery)).currentStep === 'waitBeforeReminder2' ? true : undefined));
    const events = await historyEvents(workflowId);
    // The send's local activity records a marker of its own; no patch does.
    expect(events.flatMap((e) => e.markerRecordedEventAttributes?.markerName ?? [])).toEqual(['core_local_activity']);
    const upserted = events.flatMap((e) => Object.keys(e.upsertWorkflowSearchAttributesEventAttributes?.searchAttributes?.indexedFields ?? {}));
    // The start set JourneyStep to waitBeforeReminder1; the send and the next wait each change it once.
    expect(upserted).toEqual([JOURNEY_STEP.name, JOURNEY_STEP.name]);
  });

  it('end with one upsert: an exit step shows in JourneyStep beside the final JourneyStatus, set together in the last task', async () => {
    await customer('exits');
    await t.client.ingest({ id: 'exits-order', type: 'order.completed', customerId: 'exits', properties: { orderId: 'o-exits', items: [], total: 80 } });
    const workflowId = 'orderReceipt:exits:o-exits';
    expect((await finished(workflowId)).status).toBe('completed');
    const upserts = (await historyEvents(workflowId)).flatMap((e) =>
      e.upsertWorkflowSearchAttributesEventAttributes ? [Object.keys(e.upsertWorkflowSearchAttributesEventAttributes.searchAttributes?.indexedFields ?? {}).sort()] : [],
    );
    expect(upserts).toEqual([[JOURNEY_STATUS.name, JOURNEY_STEP.name].sort()]);
    const attributes = (await handle(workflowId).describe()).typedSearchAttributes;
    expect([attributes.get(JOURNEY_STEP), attributes.get(JOURNEY_STATUS)]).toEqual(['done', 'completed']);
  });
});

describe('the entry event with the latest occurredAt wins', () => {
  it('keeps the newer cart when an older cart.updated arrives late, and says so', async () => {
    await customer('late');
    const start = await now();
    const newer = cart('late', 'cart-l', shoes, start);
    const older = cart('late', 'cart-l', [{ name: 'Old hat', price: 5 }], start - HOUR);
    await t.client.ingest(newer);
    expect((await t.client.ingest(older)).signalled).toEqual(['cartAbandonment:late:cart-l']);
    const workflowId = 'cartAbandonment:late:cart-l';
    expect(await until('the late cart is told', async () => ((await storyOf(workflowId)).includes('older') ? storyOf(workflowId) : undefined))).toContain(
      `cart.updated at ${iso(start - HOUR)} is older than the one the journey has (${iso(start)}): kept that one`,
    );
    await sleepUntil(start + HOUR + MINUTE);
    const [first] = await t.mailbox.waitForCount(1, { to: 'late@example.com' });
    expect(first.html).toContain('Trail shoes');
    expect(first.html).not.toContain('Old hat');

    const newest = cart('late', 'cart-l', [{ name: 'Rain jacket', price: 60 }], (await now()) + MINUTE);
    await t.client.ingest(newest);
    await sleepUntil(start + 26 * HOUR);
    const [, second] = await t.mailbox.waitForCount(2, { to: 'late@example.com' });
    expect(second.html).toContain('Rain jacket');
  });
});

describe('no personal data in what operators read', () => {
  it('keeps email addresses and event property values out of summaries, the story and step outcomes', async () => {
    await customer('bounce', { firstName: 'Bea' });
    await customer('dana');
    refused.add('bounce@example.com');
    const start = await now();
    const delivery = start + 3 * DAY;
    await t.client.ingest(cart('bounce', 'cart-b', shoes));
    await t.client.ingest({ id: `evolution-${++seq}`, type: 'fixture.shipped', customerId: 'dana', properties: { orderId: 'o-dana', deliveryDate: iso(delivery) } });
    await sleepUntil(start + 98 * HOUR);
    const cartRun = 'cartAbandonment:bounce:cart-b';
    const dateRun = 'waitUntilEventDate:dana:o-dana';
    const cartState = await finished(cartRun);
    const dateState = await finished(dateRun);
    expect(cartState.history.find((h) => h.stepId === 'reminder1')?.outcome).toMatch(/^failed: the recipient's server rejected the address/);
    expect(dateState.history[0].outcome).toBe('waited until event.properties.deliveryDate -1d');

    for (const [workflowId, state] of [[cartRun, cartState], [dateRun, dateState]] as const) {
      const readable = [...state.history.map((h) => h.outcome), await storyOf(workflowId), ...(await timerSummaries(workflowId)), ...(await activitySummaries(workflowId))].join('\n');
      expect(readable).not.toMatch(/@/);
      expect(readable).not.toContain(iso(delivery).slice(0, 10));
      expect(readable).not.toContain(iso(delivery - DAY).slice(0, 10));
      expect(readable).not.toContain('Trail shoes');
    }
  });
});
