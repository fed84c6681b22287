import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { runCli, type CliDeps } from '../cli';
import { buildHttpApi } from '../api/http';
import type { SendStepInput } from '../activities';
import { openSqliteStore } from '../store/sqlite';
import type { SendRecord, Store } from '../store/types';
import { Captured } from './support/captured';
import { stateQuery } from '../workflows/messages';
import { startFaultySmtp, type FaultySmtp } from './support/faultySmtp';
import { sendStepHarness } from './support/activityHarness';
import { startJourneyEnv, type JourneyEnv } from './support/journeyEnv';

/** Runs one command in-process, as `journeys <args>` would. */
async function journeys(args: string[], deps: Pick<CliDeps, 'connect' | 'openStore'>) {
  const stdout = new Captured();
  const stderr = new Captured();
  const code = await runCli(args, { ...deps, stdout, stderr });
  return { code, stdout: stdout.text, stderr: stderr.text };
}

const shoes = [{ name: 'Trail shoes', quantity: 1, price: 129.5 }];
const cart = (customerId: string, cartId: string) => ({
  id: `evt-${customerId}-${cartId}`,
  type: 'cart.updated',
  customerId,
  properties: { cartId, total: 129.5, currency: 'EUR', items: shoes },
});

describe('two attempts of one send racing for its ledger row', () => {
  let dir: string;
  let store: Store;
  let smtp: FaultySmtp;
  let release: () => void;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'journeys-race-'));
    store = openSqliteStore(join(dir, 'journeys.db'));
    await store.upsertProfiles([{ customerId: 'racer', email: 'racer@example.com', attributes: { firstName: 'Ria' } }]);
    // The first message's reply waits until both attempts are at the hand-off.
    const held = new Promise<void>((resolve) => (release = resolve));
    smtp = await startFaultySmtp({ holdReply: () => held });
  });
  afterAll(async () => {
    await smtp.close();
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('sends once: the attempt that loses the claim closes its session before the message', async () => {
    const send = await sendStepHarness({ store, smtpUrl: smtp.url });
    const input: SendStepInput = {
      journeyId: 'cartAbandonment',
      topic: 'marketing',
      customerId: 'racer',
      stepId: 'reminder1',
      template: { rules: [], fallback: 'reminder1' },
      event: { ...cart('racer', 'r1'), occurredAt: new Date().toISOString() },
    };
    // Attempt 1 stalled past its start-to-close timeout while Temporal started attempt 2.
    const attempt = (n: number) => send(input, { workflowId: 'cartAbandonment:racer:r1', attempt: n });
    const results = Promise.all([attempt(1), attempt(2)]);
    await new Promise((resolve) => setTimeout(resolve, 500));
    release();
    const [first, second] = await results;

    await send.close();
    expect(smtp.messages.length).toBe(1);
    expect([first.status, second.status].sort()).toEqual(['sent', 'skipped']);
    expect((await store.sendsOf('racer')).map((s) => [s.stepId, s.status])).toEqual([['reminder1', 'sent']]);
  });
});

describe('a worker that recorded the send and died before telling Temporal', () => {
  let t: JourneyEnv;
  let smtp: FaultySmtp;

  beforeAll(async () => {
    smtp = await startFaultySmtp();
    t = await startJourneyEnv({ smtpUrl: smtp.url });
  });
  afterAll(async () => {
    await t?.close();
    await smtp?.close();
  });

  it('is retried by Temporal, and the retry reports the recorded send without touching SMTP', async () => {
    await t.client.upsertProfile({ customerId: 'unreported', email: 'unreported@example.com', attributes: {} });
    await t.client.ingest(cart('unreported', 'u1'));
    t.faults.failAfterSentRecorded = 1;
    await t.env.sleep('61m');
    const handle = t.env.client.workflow.getHandle('cartAbandonment:unreported:u1');
    await vi.waitFor(async () => expect((await handle.query(stateQuery)).currentStep).not.toBe('reminder1'), { timeout: 20_000 });
    expect(t.faults.failAfterSentRecorded).toBe(0);
    expect(smtp.messages.map((m) => m.journeyStep)).toEqual(['reminder1']);
    // Not even a second SMTP transaction: the retry read the ledger first.
    expect(smtp.transactions()).toBe(1);
    expect((await t.store.sendsOf('unreported')).map((s) => s.status)).toEqual(['sent']);
    // The journey knows the email went out and which template, not merely that the step ended.
    const { history } = await handle.query(stateQuery);
    expect(history.find((step) => step.stepId === 'reminder1')?.outcome).toBe('sent reminder1');
  });
});

describe('an SMTP server that takes the message and drops the connection before its reply', () => {
  let t: JourneyEnv;
  let smtp: FaultySmtp;

  beforeAll(async () => {
    // The first copy of each customer's first reminder is taken, then the connection drops.
    const dropped = new Set<string>();
    smtp = await startFaultySmtp({
      dropAfterBody: ({ to, journeyStep }) => journeyStep === 'reminder1' && !dropped.has(to[0]) && Boolean(dropped.add(to[0])),
    });
    t = await startJourneyEnv({ smtpUrl: smtp.url });
  });
  afterAll(async () => {
    await t?.close();
    await smtp?.close();
  });

  it('leaves the reminder in doubt and never sends it again; the next reminder goes out', async () => {
    await t.client.upsertProfile({ customerId: 'dropped', email: 'dropped@example.com', attributes: {} });
    await t.client.ingest(cart('dropped', 'd1'));
    await t.env.sleep('26h');
    const handle = t.env.client.workflow.getHandle('cartAbandonment:dropped:d1');
    const state = await handle.query(stateQuery);
    expect(state.history.find((s) => s.stepId === 'reminder1')?.outcome).toMatch(/^failed: the SMTP connection broke after the message was handed over/);
    expect(smtp.messages.map((m) => m.journeyStep)).toEqual(['reminder1', 'reminder2']);
    const sends = await t.store.sendsOf('dropped');
    expect(sends.map((s) => [s.stepId, s.status])).toEqual([
      ['reminder1', 'in_doubt'],
      ['reminder2', 'sent'],
    ]);
    expect(sends[0].reason).toMatch(/no reply after the message was handed to the SMTP server/);
  });

  it('lists the send in doubt for an operator, who resends the same message once (same Message-ID)', async () => {
    const deps = { connect: async () => ({ journeys: t.client, close: async () => undefined }), openStore: async () => ({ store: t.store, close: async () => undefined }) };
    const listed = await journeys(['sends', '--status', 'in_doubt'], deps);
    expect(listed.code).toBe(0);
    expect(listed.stdout).toMatch(/WHEN +JOURNEY +CUSTOMER +STEP +WORKFLOW ID +REASON/);
    expect(listed.stdout).toMatch(/cartAbandonment +dropped +reminder1 +cartAbandonment:dropped:d1 +no reply after the message was handed to the SMTP server/);
    expect(listed.stdout).toContain('journeys sends resolve <workflowId> <stepId> --resend');

    const resent = await journeys(['sends', 'resolve', 'cartAbandonment:dropped:d1', 'reminder1', '--resend'], deps);
    expect(resent).toMatchObject({ code: 0, stdout: 'cartAbandonment:dropped:d1 reminder1: resent with the same Message-ID (now sent)\n' });
    const copies = smtp.messages.filter((m) => m.journeyStep === 'reminder1').map((m) => /^Message-ID: *(.+)$/im.exec(m.raw.toString())?.[1]);
    expect(copies.length).toBe(2);
    expect(copies[1]).toBe(copies[0]);
    expect(await t.store.sendRecord('cartAbandonment:dropped:d1', 'reminder1')).toMatchObject({ status: 'sent', reason: 'resent by an operator' });

    // Settled sends cannot be resolved again, and the answer says why.
    const again = await journeys(['sends', 'resolve', 'cartAbandonment:dropped:d1', 'reminder1', '--delivered'], deps);
    expect(again.code).toBe(2);
    expect(again.stderr).toContain('only a send in doubt can be resolved; its status is sent');
  });

  it('takes an operator\'s word that a send in doubt arrived, over the HTTP API', async () => {
    await t.client.upsertProfile({ customerId: 'dropped2', email: 'dropped2@example.com', attributes: {} });
    await t.client.ingest(cart('dropped2', 'd2'));
    await t.env.sleep('61m');
    await vi.waitFor(async () => expect((await t.store.sendRecord('cartAbandonment:dropped2:d2', 'reminder1'))?.status).toBe('in_doubt'));
    const api = buildHttpApi({ journeys: t.client, store: t.store, bodyLimit: 65_536, logger: false });
    const listed = await api.inject({ method: 'GET', url: '/v1/sends?status=in_doubt' });
    expect(listed.json().sends.map((s: SendRecord) => [s.workflowId, s.stepId, s.customerId])).toContainEqual(['cartAbandonment:dropped2:d2', 'reminder1', 'dropped2']);
    const resolved = await api.inject({ method: 'POST', url: '/v1/sends/resolve', payload: { workflowId: 'cartAbandonment:dropped2:d2', stepId: 'reminder1', resolution: 'delivered' } });
    expect(resolved.json()).toEqual({ workflowId: 'cartAbandonment:dropped2:d2', stepId: 'reminder1', status: 'sent', note: 'recorded as delivered' });
    const bad = await api.inject({ method: 'POST', url: '/v1/sends/resolve', payload: { workflowId: 'x', stepId: 'y', resolution: 'maybe' } });
    expect(bad.statusCode).toBe(400);
    expect(bad.json().problems[0].path).toBe('resolution');
    await api.close();
  });
});

describe('consent withdrawn while the SMTP session opens', () => {
  let t: JourneyEnv;
  let smtp: FaultySmtp;
  let withdrawDuringSession: (() => Promise<void>) | undefined;

  beforeAll(async () => {
    smtp = await startFaultySmtp({ onMailFrom: () => withdrawDuringSession?.() });
    t = await startJourneyEnv({ smtpUrl: smtp.url });
  });
  afterAll(async () => {
    await t?.close();
    await smtp?.close();
  });
  afterEach(() => {
    withdrawDuringSession = undefined;
  });

  it('sends nothing: the claim at the hand-off reads the withdrawal and the session closes before the message', async () => {
    await t.client.upsertProfile({ customerId: 'late-optout', email: 'late@example.com', attributes: {} });
    await t.client.ingest(cart('late-optout', 'l1'));
    // Written straight to the consent ledger, as another process would; no signal reaches the journey.
    withdrawDuringSession = () => t.store.recordConsent({ customerId: 'late-optout', topic: 'marketing', status: 'withdrawn', source: 'support', at: new Date().toISOString() });
    await t.env.sleep('61m');
    const state = await t.env.client.workflow.getHandle('cartAbandonment:late-optout:l1').result();
    expect(state).toMatchObject({ status: 'consent_withdrawn' });
    expect(smtp.messages).toEqual([]);
    expect((await t.store.sendsOf('late-optout')).map((s) => [s.stepId, s.status, s.reason])).toEqual([['reminder1', 'skipped', 'consent_withdrawn']]);
  });
});
