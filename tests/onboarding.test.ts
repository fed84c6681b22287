import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type journey from '../workflows';
import { startJourneyEnv, type JourneyEnv } from './support/journeyEnv';

let t: JourneyEnv;
beforeAll(async () => {
  t = await startJourneyEnv();
});
afterAll(async () => {
  await t?.close();
});

let seq = 0;
const happen = (type: string, customerId: string) => t.client.ingest({ id: `onboarding-${++seq}`, type, customerId, properties: {} });
const signUp = (customerId: string) => happen('user.signed_up', customerId);
const emailsTo = (address: string) => t.mailbox.emailsTo(address);
const stepsOf = async (address: string) => (await emailsTo(address)).map((e) => e.journeyStep);
const journeyResult = (customerId: string) => t.env.client.workflow.getHandle<typeof journey>(`onboarding:${customerId}`).result();

describe('onboarding', () => {
  it('sends the welcome at once, tips on day 2, a highlight chosen by the profile on day 5 and a check-in on day 14', async () => {
    await t.client.upsertProfile({ customerId: 'tess', email: 'tess@example.com', attributes: { firstName: 'Tess', plan: 'team', role: 'developer' } });
    await t.client.upsertProfile({ customerId: 'dev', email: 'dev@example.com', attributes: { firstName: 'Dev', plan: 'solo', role: 'developer' } });
    await t.client.upsertProfile({ customerId: 'nora', email: 'nora@example.com', attributes: {} });
    const customers = ['tess@example.com', 'dev@example.com', 'nora@example.com'];
    const started = await Promise.all(['tess', 'dev', 'nora'].map(signUp));
    expect(started.map((r) => r.started)).toEqual([['onboarding:tess'], ['onboarding:dev'], ['onboarding:nora']]);
    const arrived = (count: number) => Promise.all(customers.map((to) => t.mailbox.waitForCount(count, { to })));

    await arrived(1);
    expect(await stepsOf('nora@example.com')).toEqual(['welcome']);
    await t.env.sleep('47h');
    expect(await stepsOf('nora@example.com')).toEqual(['welcome']);
    await t.env.sleep('2h');
    await arrived(2);
    await t.env.sleep('70h');
    expect(await stepsOf('nora@example.com')).toEqual(['welcome', 'tips']);
    await t.env.sleep('2h');
    await arrived(3);
    await t.env.sleep('214h');
    expect(await stepsOf('nora@example.com')).toEqual(['welcome', 'tips', 'highlight']);
    await t.env.sleep('2h');
    await arrived(4);

    for (const to of customers) expect(await stepsOf(to)).toEqual(['welcome', 'tips', 'highlight', 'checkIn']);
    const highlight = async (to: string) => (await emailsTo(to))[2].subject;
    // A team-plan developer gets collaboration: the team rule comes first.
    expect(await highlight('tess@example.com')).toBe('Work together, in one place');
    expect(await highlight('dev@example.com')).toBe('Automate it with our API');
    expect(await highlight('nora@example.com')).toBe('See your progress at a glance');

    const [tessWelcome, , , tessCheckIn] = await emailsTo('tess@example.com');
    expect(tessWelcome.subject).toBe('Welcome aboard, Tess');
    expect(tessWelcome.html).toContain('Hi Tess,');
    expect(tessCheckIn.subject).toBe('How is it going, Tess?');
    const [noraWelcome] = await emailsTo('nora@example.com');
    expect(noraWelcome.subject).toBe('Welcome aboard');
    expect(noraWelcome.html).toContain('Hello there,');
    expect(noraWelcome.html).toContain('Unsubscribe');

    const state = await journeyResult('nora');
    expect(state.status).toBe('completed');
    expect(state.history.filter((h) => h.kind === 'send').map((h) => h.outcome)).toEqual(['sent welcome', 'sent tips', 'sent highlightReports', 'sent checkIn']);
  });

  it('sends only the welcome to a customer who activates on day 1', async () => {
    await t.client.upsertProfile({ customerId: 'quick', email: 'quick@example.com', attributes: { firstName: 'Quinn' } });
    await signUp('quick');
    await t.mailbox.waitForCount(1, { to: 'quick@example.com' });
    await t.env.sleep('24h');
    expect(await happen('user.activated', 'quick')).toMatchObject({ started: [], signalled: ['onboarding:quick'] });
    expect((await journeyResult('quick')).status).toBe('goal_reached');
    await t.env.sleep('15d');
    expect(await stepsOf('quick@example.com')).toEqual(['welcome']);
  });

  it('sends the welcome and the tips, and nothing more, to a customer who activates on day 3', async () => {
    await t.client.upsertProfile({ customerId: 'steady', email: 'steady@example.com', attributes: { plan: 'team' } });
    await signUp('steady');
    await t.env.sleep('49h');
    await t.mailbox.waitForCount(2, { to: 'steady@example.com' });
    await t.env.sleep('23h');
    expect(await happen('user.activated', 'steady')).toMatchObject({ signalled: ['onboarding:steady'] });
    expect((await journeyResult('steady')).status).toBe('goal_reached');
    await t.env.sleep('15d');
    expect(await stepsOf('steady@example.com')).toEqual(['welcome', 'tips']);
  });
});
