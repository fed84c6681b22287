import { WorkflowNotFoundError } from '@temporalio/client';
import type { FastifyBaseLogger, FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { buildHttpApi } from '../api/http';
import type { JourneyClient } from '../app/journeyClient';
import { addressHash } from '../domain/delivery/address';
import type journey from '../workflows';
import { startJourneyEnv, type JourneyEnv } from './support/journeyEnv';

const BODY_LIMIT = 4096;
let t: JourneyEnv;
let api: FastifyInstance;
beforeAll(async () => {
  t = await startJourneyEnv();
  api = buildHttpApi({ journeys: t.client, store: t.store, bodyLimit: BODY_LIMIT, logger: false });
});
afterAll(async () => {
  await api?.close();
  await t?.close();
});

const post = (url: string, payload: unknown) => api.inject({ method: 'POST', url, payload: payload as object });
const cartEvent = (customerId: unknown, id: string, cartId = 'cart-1') => ({ id, type: 'cart.updated', customerId, properties: { cartId, items: [{ name: 'Trail shoes', quantity: 1, price: 80 }], total: 80, currency: 'EUR' } });

/** A bad request must leave no trace: no event, profile, consent row or journey run, and no workflow. */
async function expectNothingStoredFor(customerId: string) {
  expect(await t.store.eventsOf(customerId)).toEqual([]);
  expect(await t.store.journeyRuns(customerId)).toEqual([]);
  expect(await t.store.getProfile(customerId)).toBeUndefined();
  expect(await t.store.consentLedger(customerId)).toEqual([]);
  await expect(t.env.client.workflow.getHandle(`cartAbandonment:${customerId}:cart-1`).describe()).rejects.toBeInstanceOf(WorkflowNotFoundError);
}

describe('HTTP API, given good input', () => {
  it('starts cartAbandonment for a cart.updated event, and the same event posted again starts nothing', async () => {
    const profile = await post('/v1/profiles', { customerId: 'http-ada', email: 'ada@example.com', attributes: { firstName: 'Ada' } });
    expect(profile.statusCode).toBe(200);
    expect(profile.json()).toEqual({ customerId: 'http-ada' });
    expect(await t.store.getProfile('http-ada')).toEqual({ customerId: 'http-ada', email: 'ada@example.com', attributes: { firstName: 'Ada' } });

    const first = await post('/v1/events', cartEvent('http-ada', 'http-evt-1'));
    expect(first.statusCode).toBe(202);
    expect(first.json()).toEqual({ eventId: 'http-evt-1', duplicate: false, started: ['cartAbandonment:http-ada:cart-1'], signalled: [] });
    const run = await t.env.client.workflow.getHandle('cartAbandonment:http-ada:cart-1').describe();
    expect(run.status.name).toBe('RUNNING');

    const again = await post('/v1/events', cartEvent('http-ada', 'http-evt-1'));
    expect(again.statusCode).toBe(202);
    expect(again.json()).toEqual({ eventId: 'http-evt-1', duplicate: true, started: [], signalled: [] });
  });

  it('withdraws consent and the running journey ends opted out', async () => {
    await post('/v1/profiles', { customerId: 'http-optout', email: 'optout@example.com', attributes: {} });
    await post('/v1/events', cartEvent('http-optout', 'http-evt-2'));
    const consent = await post('/v1/consent', { customerId: 'http-optout', topic: 'marketing', status: 'withdrawn', source: 'preference centre' });
    expect(consent.statusCode).toBe(200);
    expect(consent.json()).toEqual({ signalled: ['cartAbandonment:http-optout:cart-1'] });
    const result = await t.env.client.workflow.getHandle<typeof journey>('cartAbandonment:http-optout:cart-1').result();
    expect(result.status).toBe('consent_withdrawn');
    expect((await t.store.consentLedger('http-optout')).map((r) => [r.status, r.source])).toEqual([['withdrawn', 'preference centre']]);
  });

  it('answers /healthz, and an unknown route with a JSON 404', async () => {
    const health = await api.inject({ method: 'GET', url: '/healthz' });
    expect([health.statusCode, health.json()]).toEqual([200, { ok: true }]);
    const missing = await api.inject({ method: 'GET', url: '/v1/nothing-here' });
    expect(missing.statusCode).toBe(404);
    expect(missing.json()).toMatchObject({ error: 'not_found', message: expect.stringContaining('/v1/nothing-here') });
  });
});

interface BadCase {
  name: string;
  url: string;
  body: unknown;
  /** The field the 400 must name. */
  path: string;
  /** The customer whose data must stay untouched. */
  customerId: string;
}

const badInput: BadCase[] = [
  { name: 'event without a type', url: '/v1/events', body: { id: 'bad-1', customerId: 'bad-ev-1', properties: { cartId: 'cart-1' } }, path: 'type', customerId: 'bad-ev-1' },
  { name: 'event without an id', url: '/v1/events', body: { type: 'cart.updated', customerId: 'bad-ev-2', properties: { cartId: 'cart-1' } }, path: 'id', customerId: 'bad-ev-2' },
  { name: 'event with a numeric customerId', url: '/v1/events', body: cartEvent(42, 'bad-3'), path: 'customerId', customerId: '42' },
  { name: 'event with an email as customerId', url: '/v1/events', body: cartEvent('eve@example.com', 'bad-4'), path: 'customerId', customerId: 'eve@example.com' },
  { name: 'event with properties as a string', url: '/v1/events', body: { id: 'bad-5', type: 'cart.updated', customerId: 'bad-ev-5', properties: 'cart-1' }, path: 'properties', customerId: 'bad-ev-5' },
  { name: 'event with a bad occurredAt', url: '/v1/events', body: { ...cartEvent('bad-ev-6', 'bad-6'), occurredAt: 'yesterday' }, path: 'occurredAt', customerId: 'bad-ev-6' },
  { name: 'event with a bad type name', url: '/v1/events', body: { ...cartEvent('bad-ev-7', 'bad-7'), type: 'Cart Updated' }, path: 'type', customerId: 'bad-ev-7' },
  { name: 'cart.updated without the cartId its journey needs', url: '/v1/events', body: { id: 'bad-8', type: 'cart.updated', customerId: 'bad-ev-8', properties: {} }, path: 'properties.cartId', customerId: 'bad-ev-8' },
  { name: 'event that is not an object', url: '/v1/events', body: ['cart.updated'], path: '', customerId: 'bad-ev-9' },
  { name: 'profile without an email', url: '/v1/profiles', body: { customerId: 'bad-pr-1', attributes: {} }, path: 'email', customerId: 'bad-pr-1' },
  { name: 'profile with a bad email', url: '/v1/profiles', body: { customerId: 'bad-pr-2', email: 'not-an-email' }, path: 'email', customerId: 'bad-pr-2' },
  { name: 'profile with an email as customerId', url: '/v1/profiles', body: { customerId: 'pat@example.com', email: 'pat@example.com' }, path: 'customerId', customerId: 'pat@example.com' },
  { name: 'profile without a customerId', url: '/v1/profiles', body: { email: 'nobody@example.com' }, path: 'customerId', customerId: 'undefined' },
  { name: 'profile with attributes as a string', url: '/v1/profiles', body: { customerId: 'bad-pr-5', email: 'p5@example.com', attributes: 'gold' }, path: 'attributes', customerId: 'bad-pr-5' },
  { name: 'consent with an unknown status', url: '/v1/consent', body: { customerId: 'bad-co-1', topic: 'marketing', status: 'maybe', source: 'test' }, path: 'status', customerId: 'bad-co-1' },
  { name: 'consent with a numeric status', url: '/v1/consent', body: { customerId: 'bad-co-2', topic: 'marketing', status: 0, source: 'test' }, path: 'status', customerId: 'bad-co-2' },
  { name: 'consent with a bad topic', url: '/v1/consent', body: { customerId: 'bad-co-3', topic: 'Marketing Emails', status: 'withdrawn', source: 'test' }, path: 'topic', customerId: 'bad-co-3' },
  { name: 'consent without a source', url: '/v1/consent', body: { customerId: 'bad-co-4', topic: 'marketing', status: 'withdrawn' }, path: 'source', customerId: 'bad-co-4' },
  { name: 'consent with an email as customerId', url: '/v1/consent', body: { customerId: 'co@example.com', topic: 'marketing', status: 'withdrawn', source: 'test' }, path: 'customerId', customerId: 'co@example.com' },
];

describe('HTTP API, given bad input', () => {
  it.each(badInput)('400 for $name, naming "$path", and nothing stored or started', async ({ url, body, path, customerId }) => {
    const res = await post(url, body);
    expect(res.statusCode).toBe(400);
    const error = res.json();
    expect(error).toMatchObject({ error: 'invalid_request', message: expect.any(String) });
    expect(error.problems.map((p: { path: string }) => p.path)).toContain(path);
    expect(error.problems.every((p: { message: string }) => p.message.length > 0)).toBe(true);
    await expectNothingStoredFor(customerId);
  });

  it.each(['ada@example.com', 'has space', 'x'.repeat(129)])('400 naming customerId for GET /v1/customers/%s/runs', async (customerId) => {
    const res = await api.inject({ method: 'GET', url: `/v1/customers/${encodeURIComponent(customerId)}/runs` });
    expect(res.statusCode).toBe(400);
    expect(res.json()).toMatchObject({ error: 'invalid_request', problems: [{ path: 'customerId', message: expect.any(String) }] });
  });

  it('414 in the same JSON shape for a customerId too long to route', async () => {
    const res = await api.inject({ method: 'GET', url: `/v1/customers/${'x'.repeat(300)}/journeys` });
    expect(res.statusCode).toBe(414);
    expect(res.json()).toEqual({ error: 'bad_request', message: expect.stringContaining('max param length') });
  });

  describe.each(['/v1/events', '/v1/profiles', '/v1/consent'])('POST %s', (url) => {
    const json = { 'content-type': 'application/json' };

    it('400 invalid_json for a body that is not JSON', async () => {
      const res = await api.inject({ method: 'POST', url, headers: json, payload: '{"customerId": "bad-json",' });
      expect(res.statusCode).toBe(400);
      expect(res.json()).toMatchObject({ error: 'invalid_json', message: 'the body is not valid JSON' });
      await expectNothingStoredFor('bad-json');
    });

    it('400 invalid_json for an empty JSON body', async () => {
      const res = await api.inject({ method: 'POST', url, headers: json, payload: '' });
      expect(res.statusCode).toBe(400);
      expect(res.json()).toMatchObject({ error: 'invalid_json', message: expect.stringContaining('empty') });
    });

    it('415 for a body that is not sent as JSON', async () => {
      const body = JSON.stringify(cartEvent('bad-type', 'bad-type-1'));
      for (const headers of [{ 'content-type': 'text/plain' }, { 'content-type': 'application/x-www-form-urlencoded' }, {}]) {
        const res = await api.inject({ method: 'POST', url, headers, payload: body });
        expect(res.statusCode, JSON.stringify(headers)).toBe(415);
        expect(res.json()).toMatchObject({ error: 'unsupported_media_type', message: expect.stringContaining('application/json') });
      }
      await expectNothingStoredFor('bad-type');
    });

    it('413 naming the limit for a body over it', async () => {
      const body = { ...cartEvent('too-big', 'too-big-1'), email: 'big@example.com', topic: 'marketing', padding: 'x'.repeat(BODY_LIMIT) };
      const res = await post(url, body);
      expect(res.statusCode).toBe(413);
      expect(res.json()).toEqual({ error: 'payload_too_large', message: expect.stringContaining(String(BODY_LIMIT)) });
      await expectNothingStoredFor('too-big');
    });
  });
});

describe('HTTP API, when something breaks inside', () => {
  it('answers 500 without internals, and logs the error', async () => {
    const logged: unknown[] = [];
    const logger: FastifyBaseLogger = {
      level: 'info',
      fatal: () => undefined,
      error: (obj: unknown) => void logged.push(obj),
      warn: () => undefined,
      info: () => undefined,
      debug: () => undefined,
      trace: () => undefined,
      silent: () => undefined,
      child: () => logger,
    };
    const broken = {
      ingest: async () => {
        throw new Error('SQLITE_CORRUPT: /var/lib/journeys/journeys.db is malformed');
      },
    } as unknown as JourneyClient;
    const app = buildHttpApi({ journeys: broken, store: t.store, bodyLimit: BODY_LIMIT, logger });
    const res = await app.inject({ method: 'POST', url: '/v1/events', payload: cartEvent('ok', 'evt-500') });
    await app.close();
    expect(res.statusCode).toBe(500);
    expect(res.json()).toEqual({ error: 'internal_error', message: expect.any(String) });
    expect(res.body).not.toMatch(/SQLITE|journeys\.db|stack/);
    expect(logged).toEqual([{ err: expect.objectContaining({ message: expect.stringContaining('SQLITE_CORRUPT') }) }]);
  });
});

describe('HTTP API, suppressions', () => {
  it('suppresses a bounced address (any case): 200 naming no customer, and the next send to it is skipped', async () => {
    await post('/v1/profiles', { customerId: 'http-bounce', email: 'bounce@example.com', attributes: {} });
    const res = await post('/v1/suppressions', { email: 'Bounce@Example.COM', reason: 'bounce', source: 'esp webhook' });
    expect(res.statusCode).toBe(200);
    // The answer must not map an address to customers; the store knows whom it concerned.
    expect(res.json()).toEqual({ suppressed: true });
    expect(await t.store.suppressionFor(addressHash('bounce@example.com'))).toMatchObject({ reason: 'bounce', source: 'esp webhook', customerId: 'http-bounce' });
    // A bounce is about the address, not consent: the journey still starts, but its email is not sent.
    expect(await t.store.consentLedger('http-bounce')).toEqual([]);

    await post('/v1/events', cartEvent('http-bounce', 'http-evt-bounce'));
    await t.env.sleep('61m');
    const send = await vi.waitFor(async () => {
      const record = await t.store.sendRecord('cartAbandonment:http-bounce:cart-1', 'reminder1');
      if (!record) throw new Error('reminder1 not decided yet');
      return record;
    });
    expect(send).toMatchObject({ status: 'skipped', reason: 'suppressed: bounce' });
    expect(await t.mailbox.emailsTo('bounce@example.com')).toEqual([]);
  });

  it('a complaint also withdraws marketing consent of the customer with that address, and their running journey run ends with consent_withdrawn', async () => {
    await post('/v1/profiles', { customerId: 'http-complaint', email: 'complaint@example.com', attributes: {} });
    await post('/v1/events', cartEvent('http-complaint', 'http-evt-complaint'));
    expect((await t.env.client.workflow.getHandle('cartAbandonment:http-complaint:cart-1').describe()).status.name).toBe('RUNNING');

    const res = await post('/v1/suppressions', { email: 'complaint@example.com', reason: 'complaint', source: 'feedback loop' });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toEqual({ suppressed: true });
    expect(await t.store.suppressionFor(addressHash('complaint@example.com'))).toMatchObject({ reason: 'complaint', customerId: 'http-complaint' });
    expect((await t.store.consentLedger('http-complaint')).map((r) => [r.topic, r.status, r.source])).toEqual([['marketing', 'withdrawn', 'complaint: feedback loop']]);
    const result = await t.env.client.workflow.getHandle<typeof journey>('cartAbandonment:http-complaint:cart-1').result();
    expect(result.status).toBe('consent_withdrawn');
  });

  const email = 'sup-bad@example.com';
  const badSuppressions: { name: string; body: unknown; path: string }[] = [
    { name: 'without an email', body: { reason: 'bounce', source: 'esp' }, path: 'email' },
    { name: 'with a bad email', body: { email: 'not-an-email', reason: 'bounce', source: 'esp' }, path: 'email' },
    { name: 'with an unknown reason', body: { email, reason: 'spam', source: 'esp' }, path: 'reason' },
    { name: 'with the erased reason, kept for erasure', body: { email, reason: 'erased', source: 'esp' }, path: 'reason' },
    { name: 'without a source', body: { email, reason: 'complaint' }, path: 'source' },
    { name: 'with an empty source', body: { email, reason: 'complaint', source: '' }, path: 'source' },
  ];

  it.each(badSuppressions)('400 for a suppression $name, naming "$path", and nothing stored', async ({ body, path }) => {
    await post('/v1/profiles', { customerId: 'http-sup-bad', email, attributes: {} });
    const res = await post('/v1/suppressions', body);
    expect(res.statusCode).toBe(400);
    const error = res.json();
    expect(error).toMatchObject({ error: 'invalid_request', message: expect.any(String) });
    expect(error.problems.map((p: { path: string }) => p.path)).toContain(path);
    expect(await t.store.suppressionFor(addressHash(email))).toBeUndefined();
    expect(await t.store.suppressionFor(addressHash('not-an-email'))).toBeUndefined();
    expect(await t.store.suppressionsOf('http-sup-bad')).toEqual([]);
    expect(await t.store.consentLedger('http-sup-bad')).toEqual([]);
  });
});

describe('HTTP API, customer audit and erasure', () => {
  const get = (url: string) => api.inject({ method: 'GET', url });
  const del = (url: string) => api.inject({ method: 'DELETE', url });

  it('GET /v1/customers/:id/audit lists the journey and its send in time order', async () => {
    await post('/v1/profiles', { customerId: 'http-audit', email: 'audit@example.com', attributes: {} });
    await post('/v1/events', cartEvent('http-audit', 'http-evt-audit'));
    await t.env.sleep('61m');
    await t.mailbox.waitForCount(1, { to: 'audit@example.com' });
    await vi.waitFor(async () => expect((await t.store.sendRecord('cartAbandonment:http-audit:cart-1', 'reminder1'))?.status).toBe('sent'));

    const res = await get('/v1/customers/http-audit/audit');
    expect(res.statusCode).toBe(200);
    const body = res.json() as { customerId: string; entries: { at: string; kind: string; what: string; cause: string }[] };
    expect(body.customerId).toBe('http-audit');
    expect(body.entries).toEqual([
      { at: expect.any(String), kind: 'journey', what: 'entered cartAbandonment (topic marketing)', cause: 'cartAbandonment:http-audit:cart-1' },
      { at: expect.any(String), kind: 'send', what: expect.stringMatching(/^sent reminder1 \(.+\)$/), cause: 'cartAbandonment:http-audit:cart-1 step reminder1' },
    ]);
    const times = body.entries.map((e) => Date.parse(e.at));
    expect(times.every((time) => Number.isFinite(time))).toBe(true);
    expect(times).toEqual([...times].sort((a, b) => a - b));
    expect(times[1] - times[0]).toBeGreaterThanOrEqual(60 * 60 * 1000);
  });

  it('GET /v1/customers/:id/audit is empty for a customer with no records', async () => {
    const res = await get('/v1/customers/http-nobody/audit');
    expect([res.statusCode, res.json()]).toEqual([200, { customerId: 'http-nobody', entries: [] }]);
  });

  it('DELETE /v1/customers/:id terminates the running journey, erases the customer and keeps their address suppressed as a hash', async () => {
    await post('/v1/profiles', { customerId: 'http-erase', email: 'erase@example.com', attributes: { firstName: 'Eve' } });
    await post('/v1/events', cartEvent('http-erase', 'http-evt-erase'));
    const workflowId = 'cartAbandonment:http-erase:cart-1';
    expect((await t.env.client.workflow.getHandle(workflowId).describe()).status.name).toBe('RUNNING');

    const res = await del('/v1/customers/http-erase');
    expect(res.statusCode).toBe(200);
    expect(res.json()).toEqual({ customerId: 'http-erase', terminated: [workflowId], erased: true });
    expect((await t.env.client.workflow.getHandle(workflowId).describe()).status.name).toBe('TERMINATED');
    expect(await t.store.getProfile('http-erase')).toBeUndefined();
    expect(await t.store.eventsOf('http-erase')).toEqual([]);
    expect(await t.store.journeyRuns('http-erase')).toEqual([]);
    expect(await t.store.sendsOf('http-erase')).toEqual([]);
    const audit = await get('/v1/customers/http-erase/audit');
    expect([audit.statusCode, audit.json()]).toEqual([200, { customerId: 'http-erase', entries: [] }]);
    const suppression = await t.store.suppressionFor(addressHash('erase@example.com'));
    expect(suppression).toMatchObject({ reason: 'erased' });
    expect(suppression?.customerId).toBeUndefined();
  });

  it.each(['ada@example.com', 'has space', 'x'.repeat(129)])('400 naming customerId for GET …/audit and DELETE of %s', async (customerId) => {
    await post('/v1/profiles', { customerId: 'http-keep', email: 'keep@example.com', attributes: {} });
    for (const res of [await get(`/v1/customers/${encodeURIComponent(customerId)}/audit`), await del(`/v1/customers/${encodeURIComponent(customerId)}`)]) {
      expect(res.statusCode).toBe(400);
      expect(res.json()).toMatchObject({ error: 'invalid_request', problems: [{ path: 'customerId', message: expect.any(String) }] });
    }
    expect(await t.store.getProfile('http-keep')).toMatchObject({ email: 'keep@example.com' });
    expect(await t.store.suppressionFor(addressHash(customerId))).toBeUndefined();
  });
});
