import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../cli';
import type { CustomerEvent } from '../domain/customer/types';
import { computeRfm } from '../domain/rules/rfm';
import { isTimeBased, membershipChanges, parseSegments, SegmentDefinitionError } from '../domain/rules/segments';
import { shippedSegments } from '../journeys/segments';
import type journey from '../workflows';
import { stateQuery } from '../workflows/messages';
import { segmentFixtureCatalogue } from './fixtures/segments';
import { startJourneyEnv, type JourneyEnv } from './support/journeyEnv';
import { Captured } from './support/captured';

const DAY = 86_400_000;
const T = Date.parse('2026-03-02T10:00:00.000Z');
const at = (ms: number) => new Date(ms).toISOString();
const segments = parseSegments(shippedSegments);

const shoeView = (customerId: string, n: number, occurredAt: number): CustomerEvent => ({
  id: `${customerId}-view-${n}`,
  type: 'product.viewed',
  customerId,
  occurredAt: at(occurredAt),
  properties: { productId: `shoe-${n}`, category: 'running-shoes' },
});

/** The shipped segments the customer is in, given their profile and history, as of `now`. */
function membersOf(events: CustomerEvent[], now: number, attributes: Record<string, unknown> = {}) {
  const facts = { now: at(now), profile: { customerId: 'c1', email: 'c1@example.com', attributes }, events, rfm: computeRfm(events, at(now)) };
  return membershipChanges(segments, facts, []).members;
}

describe('segment definitions (pure)', () => {
  it('ships vip, browsedRunningShoes and dormant60d; all but a purely profile-based one need the sweep', () => {
    expect(segments.map((s) => [s.id, isTimeBased(s)])).toEqual([
      ['vip', true],
      ['browsedRunningShoes', true],
      ['dormant60d', true],
    ]);
    expect(isTimeBased(parseSegments([{ id: 'gold', name: 'Gold', rule: { attr: 'profile.attributes.loyaltyTier', op: 'eq', value: 'gold' } }])[0])).toBe(false);
  });

  it('browsedRunningShoes: from the third view in 7 days until the first of them is 7 days old; other categories do not count', () => {
    const views = [shoeView('c1', 1, T), shoeView('c1', 2, T + DAY), { ...shoeView('c1', 9, T + DAY), properties: { category: 'socks' } }];
    expect(membersOf(views, T + 2 * DAY)).toEqual([]);
    const three = [...views, shoeView('c1', 3, T + 2 * DAY)];
    expect(membersOf(three, T + 2 * DAY)).toEqual(['browsedRunningShoes']);
    expect(membersOf(three, T + 7 * DAY - 1)).toEqual(['browsedRunningShoes']);
    expect(membersOf(three, T + 7 * DAY)).toEqual([]);
  });

  it('vip: gold tier, or a monetary score of 4+ from purchases in 90 days', () => {
    expect(membersOf([], T, { loyaltyTier: 'gold' })).toEqual(['vip']);
    const order = (n: number, total: number): CustomerEvent => ({ id: `o${n}`, type: 'order.completed', customerId: 'c1', occurredAt: at(T), properties: { total } });
    expect(membersOf([order(1, 399)], T + DAY)).toEqual([]);
    expect(membersOf([order(1, 399), order(2, 1)], T + DAY)).toEqual(['vip']);
    // Ninety days on, the purchases have aged out of the monetary window.
    expect(membersOf([order(1, 399), order(2, 1)], T + 91 * DAY)).not.toContain('vip');
  });

  it('dormant60d: active once, then no activity of any listed type for 60 days; segment events are not activity', () => {
    expect(membersOf([], T + 100 * DAY)).toEqual([]);
    const cart: CustomerEvent = { id: 'cart', type: 'cart.updated', customerId: 'c1', occurredAt: at(T), properties: {} };
    const entered: CustomerEvent = { id: 'seg', type: 'segment.entered', customerId: 'c1', occurredAt: at(T + 59 * DAY), properties: { segment: 'vip' } };
    expect(membersOf([cart, entered], T + 60 * DAY - 1)).toEqual([]);
    expect(membersOf([cart, entered], T + 60 * DAY)).toEqual(['dormant60d']);
  });

  it('reports entered and left against the previous membership; a segment reads only segments listed before it', () => {
    const defs = parseSegments([
      { id: 'gold', name: 'Gold', rule: { attr: 'profile.attributes.loyaltyTier', op: 'eq', value: 'gold' } },
      { id: 'goldInParis', name: 'Gold in Paris', rule: { all: [{ segment: 'gold' }, { attr: 'profile.attributes.city', op: 'eq', value: 'Paris' }] } },
    ]);
    const facts = { now: at(T), profile: { customerId: 'c1', email: 'c1@example.com', attributes: { loyaltyTier: 'gold', city: 'Paris' } } };
    expect(membershipChanges(defs, facts, ['gold', 'retired'])).toEqual({ members: ['gold', 'goldInParis'], entered: ['goldInParis'], left: ['retired'] });
    expect(() => parseSegments([defs[1], defs[0]])).toThrow(new SegmentDefinitionError('segment "goldInParis" reads segment "gold", which must be listed before it'));
    expect(() => parseSegments([{ id: 'Bad id', name: '', rule: { attr: 'x', op: 'eq', value: 1 } }])).toThrow(/id: segment ids are camelCase[\s\S]*name: /);
  });
});

describe('segments on the time-skipping server: a segment entry starts a journey, leaving ends it', () => {
  let t: JourneyEnv;
  // Memberships are computed at the client's now, so the views arrive as they happen: the
  // client's clock stands at each one's time.
  let clock = T;
  const arrive = (event: CustomerEvent) => {
    clock = Date.parse(event.occurredAt);
    return t.client.ingest(event);
  };
  beforeAll(async () => {
    t = await startJourneyEnv({ catalogue: segmentFixtureCatalogue(), now: () => new Date(clock) });
    await t.client.upsertProfile({ customerId: 'ana', email: 'ana@example.com' });
    await t.client.upsertProfile({ customerId: 'ben', email: 'ben@example.com' });
  });
  afterAll(async () => t?.close());

  const run = (customerId: string) => `shoeFollowUp:${customerId}:browsedRunningShoes`;
  const segmentEvents = async (customerId: string) =>
    (await t.store.eventsOf(customerId)).filter((e) => e.type.startsWith('segment.')).map((e) => `${e.type} ${String(e.properties.segment)} ${e.occurredAt}`);
  const segmentsCommand = async (customerId: string) => {
    const stdout = new Captured();
    const stderr = new Captured();
    const code = await runCli(['segments', customerId], {
      connect: async () => ({ journeys: t.client, close: async () => undefined }),
      openStore: async () => ({ store: t.store, close: async () => undefined }),
      stdout,
      stderr,
    });
    return { code, stdout: stdout.text, stderr: stderr.text };
  };

  it('ana enters "viewed running shoes 3+ times in 7 days" on the third view, not before, and the entry starts the journey', async () => {
    expect(await arrive(shoeView('ana', 1, T))).toMatchObject({ started: [], signalled: [] });
    expect(await arrive(shoeView('ana', 2, T + DAY))).toMatchObject({ started: [], signalled: [] });
    expect(await t.client.segmentsOf('ana')).toEqual([]);

    // The view answers at once; the segment entry it causes is recomputed just after, and that starts the journey.
    expect(await arrive(shoeView('ana', 3, T + 2 * DAY))).toMatchObject({ started: [], signalled: [] });
    expect(t.segmentChangesOf('ana')).toEqual([expect.objectContaining({ started: [run('ana')], signalled: [] })]);
    expect(await t.client.segmentsOf('ana')).toEqual([{ segmentId: 'browsedRunningShoes', name: 'Viewed running shoes 3+ times in 7 days', enteredAt: at(T + 2 * DAY) }]);
    expect(await segmentEvents('ana')).toEqual([`segment.entered browsedRunningShoes ${at(T + 2 * DAY)}`]);
    const [email] = await t.mailbox.waitForCount(1, { to: 'ana@example.com' });
    expect(email.subject).toBe('Finding the right running shoe');
  });

  it('ben views four times: the journey starts once, at the third view', async () => {
    const started = [];
    for (const n of [1, 2, 3, 4]) {
      await arrive(shoeView('ben', n, T + n * DAY));
      started.push(t.segmentChangesOf('ben').flatMap((change) => change.started));
    }
    expect(started).toEqual([[], [], [run('ben')], []]);
    expect(await segmentEvents('ben')).toEqual([`segment.entered browsedRunningShoes ${at(T + 3 * DAY)}`]);
    expect((await t.store.journeyRuns('ben')).map((r) => r.workflowId)).toEqual([run('ben')]);
    // A repeat of the entering view changes nothing either.
    expect(await arrive(shoeView('ben', 3, T + 3 * DAY))).toEqual({ eventId: 'ben-view-3', duplicate: true, started: [], signalled: [] });
    await t.mailbox.waitForCount(1, { to: 'ben@example.com' });
  });

  it('`journeys segments <id>` prints the customer\'s segments with the time they entered', async () => {
    expect(await segmentsCommand('ben')).toEqual({
      code: 0,
      stdout: ['SEGMENT              NAME                                     ENTERED AT', `browsedRunningShoes  Viewed running shoes 3+ times in 7 days  ${at(T + 3 * DAY)}`, ''].join('\n'),
      stderr: '',
    });
    expect(await segmentsCommand('nobody')).toMatchObject({ code: 0, stdout: 'customer nobody is in no segments\n' });
    expect(await segmentsCommand('no one')).toMatchObject({ code: 2, stderr: expect.stringContaining('customerId: use letters') });
  });

  it('the sweep: ana leaves when her first view is 7 days old, which ends her journey at its goal; ben stays', async () => {
    expect(await t.client.sweepSegments(at(T + 7 * DAY - 1000))).toEqual({ customers: 2, entered: 0, left: 0 });
    expect(await t.client.sweepSegments(at(T + 7 * DAY))).toEqual({ customers: 2, entered: 0, left: 1 });
    expect(await t.client.segmentsOf('ana')).toEqual([]);
    expect((await t.client.segmentsOf('ben')).map((s) => s.segmentId)).toEqual(['browsedRunningShoes']);
    expect(await segmentEvents('ana')).toEqual([`segment.entered browsedRunningShoes ${at(T + 2 * DAY)}`, `segment.left browsedRunningShoes ${at(T + 7 * DAY)}`]);
    // Sweeping the same instant again finds nothing new.
    expect(await t.client.sweepSegments(at(T + 7 * DAY))).toEqual({ customers: 2, entered: 0, left: 0 });

    const handle = t.env.client.workflow.getHandle<typeof journey>(run('ana'));
    await handle.result();
    expect(await handle.query(stateQuery)).toMatchObject({ status: 'goal_reached', endedBy: 'segment.left' });
    expect(await t.mailbox.emailsTo('ana@example.com')).toHaveLength(1);
    expect(await segmentsCommand('ana')).toMatchObject({ code: 0, stdout: 'customer ana is in no segments\n' });
  });

  it('the segment-sweep workflow, as its Schedule runs it, sweeps at Temporal\'s time: ben\'s views are long past, and both are dormant', async () => {
    expect(T + 60 * DAY).toBeLessThan(await t.env.currentTimeMs());
    const swept = await t.env.client.workflow.execute('segmentSweep', { taskQueue: 'journeys-test', workflowId: 'segment-sweep-test' });
    expect(swept).toEqual({ customers: 2, entered: 2, left: 1 });
    expect((await t.client.segmentsOf('ben')).map((s) => s.segmentId)).toEqual(['dormant60d']);
    expect((await t.client.segmentsOf('ana')).map((s) => s.segmentId)).toEqual(['dormant60d']);
  });
});
