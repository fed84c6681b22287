import type { CustomerEvent, Profile } from '../domain/customer/types';
import { parseDuration } from '../domain/time/duration';
import type { WaitStep } from '../domain/journey/types';
import { addDays, instantOfLocal, isTimeZone, localDateTimeOf, nextLocalTime, type LocalDateTime } from '../domain/time/localTime';
import { readPath } from '../domain/rules/path';
import { loadEntryEvent } from './entryEvent';
import type { ActivityDeps } from './index';

export interface ResolveWaitInput {
  customerId: string;
  /** The wait step's `until` or its `at` (exactly one). */
  until?: WaitStep['until'];
  at?: WaitStep['at'];
  /** The journey's entry event as last updated, for `event.properties.…` dates (loaded whole from the store by id). */
  event: CustomerEvent;
  defaultTimezone: string;
  /** The workflow's clock when the wait began: Temporal's time, so time-skipping tests hold. */
  from: string;
}

export interface ResolvedWait {
  /** When the wait ends (ISO-8601); absent when there is no date to wait for (the note says why). */
  until?: string;
  timezone: string;
  /** What the wait is for, fit for a timer summary: "09:00 Asia/Tokyo", "event.properties.deliveryDate -1d". Never a personal value. */
  label: string;
  /** What did not go as written: "attribute missing: …", "… is not a date", an unknown timezone. */
  note?: string;
}

/**
 * Turns a wait on a date attribute or a local time into an instant. An activity because it
 * needs the fresh profile (the attribute, the customer's `timezone`); the workflow then
 * waits on a durable timer until the instant it returns.
 */
export function createResolveWait(deps: Pick<ActivityDeps, 'store'>) {
  return async function resolveWait(input: ResolveWaitInput): Promise<ResolvedWait> {
    const profile = await deps.store.getProfile(input.customerId);
    const event = input.until?.attribute.startsWith('event.') ? await loadEntryEvent(deps.store, input.event) : input.event;
    return waitTarget({ ...input, event, profile });
  };
}

/** The pure part of `resolveWait`: when the wait ends for this profile and event. */
export function waitTarget(input: Omit<ResolveWaitInput, 'customerId'> & { profile?: Profile }): ResolvedWait {
  const from = new Date(input.from);
  const zone = input.profile?.attributes.timezone;
  const timezone = typeof zone === 'string' && isTimeZone(zone) ? zone : input.defaultTimezone;
  const notes = zone !== undefined && timezone !== zone ? [`timezone ${JSON.stringify(zone)} is not an IANA timezone: used ${timezone}`] : [];
  const result = (fields: Omit<ResolvedWait, 'timezone' | 'note'>, note?: string): ResolvedWait => {
    const all = note ? [note, ...notes] : notes;
    return { ...fields, timezone, ...(all.length > 0 && { note: all.join('; ') }) };
  };

  if (input.at) {
    return result({ until: nextLocalTime(from, { timezone, ...input.at }).toISOString(), label: `${input.at.localTime} ${timezone}` });
  }
  if (!input.until) throw new Error('a wait to resolve needs `until` or `at`');
  const { attribute, offset, yearly } = input.until;
  const label = [attribute, offset, yearly && '(yearly)'].filter(Boolean).join(' ');
  const value = readPath({ profile: input.profile, event: input.event }, attribute);
  if (value === undefined || value === null || value === '') return result({ label }, `attribute missing: ${attribute}`);
  const date = dateIn(value, timezone);
  // The value itself stays out of the note: dates such as birthdays are personal data.
  if (!date) return result({ label }, `${attribute} is not a date (use "YYYY-MM-DD" or an ISO-8601 date-time)`);
  const until = yearly ? nextAnniversary(date, offset, timezone, from) : shifted(date, offset, timezone);
  return result({ until: until.toISOString(), label });
}

const DATE = /^(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2})(\.\d+)?)?(Z|([+-])(\d{2}):?(\d{2}))?)?$/;

/**
 * A date attribute as an instant: "2026-12-24" is the start of that day in the customer's
 * timezone, a date-time without an offset is their wall clock, one with an offset is exact.
 */
export function dateIn(value: unknown, timezone: string): Date | undefined {
  if (typeof value !== 'string') return undefined;
  const m = DATE.exec(value.trim());
  if (!m) return undefined;
  const local: LocalDateTime = { year: +m[1], month: +m[2], day: +m[3], hour: +(m[4] ?? 0), minute: +(m[5] ?? 0), second: +(m[6] ?? 0) };
  const wall = new Date(Date.UTC(local.year, local.month - 1, local.day, local.hour, local.minute, local.second));
  if (wall.getUTCMonth() !== local.month - 1 || wall.getUTCDate() !== local.day || wall.getUTCHours() !== local.hour) return undefined;
  const ms = m[7] ? Number(m[7].slice(1, 4).padEnd(3, '0')) : 0;
  if (!m[8]) return new Date(instantOfLocal(local, timezone).getTime() + ms);
  const offsetMinutes = m[8] === 'Z' ? 0 : (m[9] === '-' ? -1 : 1) * (Number(m[10]) * 60 + Number(m[11]));
  return new Date(wall.getTime() + ms - offsetMinutes * 60_000);
}

/** Applies an offset such as "-1d": days and weeks move the local calendar date (keeping the wall time across DST); s/m/h are exact. */
function shifted(date: Date, offset: string | undefined, timezone: string): Date {
  if (!offset) return date;
  const sign = offset.startsWith('-') ? -1 : 1;
  const body = offset.slice(1).trim();
  const days = /^(\d+)\s*([dw])$/.exec(body);
  if (days) {
    const local = addDays(localDateTimeOf(date, timezone), sign * Number(days[1]) * (days[2] === 'w' ? 7 : 1));
    // The wall clock has whole seconds; the milliseconds carry over unchanged.
    return new Date(instantOfLocal(local, timezone).getTime() + (date.getTime() % 1000));
  }
  return new Date(date.getTime() + sign * parseDuration(body));
}

/** The first anniversary of `date` (plus the offset) not before `from`; 29 February falls on the 28th in other years. */
function nextAnniversary(date: Date, offset: string | undefined, timezone: string, from: Date): Date {
  const local = localDateTimeOf(date, timezone);
  const thisYear = localDateTimeOf(from, timezone).year;
  // A year back covers positive offsets that carry last year's date into this year.
  for (let year = thisYear - 1; ; year++) {
    const lastDay = new Date(Date.UTC(year, local.month, 0)).getUTCDate();
    const at = shifted(instantOfLocal({ ...local, year, day: Math.min(local.day, lastDay) }, timezone), offset, timezone);
    if (at >= from) return at;
  }
}
