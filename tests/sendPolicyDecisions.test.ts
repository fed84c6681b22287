import { describe, expect, it } from 'vitest';
import { GLOBAL_TOPIC } from '../domain/customer/topics';
import type { ConsentStatus, Profile } from '../domain/customer/types';
import { addressHash } from '../domain/delivery/address';
import { createSendPolicy } from '../domain/delivery/sendPolicy';

// The one send policy that ingest, the send step and the unsubscribe page all ask, decided
// without a store: the ledger and the suppression list are plain maps here.
const policy = createSendPolicy({
  optInTopics: ['product', GLOBAL_TOPIC],
  frequencyCaps: [{ topic: 'marketing', max: 1, window: '24h' }],
  quietHours: { start: '21:00', end: '08:00' },
  defaultTimezone: 'UTC',
});
const ledger = (records: Record<string, ConsentStatus>) => ({ consentFor: async (_customerId: string, topic: string) => (records[topic] ? { status: records[topic] } : undefined) });
const profile = (attributes: Record<string, unknown> = {}): Profile => ({ customerId: 'ada', email: 'ada@example.com', attributes });
const marketing = { topic: 'marketing' };
const receipt = { topic: 'transactional', transactional: true };

describe('the send policy', () => {
  it('treats a topic without a record as consented unless it is opt-in; the global topic is never opt-in', () => {
    expect([policy.consentDefault('marketing'), policy.consentDefault('product'), policy.consentDefault(GLOBAL_TOPIC)]).toEqual(['granted', 'withdrawn', 'granted']);
  });

  it('withholds a marketing email when its own topic or the global topic is withdrawn, and never asks about a receipt', async () => {
    expect(await policy.consentWithdrawn(ledger({}), 'ada', marketing)).toBe(false);
    expect(await policy.consentWithdrawn(ledger({ [GLOBAL_TOPIC]: 'withdrawn' }), 'ada', marketing)).toBe(true);
    expect(await policy.consentWithdrawn(ledger({ marketing: 'withdrawn' }), 'ada', marketing)).toBe(true);
    expect(await policy.consentWithdrawn(ledger({}), 'ada', { topic: 'product' })).toBe(true);
    expect(await policy.consentWithdrawn(ledger({ [GLOBAL_TOPIC]: 'withdrawn' }), 'ada', receipt)).toBe(false);
    expect(policy.recheck(receipt, 'Ada@Example.com ')).toEqual({ consent: [], addressHash: addressHash('ada@example.com') });
  });

  it('mails no suppressed address, a receipt included', async () => {
    const list = { suppressionFor: async (hash: string) => (hash === addressHash('ada@example.com') ? { reason: 'bounce' } : undefined) };
    expect(await policy.suppressed(list, 'ADA@example.com')).toBe('suppressed: bounce');
    expect(await policy.suppressed(list, 'ben@example.com')).toBeUndefined();
  });

  it('skips sunset customers and defers marketing in their quiet hours, by their own timezone first; a receipt goes at once', () => {
    const night = new Date('2026-12-02T22:30:00Z');
    expect(policy.hold(marketing, profile({ lifecycle: 'sunset' }), night)).toEqual({ skip: 'sunset' });
    expect(policy.hold(marketing, profile(), night)).toEqual({ until: '2026-12-03T08:00:00.000Z', reason: 'quiet hours 21:00–08:00 in UTC' });
    expect(policy.hold({ ...marketing, defaultTimezone: 'Asia/Tokyo' }, profile({ timezone: 'America/New_York' }), night)).toBeUndefined();
    // 07:30 in Tokyo, the journey's timezone, for a profile whose own is no timezone at all.
    expect(policy.hold({ ...marketing, defaultTimezone: 'Asia/Tokyo' }, profile({ timezone: 'Mars/Olympus' }), night)).toEqual({ until: '2026-12-02T23:00:00.000Z', reason: 'quiet hours 21:00–08:00 in Asia/Tokyo' });
    expect(policy.hold(receipt, profile({ lifecycle: 'sunset' }), night)).toBeUndefined();
  });

  it('caps marketing only', () => {
    expect(policy.frequencyLimits(marketing)).toMatchObject([{ max: 1, windowMs: 86_400_000, label: '1 per 24h' }]);
    expect(policy.frequencyLimits({ topic: 'marketing', transactional: true })).toEqual([]);
  });

  it('shows each topic on the unsubscribe page as its latest record, else its default, with a recorded global opt-out first', () => {
    expect(policy.topicConsents([], ['marketing', 'product'])).toEqual([
      { topic: 'marketing', status: 'granted' },
      { topic: 'product', status: 'withdrawn' },
    ]);
    const records: { topic: string; status: ConsentStatus }[] = [
      { topic: 'product', status: 'granted' },
      { topic: 'marketing', status: 'withdrawn' },
      { topic: GLOBAL_TOPIC, status: 'withdrawn' },
      { topic: 'marketing', status: 'granted' },
    ];
    expect(policy.topicConsents(records, ['marketing'])).toEqual([
      { topic: GLOBAL_TOPIC, status: 'withdrawn' },
      { topic: 'marketing', status: 'granted' },
      { topic: 'product', status: 'granted' },
    ]);
  });
});
