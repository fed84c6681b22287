import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { defaultPayloadConverter, type Payload } from '@temporalio/common';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { JourneyDefinitionInput } from '../domain/journey/types';
import { loadCatalogue } from '../journeys';
import type journey from '../workflows';
import { FIXTURE_TEMPLATES } from './fixtures/journeys';
import { startJourneyEnv, type JourneyEnv } from './support/journeyEnv';

// Segment membership comes from the shipped segments, which the client keeps for every
// customer: `vip` holds for gold-tier customers.

/** One send whose template a segment chooses; a staff rule over email and phone is tried first. */
const segmentNote: JourneyDefinitionInput = {
  id: 'segmentNote',
  name: 'Fixture: a template chosen by segment',
  trigger: { event: 'fixture.segment_note' },
  steps: [
    {
      id: 'note',
      kind: 'send',
      template: {
        rules: [
          {
            name: 'staff',
            when: {
              any: [
                { attr: 'profile.email', op: 'matches', value: '@shop\\.example\\.com$' },
                { attr: 'profile.attributes.phone', op: 'eq', value: '+1 555 0100' },
              ],
            },
            use: 'staffNote',
          },
          { name: 'vip', when: { segment: 'vip' }, use: 'vipNote' },
        ],
        fallback: 'note',
      },
    },
    { id: 'done', kind: 'exit' },
  ],
};

/** A branch on segment membership. */
const segmentRoute: JourneyDefinitionInput = {
  id: 'segmentRoute',
  name: 'Fixture: a branch on segment',
  trigger: { event: 'fixture.segment_route' },
  steps: [
    { id: 'whichPerks', kind: 'branch', rules: [{ name: 'vip', when: { segment: 'vip' }, next: 'vipPerks' }], otherwise: 'perks' },
    { id: 'vipPerks', kind: 'send', template: { fallback: 'vipPerks' }, next: 'done' },
    { id: 'perks', kind: 'send', template: { fallback: 'perks' }, next: 'done' },
    { id: 'done', kind: 'exit' },
  ],
};

const email = (subject: string, text: string) => `---\nsubject: ${subject}\n---\n{% layout "_layouts/fixture" %}{% block content %}<p>${text}</p>{% endblock %}`;
const templates: Record<string, string> = {
  'segmentNote/note': email('A note for you', 'News from the shop.'),
  'segmentNote/vipNote': email('Thank you, {{ profile.attributes.firstName }} {{ profile.attributes.lastName }}', 'Early access, {{ profile.attributes.lastName }}.'),
  'segmentNote/staffNote': email('Staff preview', 'For staff.'),
  'segmentRoute/vipPerks': email('Your VIP perks', 'Free express shipping.'),
  'segmentRoute/perks': email('Your perks', 'Free returns.'),
};

const isPayload = (value: object): value is Payload => (value as Payload).metadata?.encoding instanceof Uint8Array;
/** A history with every payload (inputs, results, failures, summaries) decoded, as the Temporal UI shows it. */
const decoded = (value: unknown): unknown => {
  if (typeof value !== 'object' || value === null || value instanceof Uint8Array) return value;
  if (isPayload(value)) return defaultPayloadConverter.fromPayload(value);
  if (Array.isArray(value)) return value.map(decoded);
  return Object.fromEntries(Object.entries(value).map(([key, field]) => [key, decoded(field)]));
};

describe('segment rules on the time-skipping server', () => {
  let t: JourneyEnv;
  let dir: string;
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'journeys-segment-rules-'));
    for (const [name, source] of Object.entries(templates)) {
      mkdirSync(dirname(join(dir, name)), { recursive: true });
      writeFileSync(join(dir, `${name}.liquid`), source);
    }
    t = await startJourneyEnv({ catalogue: loadCatalogue([segmentNote, segmentRoute], [FIXTURE_TEMPLATES, dir]) });
    await t.client.upsertProfile({
      customerId: 'siobhan',
      email: 'siobhan.obrien@example.com',
      attributes: { firstName: 'Siobhán', lastName: "O'Brien", loyaltyTier: 'gold', phone: '+353 1 555 0147' },
    });
    await t.client.upsertProfile({ customerId: 'pat', email: 'pat@example.com', attributes: { loyaltyTier: 'bronze', phone: '+1 555 0199' } });
  });
  afterAll(async () => {
    await t?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  let seq = 0;
  const happen = async (type: string, customerId: string) =>
    t.client.ingest({ id: `evt-${++seq}`, type, customerId, properties: {}, occurredAt: new Date(await t.env.currentTimeMs()).toISOString() });
  const handle = (workflowId: string) => t.env.client.workflow.getHandle<typeof journey>(workflowId);
  /** Polled in real time: `result()` would unlock time skipping for the tests after it. */
  const finished = async (workflowId: string) => {
    for (let i = 0; i < 800 && (await handle(workflowId).describe()).status.name === 'RUNNING'; i++) await new Promise((resolve) => setTimeout(resolve, 25));
    return handle(workflowId).result();
  };
  const history = async (workflowId: string) => JSON.stringify(decoded((await handle(workflowId).fetchHistory()).events));

  it('a send step picks the vip template for a customer in the vip segment and the fallback for one who is not', async () => {
    expect((await t.client.segmentsOf('siobhan')).map((s) => s.segmentId)).toEqual(['vip']);
    expect(await t.client.segmentsOf('pat')).toEqual([]);
    await happen('fixture.segment_note', 'siobhan');
    await happen('fixture.segment_note', 'pat');
    const [vip] = await t.mailbox.waitForCount(1, { to: 'siobhan.obrien@example.com' });
    const [standard] = await t.mailbox.waitForCount(1, { to: 'pat@example.com' });
    expect(vip.subject).toBe("Thank you, Siobhán O'Brien");
    expect(vip.text).toContain("Early access, O'Brien.");
    expect(standard.subject).toBe('A note for you');
    expect((await finished('segmentNote:siobhan')).history.map((h) => h.outcome)).toEqual(['sent vipNote', 'exit']);
  });

  it('a branch step goes on to the vip step for a vip customer and to the otherwise step for the rest', async () => {
    await happen('fixture.segment_route', 'siobhan');
    await happen('fixture.segment_route', 'pat');
    const [vip, standard] = [await finished('segmentRoute:siobhan'), await finished('segmentRoute:pat')];
    expect(vip.history.map((h) => h.outcome)).toEqual(['vip: vipPerks', 'sent vipPerks', 'exit']);
    expect(standard.history.map((h) => h.outcome)).toEqual(['otherwise: perks', 'sent perks', 'exit']);
    expect((await t.mailbox.emailsTo('siobhan.obrien@example.com')).map((e) => e.subject)).toContain('Your VIP perks');
    expect((await t.mailbox.emailsTo('pat@example.com')).map((e) => e.subject)).toContain('Your perks');
  });

  it('the history shows each rule tried, with neither the email address nor the phone number the rules read', async () => {
    const siobhan = await history('segmentNote:siobhan');
    expect(siobhan).toContain('profile.email matches');
    expect(siobhan).toContain('in segment \\"vip\\"');
    for (const value of ['siobhan.obrien@example.com', '+353 1 555 0147', "O'Brien"]) expect(siobhan).not.toContain(value);
    const pat = await history('segmentNote:pat');
    expect(pat).toContain('profile.attributes.phone');
    for (const value of ['pat@example.com', '+1 555 0199']) expect(pat).not.toContain(value);
  });
});
