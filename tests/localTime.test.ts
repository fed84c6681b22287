import { describe, expect, it } from 'vitest';
import { waitTarget } from '../activities/resolveWait';
import type { CustomerEvent, Profile } from '../domain/customer/types';
import { endOfQuietHours, instantOfLocal, nextLocalTime } from '../domain/time/localTime';

const at = (iso: string) => new Date(iso);
const iso = (date: Date | undefined) => date?.toISOString();
const nightQuiet = { start: '21:00', end: '08:00' };

describe('nextLocalTime: 09:00 in the customer’s timezone', () => {
  it('lands a Honolulu (UTC−10) customer’s 09:00 on 19:00 UTC the same day', () => {
    expect(iso(nextLocalTime(at('2026-03-03T12:00:00Z'), { timezone: 'Pacific/Honolulu', localTime: '09:00' }))).toBe('2026-03-03T19:00:00.000Z');
  });

  it('lands a Tokyo (UTC+9) customer’s 09:00 on midnight UTC, the next UTC day', () => {
    expect(iso(nextLocalTime(at('2026-03-03T12:00:00Z'), { timezone: 'Asia/Tokyo', localTime: '09:00' }))).toBe('2026-03-04T00:00:00.000Z');
  });

  it('takes today’s slot when it is still ahead, the same instant when it is now, and tomorrow’s once it has passed', () => {
    const rule = { timezone: 'Pacific/Honolulu', localTime: '09:00' };
    expect(iso(nextLocalTime(at('2026-03-03T18:59:00Z'), rule))).toBe('2026-03-03T19:00:00.000Z');
    expect(iso(nextLocalTime(at('2026-03-03T19:00:00Z'), rule))).toBe('2026-03-03T19:00:00.000Z');
    expect(iso(nextLocalTime(at('2026-03-03T19:00:01Z'), rule))).toBe('2026-03-04T19:00:00.000Z');
  });

  it('skips to the next allowed weekday in the customer’s calendar, not UTC’s', () => {
    // Friday 2026-03-06 10:00 in Tokyo (01:00 UTC): Friday's 09:00 has passed; next weekday is Monday the 9th.
    const rule = { timezone: 'Asia/Tokyo', localTime: '09:00', weekdays: ['mon', 'tue', 'wed', 'thu', 'fri'] as const };
    expect(iso(nextLocalTime(at('2026-03-06T01:00:00Z'), rule))).toBe('2026-03-09T00:00:00.000Z');
    // Saturday 2026-03-07 23:00 UTC is already Sunday 08:00 in Tokyo: Sunday is allowed here.
    expect(iso(nextLocalTime(at('2026-03-07T23:00:00Z'), { ...rule, weekdays: ['sun'] }))).toBe('2026-03-08T00:00:00.000Z');
    // Only Tuesdays, asked on a Tuesday after the slot: a week later.
    expect(iso(nextLocalTime(at('2026-03-03T20:00:00Z'), { timezone: 'Pacific/Honolulu', localTime: '09:00', weekdays: ['tue'] }))).toBe('2026-03-10T19:00:00.000Z');
  });

  it('moves a local time inside quiet hours to their end', () => {
    // 22:30 falls inside 21:00–08:00, so the email waits for 08:00 the next morning (Berlin, CET = UTC+1).
    expect(iso(nextLocalTime(at('2026-02-10T12:00:00Z'), { timezone: 'Europe/Berlin', localTime: '22:30', quietHours: nightQuiet }))).toBe('2026-02-11T07:00:00.000Z');
    // 09:00 is outside them: unchanged.
    expect(iso(nextLocalTime(at('2026-02-10T12:00:00Z'), { timezone: 'Europe/Berlin', localTime: '09:00', quietHours: nightQuiet }))).toBe('2026-02-11T08:00:00.000Z');
  });
});

describe('endOfQuietHours', () => {
  it('is undefined outside quiet hours', () => {
    expect(endOfQuietHours(at('2026-02-10T12:00:00Z'), 'Europe/Berlin', nightQuiet)).toBeUndefined();
    expect(endOfQuietHours(at('2026-02-10T19:59:59Z'), 'Europe/Berlin', nightQuiet)).toBeUndefined(); // 20:59:59 local
    expect(endOfQuietHours(at('2026-02-10T07:00:00Z'), 'Europe/Berlin', nightQuiet)).toBeUndefined(); // 08:00 local: over
  });

  it('spans midnight: before midnight it ends the next morning, after midnight the same morning', () => {
    expect(iso(endOfQuietHours(at('2026-02-10T20:00:00Z'), 'Europe/Berlin', nightQuiet))).toBe('2026-02-11T07:00:00.000Z'); // 21:00 local
    expect(iso(endOfQuietHours(at('2026-02-11T02:00:00Z'), 'Europe/Berlin', nightQuiet))).toBe('2026-02-11T07:00:00.000Z'); // 03:00 local
  });

  it('handles a window within one day', () => {
    const lunch = { start: '12:00', end: '14:00' };
    expect(iso(endOfQuietHours(at('2026-02-10T04:30:00Z'), 'Asia/Tokyo', lunch))).toBe('2026-02-10T05:00:00.000Z'); // 13:30 JST
    expect(endOfQuietHours(at('2026-02-10T05:00:00Z'), 'Asia/Tokyo', lunch)).toBeUndefined(); // 14:00 JST
  });

  it('ends at 08:00 local time on the night New York springs forward (a 10-hour night, ending at 12:00 UTC, not 13:00)', () => {
    // Saturday 2026-03-07 22:00 EST (UTC−5) is 03:00 UTC on the 8th; clocks jump 02:00 → 03:00 that night; 08:00 EDT is 12:00 UTC.
    expect(iso(endOfQuietHours(at('2026-03-08T03:00:00Z'), 'America/New_York', nightQuiet))).toBe('2026-03-08T12:00:00.000Z');
  });

  it('ends at 08:00 local time on the night New York falls back (a 12-hour night)', () => {
    // Saturday 2026-10-31 21:00 EDT (UTC−4) is 01:00 UTC on 1 November; 08:00 EST (UTC−5) is 13:00 UTC.
    expect(iso(endOfQuietHours(at('2026-11-01T01:00:00Z'), 'America/New_York', nightQuiet))).toBe('2026-11-01T13:00:00.000Z');
  });

  it('ends at 08:00 local time across Berlin’s spring and autumn changes', () => {
    // 28 March 2026 23:00 CET is 22:00 UTC; on the 29th 02:00 CET → 03:00 CEST; 08:00 CEST is 06:00 UTC.
    expect(iso(endOfQuietHours(at('2026-03-28T22:00:00Z'), 'Europe/Berlin', nightQuiet))).toBe('2026-03-29T06:00:00.000Z');
    // 24 October 2026 23:00 CEST is 21:00 UTC; on the 25th 03:00 CEST → 02:00 CET; 08:00 CET is 07:00 UTC.
    expect(iso(endOfQuietHours(at('2026-10-24T21:00:00Z'), 'Europe/Berlin', nightQuiet))).toBe('2026-10-25T07:00:00.000Z');
  });

  it('a quiet-hours end that does not exist (02:30 on a spring-forward night) ends when the clock jumps', () => {
    expect(iso(endOfQuietHours(at('2026-03-08T05:00:00Z'), 'America/New_York', { start: '23:00', end: '02:30' }))).toBe('2026-03-08T07:00:00.000Z');
  });
});

describe('local times across DST changes', () => {
  it('moves a 02:30 that does not exist on a spring-forward day to the first valid instant after it (03:00)', () => {
    // New York, 8 March 2026: 02:00 EST → 03:00 EDT, at 07:00 UTC.
    expect(iso(nextLocalTime(at('2026-03-08T00:00:00Z'), { timezone: 'America/New_York', localTime: '02:30' }))).toBe('2026-03-08T07:00:00.000Z');
    // The next day 02:30 exists again: 02:30 EDT = 06:30 UTC.
    expect(iso(nextLocalTime(at('2026-03-08T08:00:00Z'), { timezone: 'America/New_York', localTime: '02:30' }))).toBe('2026-03-09T06:30:00.000Z');
    // Berlin, 29 March 2026: 02:00 CET → 03:00 CEST, at 01:00 UTC.
    expect(iso(nextLocalTime(at('2026-03-28T12:00:00Z'), { timezone: 'Europe/Berlin', localTime: '02:30' }))).toBe('2026-03-29T01:00:00.000Z');
  });

  it('takes the first occurrence of a time that happens twice on a fall-back day, and the second when the first has passed', () => {
    // New York, 1 November 2026: 01:30 happens at 05:30 UTC (EDT) and again at 06:30 UTC (EST).
    expect(iso(nextLocalTime(at('2026-11-01T00:00:00Z'), { timezone: 'America/New_York', localTime: '01:30' }))).toBe('2026-11-01T05:30:00.000Z');
    expect(iso(nextLocalTime(at('2026-11-01T05:45:00Z'), { timezone: 'America/New_York', localTime: '01:30' }))).toBe('2026-11-01T06:30:00.000Z');
    expect(iso(instantOfLocal({ year: 2026, month: 10, day: 25, hour: 2, minute: 30, second: 0 }, 'Europe/Berlin'))).toBe('2026-10-25T00:30:00.000Z');
  });

  it('keeps 09:00 local on both sides of a change: the UTC instant moves by an hour', () => {
    const rule = { timezone: 'America/New_York', localTime: '09:00' };
    expect(iso(nextLocalTime(at('2026-03-07T00:00:00Z'), rule))).toBe('2026-03-07T14:00:00.000Z'); // EST
    expect(iso(nextLocalTime(at('2026-03-08T00:00:00Z'), rule))).toBe('2026-03-08T13:00:00.000Z'); // EDT
  });
});

describe('waitTarget: dates from attributes', () => {
  const event: CustomerEvent = { id: 'e1', type: 'order.shipped', customerId: 'c1', occurredAt: '2026-03-03T12:00:00Z', properties: {} };
  const profile = (attributes: Record<string, unknown>): Profile => ({ customerId: 'c1', email: 'c1@example.com', attributes });
  const from = '2026-03-03T12:00:00.000Z';
  const until = (attribute: string, extra: { offset?: string; yearly?: boolean } = {}) => ({ attribute, ...extra });

  it('reads an ISO instant from the entry event and applies a negative offset', () => {
    const withDate = { ...event, properties: { deliveryDate: '2026-03-06T15:00:00+01:00' } };
    expect(waitTarget({ until: until('event.properties.deliveryDate', { offset: '-1d' }), event: withDate, defaultTimezone: 'UTC', from })).toEqual({
      until: '2026-03-05T14:00:00.000Z',
      timezone: 'UTC',
      label: 'event.properties.deliveryDate -1d',
    });
  });

  it('reads a date without a time as the start of that day in the customer’s timezone', () => {
    const result = waitTarget({ until: until('profile.attributes.renewalDate'), profile: profile({ renewalDate: '2026-03-10', timezone: 'Asia/Tokyo' }), event, defaultTimezone: 'UTC', from });
    expect(result).toMatchObject({ until: '2026-03-09T15:00:00.000Z', timezone: 'Asia/Tokyo' });
  });

  it('counts day offsets in calendar days of the customer’s timezone, so the wall time survives a DST change', () => {
    // 9 March 00:00 EDT (04:00 UTC) minus two days is 7 March 00:00 EST (05:00 UTC): 47 hours earlier, across the 8 March change.
    const result = waitTarget({ until: until('profile.attributes.renewalDate', { offset: '-2d' }), profile: profile({ renewalDate: '2026-03-09', timezone: 'America/New_York' }), event, defaultTimezone: 'UTC', from: '2026-03-01T00:00:00Z' });
    expect(result.until).toBe('2026-03-07T05:00:00.000Z');
  });

  it('finds the next anniversary of a birthday, a day early', () => {
    const birthday = profile({ birthday: '1990-03-20', timezone: 'Asia/Tokyo' });
    expect(waitTarget({ until: until('profile.attributes.birthday', { offset: '-1d', yearly: true }), profile: birthday, event, defaultTimezone: 'UTC', from }).until).toBe('2026-03-18T15:00:00.000Z');
    // A birthday already past this year: next year's.
    const passed = profile({ birthday: '1990-01-15', timezone: 'UTC' });
    expect(waitTarget({ until: until('profile.attributes.birthday', { yearly: true }), profile: passed, event, defaultTimezone: 'UTC', from }).until).toBe('2027-01-15T00:00:00.000Z');
    // 29 February in a year without one: the 28th.
    const leap = profile({ birthday: '2000-02-29' });
    expect(waitTarget({ until: until('profile.attributes.birthday', { yearly: true }), profile: leap, event, defaultTimezone: 'UTC', from: '2026-02-01T00:00:00Z' }).until).toBe('2026-02-28T00:00:00.000Z');
  });

  it('returns no instant and says why when the attribute is missing or not a date (the wait then continues at once)', () => {
    expect(waitTarget({ until: until('profile.attributes.birthday'), profile: profile({}), event, defaultTimezone: 'UTC', from })).toEqual({
      timezone: 'UTC',
      label: 'profile.attributes.birthday',
      note: 'attribute missing: profile.attributes.birthday',
    });
    expect(waitTarget({ until: until('profile.attributes.birthday'), event, defaultTimezone: 'UTC', from }).note).toBe('attribute missing: profile.attributes.birthday');
    const note = waitTarget({ until: until('profile.attributes.birthday'), profile: profile({ birthday: 'next spring' }), event, defaultTimezone: 'UTC', from }).note;
    expect(note).toMatch(/^profile\.attributes\.birthday is not a date/);
    expect(note).not.toContain('next spring');
    expect(waitTarget({ until: until('profile.attributes.birthday'), profile: profile({ birthday: '2026-02-30' }), event, defaultTimezone: 'UTC', from }).until).toBeUndefined();
  });

  it('uses the journey’s default timezone when the profile has none or an unknown one, and says so for an unknown one', () => {
    const rule = { at: { localTime: '09:00' }, event, defaultTimezone: 'Asia/Kolkata', from };
    expect(waitTarget({ ...rule, profile: profile({}) })).toEqual({ until: '2026-03-04T03:30:00.000Z', timezone: 'Asia/Kolkata', label: '09:00 Asia/Kolkata' });
    expect(waitTarget({ ...rule, profile: profile({ timezone: 'Mars/Olympus_Mons' }) })).toMatchObject({
      until: '2026-03-04T03:30:00.000Z',
      note: 'timezone "Mars/Olympus_Mons" is not an IANA timezone: used Asia/Kolkata',
    });
  });
});
