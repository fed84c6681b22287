import { defaultPayloadConverter, type Payload } from '@temporalio/common';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cartAbandonment } from '../journeys/cartAbandonment';
import { journeySchema } from '../domain/journey/schema';
import type { JourneyDefinitionInput, SplitStep } from '../domain/journey/types';
import { assignVariant } from '../domain/journey/split';
import type journey from '../workflows';
import { stateQuery } from '../workflows/messages';
import { fixtureCatalogue, subjectTest } from './fixtures/journeys';
import { startJourneyEnv, type JourneyEnv } from './support/journeyEnv';

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;

describe('journey definitions: every step kind validates, with the path of each problem', () => {
  const problems = (definition: JourneyDefinitionInput) => {
    const parsed = journeySchema.safeParse(definition);
    return parsed.success ? [] : parsed.error.issues.map((issue) => `${issue.path.join('.')}: ${issue.message}`);
  };
  const journeyWith = (steps: unknown[], extra: Record<string, unknown> = {}) =>
    ({ id: 'checked', name: 'Checked', trigger: { event: 'x.happened' }, ...extra, steps: [...steps, { id: 'done', kind: 'exit' }] }) as JourneyDefinitionInput;

  it('accepts the shipped cart abandonment and every fixture journey', () => {
    expect(problems(cartAbandonment)).toEqual([]);
    expect(fixtureCatalogue().journeys.length).toBe(10);
  });

  it('fills in the defaults: reentry once, timezone UTC', () => {
    expect(journeySchema.parse(journeyWith([]))).toMatchObject({ reentry: 'once', defaultTimezone: 'UTC' });
  });

  it('rejects a wait with none or two of duration, until and at', () => {
    expect(problems(journeyWith([{ id: 'w', kind: 'wait' }]))).toEqual(['steps.0: a wait needs exactly one of "duration", "until" or "at"']);
    expect(problems(journeyWith([{ id: 'w', kind: 'wait', duration: '1h', at: { localTime: '09:00' } }]))).toEqual(['steps.0: a wait needs exactly one of "duration", "until" or "at"']);
  });

  it('explains bad local times, weekdays, quiet hours, offsets, attributes and timezones', () => {
    expect(
      problems(
        journeyWith(
          [
            { id: 'a', kind: 'wait', at: { localTime: '9am', weekdays: ['monday'], quietHours: { start: '21:00', end: '21:00' } } },
            { id: 'b', kind: 'wait', until: { attribute: 'profile.birthday', offset: '1 day' } },
          ],
          { defaultTimezone: 'Europe/Springfield' },
        ),
      ),
    ).toEqual([
      'defaultTimezone: an IANA timezone such as "Europe/Berlin", "Asia/Tokyo" or "UTC"',
      'steps.0.at.localTime: a local time "HH:MM" on a 24-hour clock, e.g. "09:00"',
      'steps.0.at.weekdays.0: Invalid option: expected one of "sun"|"mon"|"tue"|"wed"|"thu"|"fri"|"sat"',
      'steps.0.at.quietHours.end: quiet hours need different start and end times',
      'steps.1.until.attribute: a date attribute such as "profile.attributes.birthday" or "event.properties.deliveryDate"',
      'steps.1.until.offset: an offset such as "-1d", "+2h" or "-30m"',
    ]);
  });

  it('names every branch, split and waitFor target that does not exist', () => {
    const rule = { attr: 'profile.attributes.plan', op: 'eq', value: 'pro' };
    expect(
      problems(
        journeyWith([
          { id: 'b', kind: 'branch', rules: [{ name: 'pro', when: rule, next: 'proTips' }], otherwise: 'done' },
          { id: 's', kind: 'split', variants: [{ name: 'a', weight: 1, next: 'done' }, { name: 'b', weight: 2, next: 'nowhere' }], holdout: { weight: 1, next: 'later' } },
          { id: 'w', kind: 'waitFor', event: 'y.happened', timeout: '1d', onEvent: 'done', onTimeout: 'gone' },
        ]),
      ),
    ).toEqual([
      'steps.0.rules.0.next: no step with id "proTips"',
      'steps.1.variants.1.next: no step with id "nowhere"',
      'steps.1.holdout.next: no step with id "later"',
      'steps.2.onTimeout: no step with id "gone"',
    ]);
  });

  it('checks a tag step: its next step exists, the attribute is a name, the value a scalar, and it may not fall off the end', () => {
    expect(problems(journeyWith([{ id: 't', kind: 'tag', attribute: 'lifecycle', value: 'sunset' }]))).toEqual([]);
    expect(problems(journeyWith([{ id: 't', kind: 'tag', attribute: 'lifecycle', value: 'sunset', next: 'nowhere' }]))).toEqual(['steps.0.next: no step with id "nowhere"']);
    expect(problems(journeyWith([{ id: 'u', kind: 'tag', attribute: 'life cycle', value: { stage: 'sunset' } }]))).toEqual([
      'steps.0.attribute: a profile attribute name such as "lifecycle"',
      'steps.0.value: a string, number or boolean, e.g. "sunset"',
    ]);
    const endsInTag = { id: 'tagged', name: 'Tagged', trigger: { event: 'x.happened' }, steps: [{ id: 't', kind: 'tag', attribute: 'vip', value: true }] } as JourneyDefinitionInput;
    expect(problems(endsInTag)).toEqual(['steps.0: the last step must be an exit or name its next step']);
  });

  it('explains bad variants and waitFor conditions', () => {
    expect(
      problems(
        journeyWith([
          { id: 's', kind: 'split', variants: [{ name: 'a', weight: 1, next: 'done' }, { name: 'a', weight: 0, next: 'done' }, { name: 'holdout', weight: 1, next: 'done' }] },
          { id: 'w', kind: 'waitFor', event: 'y.happened', where: [{ attr: 'properties.n', op: 'gt', value: 'three' }], timeout: '1d', onEvent: 'done', onTimeout: 'done' },
        ]),
      ),
    ).toEqual([
      'steps.0.variants.1.weight: a weight above 0',
      'steps.0.variants.1.name: duplicate variant name "a"',
      'steps.0.variants.2.name: "holdout" is reserved: use the holdout field',
      'steps.1.where.0.value: a number (use before / after / within for dates)',
    ]);
  });

  it('accepts the three re-entry policies and explains a wrong one', () => {
    for (const reentry of ['once', 'always', { afterCooldown: '30d' }] as const) expect(problems(journeyWith([], { reentry }))).toEqual([]);
    expect(problems(journeyWith([], { reentry: 'sometimes' }))).toEqual(['reentry: reentry is "once", "always" or { afterCooldown: "30d" }']);
  });
});

describe('split assignment (pure)', () => {
  const split = subjectTest.steps[0] as SplitStep;

  it('gives a customer the same variant every time, and independent variants in different journeys', () => {
    for (let i = 0; i < 50; i++) expect(assignVariant(split, 'subjectTest', `c-${i}`)).toEqual(assignVariant(split, 'subjectTest', `c-${i}`));
    const here = Array.from({ length: 200 }, (_, i) => assignVariant(split, 'subjectTest', `c-${i}`).name);
    const elsewhere = Array.from({ length: 200 }, (_, i) => assignVariant(split, 'otherJourney', `c-${i}`).name);
    expect(here.filter((name, i) => name === elsewhere[i]).length).toBeLessThan(150);
  });

  it('respects the weights over 1000 customers (45 / 45 / 10 holdout)', () => {
    const counts: Record<string, number> = { short: 0, long: 0, holdout: 0 };
    for (let i = 1; i <= 1000; i++) counts[assignVariant(split, 'subjectTest', `customer-${i}`).name]++;
    expect(counts.short).toBeGreaterThan(400);
    expect(counts.short).toBeLessThan(500);
    expect(counts.long).toBeGreaterThan(400);
    expect(counts.long).toBeLessThan(500);
    expect(counts.holdout).toBeGreaterThan(70);
    expect(counts.holdout).toBeLessThan(130);
  });

  it('sends holdout customers to the exit unless the holdout names a next step', () => {
    const allHoldout = { ...split, variants: [{ name: 'a', weight: 0.0001, next: 'x' }], holdout: { weight: 1000 } };
    expect(assignVariant(allHoldout, 'j', 'c')).toEqual({ name: 'holdout', next: undefined, holdout: true });
  });
});

describe('step kinds on the time-skipping server', () => {
  let t: JourneyEnv;
  beforeAll(async () => {
    t = await startJourneyEnv({ catalogue: fixtureCatalogue() });
  });
  afterAll(async () => {
    await t?.close();
  });

  let seq = 0;
  const envNow = async () => new Date(await t.env.currentTimeMs());
  /** An event that happens now on the test server's clock. */
  const happen = async (type: string, customerId: string, properties: Record<string, unknown> = {}) =>
    t.client.ingest({ id: `evt-${++seq}`, type, customerId, properties, occurredAt: (await envNow()).toISOString() });
  const customer = (customerId: string, attributes: Record<string, unknown> = {}) => t.client.upsertProfile({ customerId, email: `${customerId}@example.com`, attributes });
  const stepsTo = async (customerId: string) => (await t.mailbox.emailsTo(`${customerId}@example.com`)).map((e) => e.journeyStep);
  const handle = (workflowId: string) => t.env.client.workflow.getHandle<typeof journey>(workflowId);
  /**
   * The result of a run that finishes without timers, awaited by polling in real time:
   * `result()` on a running workflow unlocks time skipping, and concurrent calls leave the
   * test server's skipping locked for the following sleeps.
   */
  const finished = async (workflowId: string) => {
    for (let i = 0; i < 800 && (await handle(workflowId).describe()).status.name === 'RUNNING'; i++) await new Promise((resolve) => setTimeout(resolve, 25));
    return handle(workflowId).result();
  };
  const allFinished = async (workflowIds: string[]) => {
    const states = [];
    for (const id of workflowIds) states.push(await finished(id));
    return states;
  };
  const sleepUntil = async (instant: number) => {
    const ms = instant - (await t.env.currentTimeMs());
    if (ms > 0) await t.env.sleep(ms);
  };
  /** When the run's current wait ends, once it has begun waiting (resolving a wait is an activity). */
  const wakeAt = async (workflowId: string): Promise<string> => {
    for (let i = 0; i < 400; i++) {
      const state = await handle(workflowId).query(stateQuery).catch(() => undefined);
      if (state?.nextWakeAt) return state.nextWakeAt;
      await new Promise((resolve) => setTimeout(resolve, 25));
    }
    throw new Error(`${workflowId} never started waiting`);
  };
  /** When the send ledger reserved each email, on Temporal's clock. */
  const sentAt = async (customerId: string) => (await t.store.sendsOf(customerId)).map((s) => s.createdAt);
  /** Within the few seconds a timer's firing takes to become a send on the skipped clock. */
  const expectNear = (iso: string, instant: number) => expect(Math.abs(Date.parse(iso) - instant)).toBeLessThan(10_000);
  const historyEvents = async (workflowId: string) => (await handle(workflowId).fetchHistory()).events ?? [];
  const decode = (payload: Payload | null | undefined) => (payload ? defaultPayloadConverter.fromPayload(payload) : undefined);
  const activityResults = async (workflowId: string, activityType: string) => {
    const events = await historyEvents(workflowId);
    const types = new Map(events.flatMap((e) => (e.activityTaskScheduledEventAttributes ? [[String(e.eventId), e.activityTaskScheduledEventAttributes.activityType?.name]] : [])));
    return events.flatMap((e) => {
      const done = e.activityTaskCompletedEventAttributes;
      return done && types.get(String(done.scheduledEventId)) === activityType ? [decode(done.result?.payloads?.[0])] : [];
    });
  };
  const timerSummaries = async (workflowId: string) =>
    (await historyEvents(workflowId)).flatMap((e) => (e.timerStartedEventAttributes ? [decode(e.userMetadata?.summary) as string | undefined] : []));

  describe('wait', () => {
    it('waits a duration: nothing at 2 days less a minute, the email at 2 days', async () => {
      await customer('dora');
      const start = await t.env.currentTimeMs();
      expect((await happen('fixture.duration', 'dora')).started).toEqual(['waitDuration:dora']);
      await sleepUntil(start + 2 * DAY - MINUTE);
      expect(await stepsTo('dora')).toEqual([]);
      await t.env.sleep(2 * MINUTE);
      await t.mailbox.waitForCount(1, { to: 'dora@example.com' });
      expect(await stepsTo('dora')).toEqual(['reminder']);
    });

    it('waits until a date in the entry event, a day early', async () => {
      await customer('eve');
      const start = await t.env.currentTimeMs();
      const delivery = new Date(start + 3 * DAY + 2 * HOUR);
      await happen('fixture.shipped', 'eve', { orderId: 'o-1', deliveryDate: delivery.toISOString() });
      const expected = delivery.getTime() - DAY;
      expect(await wakeAt('waitUntilEventDate:eve:o-1')).toBe(new Date(expected).toISOString());
      expect(await timerSummaries('waitUntilEventDate:eve:o-1')).toEqual(['wait until event.properties.deliveryDate -1d before deliveryTomorrow']);
      await sleepUntil(expected - MINUTE);
      expect(await stepsTo('eve')).toEqual([]);
      await t.env.sleep(2 * MINUTE);
      await t.mailbox.waitForCount(1, { to: 'eve@example.com' });
      expectNear((await sentAt('eve'))[0], expected);
      const state = await finished('waitUntilEventDate:eve:o-1');
      // The label, not the date: step outcomes carry no event property values.
      expect(state.history[0]).toMatchObject({ stepId: 'dayBeforeDelivery', outcome: 'waited until event.properties.deliveryDate -1d' });
    });

    it('continues at once, and says why, when the date has passed or the attribute is missing', async () => {
      await customer('late');
      await customer('nodate');
      const now = await t.env.currentTimeMs();
      await happen('fixture.shipped', 'late', { orderId: 'o-2', deliveryDate: new Date(now + 12 * HOUR).toISOString() });
      await happen('fixture.shipped', 'nodate', { orderId: 'o-3' });
      const [late, nodate] = await allFinished(['waitUntilEventDate:late:o-2', 'waitUntilEventDate:nodate:o-3']);
      expect(late.history.map((h) => h.outcome)).toEqual(['continued at once: event.properties.deliveryDate -1d is in the past', 'sent deliveryTomorrow', 'exit']);
      expect(nodate.history.map((h) => h.outcome)).toEqual(['continued at once: attribute missing: event.properties.deliveryDate', 'sent deliveryTomorrow', 'exit']);
      expect(await stepsTo('late')).toEqual(['deliveryTomorrow']);
      expect(await stepsTo('nodate')).toEqual(['deliveryTomorrow']);
    });

    it('sends at 09:00 Tokyo time the day before a Tokyo customer’s birthday (a profile date, yearly, then a local time)', async () => {
      const now = await t.env.currentTimeMs();
      // The customer's birthday is five days ahead, in their calendar (Tokyo is UTC+9, no DST).
      const tokyoBirthday = new Date(now + 9 * HOUR + 5 * DAY);
      const [year, month, day] = [tokyoBirthday.getUTCFullYear(), tokyoBirthday.getUTCMonth(), tokyoBirthday.getUTCDate()];
      await customer('kenji', { birthday: `1990-${String(month + 1).padStart(2, '0')}-${String(day).padStart(2, '0')}`, timezone: 'Asia/Tokyo' });
      await happen('fixture.birthday_club', 'kenji');
      const midnightBefore = Date.UTC(year, month, day - 1) - 9 * HOUR; // 00:00 JST the day before
      const nineBefore = Date.UTC(year, month, day - 1); // 09:00 JST = 00:00 UTC
      expect(await wakeAt('waitUntilBirthday:kenji')).toBe(new Date(midnightBefore).toISOString());
      await sleepUntil(midnightBefore + MINUTE);
      await sleepUntil(nineBefore - MINUTE);
      expect(await stepsTo('kenji')).toEqual([]);
      await t.env.sleep(2 * MINUTE);
      await t.mailbox.waitForCount(1, { to: 'kenji@example.com' });
      expectNear((await sentAt('kenji'))[0], nineBefore);
      const summaries = await timerSummaries('waitUntilBirthday:kenji');
      expect(summaries[0]).toBe('wait until profile.attributes.birthday -1d (yearly) before morning');
      expect(summaries[1]).toMatch(/^wait until 09:00 Asia\/Tokyo \(\w{3} \d{1,2} \w{3} 00:00 UTC\) before birthdayEve$/);
    });

    it('sends at 09:00 local time to a customer in Honolulu (UTC−10), one in Tokyo (UTC+9) and one with no timezone (the journey’s Asia/Kolkata, UTC+5:30)', async () => {
      await customer('leilani', { timezone: 'Pacific/Honolulu' });
      await customer('haruto', { timezone: 'Asia/Tokyo' });
      await customer('nozone');
      const next = (from: number, utcMinuteOfDay: number) => {
        const midnight = Math.floor(from / DAY) * DAY;
        const today = midnight + utcMinuteOfDay * MINUTE;
        return today >= from ? today : today + DAY;
      };
      // Keep clear of a target a few seconds away, where the run's clock could pass it before it starts waiting.
      let now = await t.env.currentTimeMs();
      if ([19 * 60, 0, 3 * 60 + 30].some((m) => next(now, m) - now < 10 * MINUTE)) {
        await t.env.sleep(15 * MINUTE);
        now = await t.env.currentTimeMs();
      }
      const expected = { leilani: next(now, 19 * 60), haruto: next(now, 0), nozone: next(now, 3 * 60 + 30) };
      for (const id of Object.keys(expected)) await happen('fixture.morning', id);
      for (const [id, at] of Object.entries(expected)) expect(await wakeAt(`localMorning:${id}`)).toBe(new Date(at).toISOString());
      const honolulu = await timerSummaries('localMorning:leilani');
      expect(honolulu).toEqual([expect.stringMatching(/^wait until 09:00 Pacific\/Honolulu \(\w{3} \d{1,2} \w{3} 19:00 UTC\) before morning$/)]);

      for (const [id, at] of Object.entries(expected).sort((a, b) => a[1] - b[1])) {
        await sleepUntil(at - MINUTE);
        expect(await stepsTo(id)).toEqual([]);
        await t.env.sleep(2 * MINUTE);
        await t.mailbox.waitForCount(1, { to: `${id}@example.com` });
        expectNear((await sentAt(id))[0], at);
      }
    });
  });

  describe('waitFor', () => {
    it('goes to onEvent when an event for the same order with a matching property arrives, ignoring ones that do not match', async () => {
      await customer('rita');
      await happen('fixture.delivered', 'rita', { orderId: 'o-10' });
      await t.env.sleep(DAY);
      expect((await happen('review.submitted', 'rita', { orderId: 'o-10', rating: 2 })).signalled).toEqual([]);
      expect((await happen('review.submitted', 'rita', { orderId: 'o-11', rating: 5 })).signalled).toEqual([]);
      expect((await happen('review.submitted', 'rita', { orderId: 'o-10', rating: 5 })).signalled).toEqual(['reviewRequest:rita:o-10']);
      const state = await finished('reviewRequest:rita:o-10');
      expect(state.history.map((h) => h.outcome)).toEqual([expect.stringMatching(/^review\.submitted arrived \(evt-\d+\)$/), 'sent thanks', 'exit']);
      expect(await stepsTo('rita')).toEqual(['thanks']);
    });

    it('goes to onTimeout after 3 days without a matching event', async () => {
      await customer('tim');
      const start = await t.env.currentTimeMs();
      await happen('fixture.delivered', 'tim', { orderId: 'o-20' });
      await sleepUntil(start + 3 * DAY - MINUTE);
      expect(await stepsTo('tim')).toEqual([]);
      await t.env.sleep(2 * MINUTE);
      await t.mailbox.waitForCount(1, { to: 'tim@example.com' });
      expect(await stepsTo('tim')).toEqual(['nudge']);
      expect((await finished('reviewRequest:tim:o-20')).history[0].outcome).toBe('no review.submitted within 3d');
    });
  });

  describe('branch', () => {
    it('takes the first matching rule’s step, on the profile or on fresh events, and otherwise the otherwise step; the activity result holds the trace', async () => {
      await customer('pia', { plan: 'pro' });
      await customer('reader', { plan: 'free' });
      await customer('basil', { plan: 'free' });
      await happen('page.viewed', 'reader', { page: 'pricing' });
      await happen('page.viewed', 'reader', { page: 'pricing' });
      await happen('page.viewed', 'basil', { page: 'pricing' });
      for (const id of ['pia', 'reader', 'basil']) await happen('fixture.signed_up', id);
      const states = await allFinished(['pia', 'reader', 'basil'].map((id) => `planTips:${id}`));
      expect(states.map((s) => s.history[0].outcome)).toEqual(['pro: proTips', 'pricingReader: pricingTips', 'otherwise: basicTips']);
      expect(await stepsTo('pia')).toEqual(['proTips']);
      expect(await stepsTo('reader')).toEqual(['pricingTips']);
      expect(await stepsTo('basil')).toEqual(['basicTips']);

      const [pro] = await activityResults('planTips:pia', 'branchStep');
      expect(pro).toMatchObject({ next: 'proTips', chosenBy: 'pro', trace: [{ matched: true, because: expect.stringContaining('"pro"') }] });
      const [basic] = (await activityResults('planTips:basil', 'branchStep')) as { chosenBy: string; trace: { rule: string; matched: boolean }[] }[];
      expect(basic.chosenBy).toBe('otherwise');
      expect(basic.trace.map((r) => [r.rule.split(':')[0], r.matched])).toEqual([
        ['pro', false],
        ['pricingReader', false],
      ]);
    });
  });

  describe('split', () => {
    const split = subjectTest.steps[0] as SplitStep;
    const customerIn = (variant: string) => {
      for (let i = 0; ; i++) if (assignVariant(split, 'subjectTest', `sam-${i}`).name === variant) return `sam-${i}`;
    };

    it('assigns a customer the same variant in every run, records it, and sends the holdout nothing', async () => {
      const shortie = customerIn('short');
      const held = customerIn('holdout');
      await customer(shortie);
      await customer(held);
      await happen('fixture.split', shortie);
      await happen('fixture.split', held);
      const [first, holdout] = await allFinished([`subjectTest:${shortie}`, `subjectTest:${held}`]);
      expect(first.variants).toEqual({ subjectLine: 'short' });
      expect(holdout).toMatchObject({ status: 'completed', variants: { subjectLine: 'holdout' } });
      expect(holdout.history.map((h) => h.outcome)).toEqual(['variant holdout']);

      expect((await happen('fixture.split', shortie)).started).toEqual([`subjectTest:${shortie}`]);
      await t.mailbox.waitForCount(2, { to: `${shortie}@example.com` });
      const second = await finished(`subjectTest:${shortie}`);
      expect(second.variants).toEqual({ subjectLine: 'short' });
      const emails = await t.mailbox.emailsTo(`${shortie}@example.com`);
      expect(emails.map((e) => e.subject)).toEqual(['Hi', 'Hi']);
      expect(await stepsTo(held)).toEqual([]);
    });
  });

  describe('re-entry', () => {
    const enterAndFinish = async (journeyId: string, trigger: string, customerId: string) => {
      const entered = await happen(trigger, customerId);
      if (entered.started.length) await finished(`${journeyId}:${customerId}`);
      return entered;
    };

    it('once: a second trigger after the journey ended starts nothing', async () => {
      await customer('olga');
      expect((await enterAndFinish('reentryOnce', 'fixture.reentry_once', 'olga')).started).toEqual(['reentryOnce:olga']);
      await t.env.sleep(DAY);
      expect(await enterAndFinish('reentryOnce', 'fixture.reentry_once', 'olga')).toMatchObject({ started: [], signalled: [] });
      expect(await stepsTo('olga')).toEqual(['hello']);
    });

    it('always: a trigger after the journey ended starts it again, with its own sends', async () => {
      await customer('alex');
      expect((await enterAndFinish('reentryAlways', 'fixture.reentry_always', 'alex')).started).toEqual(['reentryAlways:alex']);
      expect((await enterAndFinish('reentryAlways', 'fixture.reentry_always', 'alex')).started).toEqual(['reentryAlways:alex']);
      await t.mailbox.waitForCount(2, { to: 'alex@example.com' });
      expect((await t.mailbox.emailsTo('alex@example.com')).map((e) => e.subject)).toEqual(['Hello from reentryAlways', 'Hello from reentryAlways']);
    });

    it('afterCooldown 30d: a trigger 10 days after the run ended starts nothing, one 31 days after starts it again', async () => {
      await customer('cora');
      expect((await enterAndFinish('reentryCooldown', 'fixture.reentry_cooldown', 'cora')).started).toEqual(['reentryCooldown:cora']);
      await t.env.sleep(10 * DAY);
      expect(await enterAndFinish('reentryCooldown', 'fixture.reentry_cooldown', 'cora')).toMatchObject({ started: [], signalled: [] });
      await t.env.sleep(21 * DAY);
      expect((await enterAndFinish('reentryCooldown', 'fixture.reentry_cooldown', 'cora')).started).toEqual(['reentryCooldown:cora']);
      await t.mailbox.waitForCount(2, { to: 'cora@example.com' });
    });
  });
});
