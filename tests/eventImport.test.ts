import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { WorkflowNotFoundError } from '@temporalio/client';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { runCli } from '../cli';
import { buildHttpApi } from '../api/http';
import { SegmentTracker } from '../app/segmentTracker';
import { parseSegments } from '../domain/rules/segments';
import { shippedSegments } from '../journeys/segments';
import { openSqliteStore } from '../store/sqlite';
import type { Store } from '../store/types';
import type journey from '../workflows';
import { stateQuery } from '../workflows/messages';
import { Captured } from './support/captured';
import { startJourneyEnv, type JourneyEnv } from './support/journeyEnv';

const DAY = 86_400_000;
const ago = (ms: number) => new Date(Date.now() - ms).toISOString();
const FAR_FUTURE = '2999-01-01T00:00:00.000Z';
const items = [{ sku: 'jacket', name: 'Rain jacket', quantity: 1, price: 80 }];
let seq = 0;
const order = (customerId: string, total: number, occurredAt?: string, properties: Record<string, unknown> = {}) => ({
  id: `imp-order-${++seq}`,
  type: 'order.completed',
  customerId,
  ...(occurredAt && { occurredAt }),
  properties: { orderId: `o-${seq}`, items, total, ...properties },
});
const segmentEventsOf = async (store: Store, customerId: string) => (await store.eventsOf(customerId)).filter((e) => e.type.startsWith('segment.')).map((e) => e.type);

describe('POST /v1/events:batch (time-skipping Temporal)', () => {
  let t: JourneyEnv;
  let api: FastifyInstance;
  beforeAll(async () => {
    t = await startJourneyEnv();
    api = buildHttpApi({ journeys: t.client, store: t.store, bodyLimit: 256 * 1024, logger: false });
  });
  afterAll(async () => {
    await api?.close();
    await t?.close();
  });

  const post = (url: string, payload: object) => api.inject({ method: 'POST', url, payload });
  const customer = (customerId: string) => t.client.upsertProfile({ customerId, email: `${customerId}@example.com` });
  const handle = (workflowId: string) => t.env.client.workflow.getHandle<typeof journey>(workflowId);
  const stepsTo = async (customerId: string) => (await t.mailbox.emailsTo(`${customerId}@example.com`)).map((email) => email.journeyStep);

  it('mode=history records past orders and a sign-up: nothing is sent, the running cart journey goes on, RFM and segments see them', async () => {
    await customer('hist-hana');
    const cart = await post('/v1/events', { id: 'imp-cart-h', type: 'cart.updated', customerId: 'hist-hana', properties: { cartId: 'cart-h', items, total: 80 } });
    expect(cart.json()).toMatchObject({ started: ['cartAbandonment:hist-hana:cart-h'] });

    // Live, the first order would end the cart journey (its goal, same cart) and each would get a receipt.
    const history = [
      order('hist-hana', 300, ago(10 * DAY), { cartId: 'cart-h' }),
      order('hist-hana', 250, ago(20 * DAY)),
      { id: 'imp-signup-h', type: 'user.signed_up', customerId: 'hist-hana', occurredAt: ago(40 * DAY), properties: {} },
    ];
    const res = await post('/v1/events:batch?mode=history', { events: history });
    expect(res.statusCode).toBe(202);
    expect(res.json()).toEqual({ mode: 'history', results: history.map((e) => ({ eventId: e.id, duplicate: false, started: [], signalled: [] })) });

    // 550 spent in 90 days is a monetary score of 4: vip, entered silently.
    expect((await t.client.segmentsOf('hist-hana')).map((s) => s.segmentId)).toEqual(['vip']);
    expect(await segmentEventsOf(t.store, 'hist-hana')).toEqual([]);
    expect((await t.store.journeyRuns('hist-hana')).map((run) => run.workflowId)).toEqual(['cartAbandonment:hist-hana:cart-h']);
    expect(await handle('cartAbandonment:hist-hana:cart-h').query(stateQuery)).toMatchObject({ status: 'running', currentStep: 'waitBeforeReminder1' });
    // History is recorded as routed: the routing sweep never takes it up.
    expect(await t.client.routePendingEvents(FAR_FUTURE)).toEqual({ routed: 0 });

    await t.env.sleep('61m');
    await t.mailbox.waitForCount(1, { to: 'hist-hana@example.com' });
    expect(await stepsTo('hist-hana')).toEqual(['reminder1']);
  });

  it('a customer dormant by their history gets no win-back; their next activity leaves the segment with a segment.left, as usual', async () => {
    await customer('hist-dora');
    const history = [
      { id: 'imp-signup-d', type: 'user.signed_up', customerId: 'hist-dora', occurredAt: ago(100 * DAY) },
      { id: 'imp-view-d', type: 'product.viewed', customerId: 'hist-dora', occurredAt: ago(90 * DAY), properties: { sku: 'tent' } },
    ];
    expect((await post('/v1/events:batch?mode=history', { events: history })).statusCode).toBe(202);
    expect((await t.client.segmentsOf('hist-dora')).map((s) => s.segmentId)).toEqual(['dormant60d']);
    await t.client.sweepSegments();
    await expect(handle('dormancy:hist-dora:dormant60d').describe()).rejects.toBeInstanceOf(WorkflowNotFoundError);
    expect(await segmentEventsOf(t.store, 'hist-dora')).toEqual([]);

    const back = await post('/v1/events', { id: 'imp-view-d2', type: 'product.viewed', customerId: 'hist-dora', properties: { sku: 'tent' } });
    expect(back.statusCode).toBe(202);
    expect(await t.client.segmentsOf('hist-dora')).toEqual([]);
    expect(await segmentEventsOf(t.store, 'hist-dora')).toEqual(['segment.left']);
    expect(await t.mailbox.emailsTo('hist-dora@example.com')).toEqual([]);
  });

  it('history sent again is a duplicate; an id reused with other contents is a conflict, and the batch goes on', async () => {
    const first = order('hist-rex', 90, ago(5 * DAY));
    const second = order('hist-rex', 40, ago(4 * DAY));
    await post('/v1/events:batch?mode=history', { events: [first] });
    const res = await post('/v1/events:batch?mode=history', { events: [first, { ...first, properties: { ...first.properties, total: 99 } }, second] });
    expect(res.statusCode).toBe(202);
    expect(res.json()).toEqual({
      mode: 'history',
      results: [
        { eventId: first.id, duplicate: true, started: [], signalled: [] },
        { eventId: first.id, error: 'event_id_conflict', message: `event id "${first.id}" was recorded before with different properties: an id names one event, so send a new event with a new id` },
        { eventId: second.id, duplicate: false, started: [], signalled: [] },
      ],
    });
    expect((await t.store.eventsOf('hist-rex')).map((e) => e.properties.total)).toEqual([90, 40]);
  });

  it('refuses a bad batch whole: 400 naming the event and field, 400 for an unknown mode, 413 over the size limit; nothing is recorded', async () => {
    const good = order('hist-bad', 10, ago(DAY));
    const cases: [string, object, number, object][] = [
      ['/v1/events:batch?mode=history', { events: [good, order('hist-bad', 10)] }, 400, { error: 'invalid_request', problems: [{ path: 'events.1.occurredAt', message: 'history needs the time each event occurred, ISO-8601 with offset' }] }],
      ['/v1/events:batch', { events: [good, { id: 'imp-nocart', type: 'cart.updated', customerId: 'hist-bad' }] }, 400, { problems: [{ path: 'events.1.properties.cartId' }] }],
      ['/v1/events:batch?mode=replay', { events: [good] }, 400, { problems: [{ path: 'mode' }] }],
      ['/v1/events:batch', { events: [] }, 400, { problems: [{ path: 'events' }] }],
      ['/v1/events:batch', { events: Array.from({ length: 501 }, () => good) }, 413, { error: 'batch_too_large', message: 'a batch holds at most 500 events and this one has 501: send it in parts' }],
    ];
    for (const [url, body, status, answer] of cases) {
      const res = await post(url, body);
      expect([url, res.statusCode]).toEqual([url, status]);
      expect(res.json()).toMatchObject(answer);
    }
    expect(await t.store.eventsOf('hist-bad')).toEqual([]);
  });

  it('mode=live (the default) ingests each event in order as POST /v1/events would: a cart, then its order, which ends it', async () => {
    await customer('live-lee');
    const cart = { id: 'imp-cart-l', type: 'cart.updated', customerId: 'live-lee', properties: { cartId: 'cart-l', items, total: 80 } };
    const bought = order('live-lee', 80, undefined, { cartId: 'cart-l', orderId: 'o-lee' });
    const res = await post('/v1/events:batch', { events: [cart, bought] });
    expect(res.statusCode).toBe(202);
    expect(res.json()).toEqual({
      mode: 'live',
      results: [
        { eventId: cart.id, duplicate: false, started: ['cartAbandonment:live-lee:cart-l'], signalled: [] },
        { eventId: bought.id, duplicate: false, started: ['orderReceipt:live-lee:o-lee'], signalled: ['cartAbandonment:live-lee:cart-l'] },
      ],
    });
    expect(await handle('cartAbandonment:live-lee:cart-l').result()).toMatchObject({ status: 'goal_reached' });
    await t.mailbox.waitForCount(1, { to: 'live-lee@example.com' });
    expect(await stepsTo('live-lee')).toEqual(['receipt']);
  });
});

describe('journeys events import (store only, no Temporal)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'journeys-event-import-'));
  let store: Store;
  beforeEach(async () => {
    await store?.close();
    store = openSqliteStore(join(dir, `events-${Date.now()}-${Math.random()}.db`));
  });
  afterAll(async () => {
    await store?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const writeFile = (name: string, lines: string[]) => {
    const path = join(dir, name);
    writeFileSync(path, `${lines.join('\n')}\n`);
    return path;
  };
  const journeys = async (args: string[]) => {
    const stdout = new Captured();
    const stderr = new Captured();
    const code = await runCli(args, {
      connect: async () => {
        throw new Error('events import must not need Temporal');
      },
      openStore: async () => ({ store, close: async () => undefined }),
      stdout,
      stderr,
    });
    return { code, stdout: stdout.text, stderr: stderr.text };
  };
  const segmentsOf = async (customerId: string) => (await new SegmentTracker(store, parseSegments(shippedSegments)).segmentsOf(customerId)).map((s) => s.segmentId);

  it('imports a .jsonl file as history: events recorded as routed, segments brought to now silently, bad rows listed by line; exit 1', async () => {
    const tenDaysAgo = ago(10 * DAY);
    const file = writeFile('history.jsonl', [
      JSON.stringify({ id: 'j1', type: 'order.completed', customerId: 'ivy', occurredAt: tenDaysAgo, properties: { orderId: 'o1', total: 300, items } }),
      JSON.stringify({ id: 'j2', type: 'order.completed', customerId: 'ivy', occurredAt: ago(20 * DAY), properties: { orderId: 'o2', total: 250, items } }),
      '',
      JSON.stringify({ id: 'j3', type: 'user.signed_up', customerId: 'sam', occurredAt: ago(100 * DAY) }),
      '{"id":"j4", "type":',
      JSON.stringify({ id: 'j5', type: 'order.completed', customerId: 'ivy', properties: {} }),
      JSON.stringify({ id: 'j1', type: 'order.completed', customerId: 'ivy', occurredAt: tenDaysAgo, properties: { orderId: 'o1', total: 999 } }),
      JSON.stringify({ id: 'j7', type: 'order.completed', customerId: 'ivy', occurredAt: ago(DAY), orderId: 'o7' }),
    ]);
    const { code, stdout, stderr } = await journeys(['events', 'import', file]);
    expect([code, stderr]).toEqual([1, '']);
    const lines = stdout.split('\n');
    expect(lines[0]).toMatch(/^imported 3 events, skipped 0 already recorded, rejected 4 rows \(read 7 rows in [\d.]+s\)$/);
    expect(lines.slice(1)).toEqual([
      '  as history: no journey started or signalled; segments of 2 customers brought up to date',
      expect.stringMatching(/^ {2}line 5: not valid JSON/),
      '  line 6: occurredAt: history needs the time each event occurred, ISO-8601 with offset',
      '  line 7: id: event id "j1" was recorded before with different properties: an id names one event, so send a new event with a new id',
      '  line 8: Unrecognized key: "orderId"',
      '',
    ]);
    expect((await store.eventsOf('ivy')).map((e) => e.id)).toEqual(['j2', 'j1']);
    expect(await store.unroutedEvents(FAR_FUTURE, 10)).toEqual([]);
    expect(await segmentsOf('ivy')).toEqual(['vip']);
    expect(await segmentsOf('sam')).toEqual(['dormant60d']);
    expect([...(await segmentEventsOf(store, 'ivy')), ...(await segmentEventsOf(store, 'sam'))]).toEqual([]);
  });

  it('imports a .csv file: other columns become properties, plain decimals numbers; the same file again is skipped, exit 0', async () => {
    const file = writeFile('history.csv', [
      'id,type,customerId,occurredAt,orderId,total,note',
      `c1,order.completed,ivy,${ago(3 * DAY)},0042,120.5,"gift, wrapped"`,
      `c2,product.viewed,ivy,${ago(2 * DAY)},,,`,
    ]);
    const first = await journeys(['events', 'import', file]);
    expect(first).toMatchObject({ code: 0, stderr: '', stdout: expect.stringMatching(/^imported 2 events, skipped 0 already recorded, rejected 0 rows/) });
    expect((await store.eventsOf('ivy')).map((e) => [e.id, e.type, e.properties])).toEqual([
      ['c1', 'order.completed', { orderId: '0042', total: 120.5, note: 'gift, wrapped' }],
      ['c2', 'product.viewed', {}],
    ]);
    const again = await journeys(['events', 'import', file]);
    expect(again).toEqual({ code: 0, stderr: '', stdout: expect.stringMatching(/^imported 0 events, skipped 2 already recorded, rejected 0 rows \(read 2 rows in [\d.]+s\)\n$/) });
  });

  it('exits 2 for a CSV without the event columns, and 1 for a file without rows', async () => {
    const noColumns = writeFile('nocolumns.csv', ['id,customerId', 'x,ivy']);
    expect(await journeys(['events', 'import', noColumns])).toEqual({
      code: 2,
      stdout: '',
      stderr: 'error: the CSV header needs the columns type and occurredAt (found: id, customerId)\n',
    });
    const empty = writeFile('empty.jsonl', ['']);
    expect(await journeys(['events', 'import', empty])).toMatchObject({ code: 1, stdout: expect.stringContaining('has no rows to import') });
  });
});
