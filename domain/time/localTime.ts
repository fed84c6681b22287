// Local time of day in a customer's timezone: "09:00 in Pacific/Honolulu on weekdays,
// never during quiet hours". Pure: offsets come from Intl.DateTimeFormat with `timeZone`
// (Node's full ICU carries the IANA database), so no tz library and no I/O. Used by the
// `wait` step (`at`, and dates in `until`) and by the send step's quiet hours.
//
// DST rules, everywhere in this module: a local time that does not exist (02:30 on a
// spring-forward day) means the first valid instant after it (03:00 there); a local time
// that happens twice (01:30 on a fall-back day) means the first occurrence that is not
// before the instant we start from.

export const weekdays = ['sun', 'mon', 'tue', 'wed', 'thu', 'fri', 'sat'] as const;
export type Weekday = (typeof weekdays)[number];

/** "HH:MM" on a 24-hour clock. */
export const LOCAL_TIME = /^([01]\d|2[0-3]):([0-5]\d)$/;

/** Local hours during which no email should arrive; `start` after `end` spans midnight (21:00–08:00). */
export interface QuietHours {
  start: string;
  end: string;
}

export interface LocalTimeRule {
  /** IANA timezone, e.g. "Asia/Tokyo". */
  timezone: string;
  /** "HH:MM", e.g. "09:00". */
  localTime: string;
  /** Days the local time may fall on; every day when absent. */
  weekdays?: readonly Weekday[];
  quietHours?: QuietHours;
}

/** A wall-clock date and time; month is 1–12. */
export interface LocalDateTime {
  year: number;
  month: number;
  day: number;
  hour: number;
  minute: number;
  second: number;
}

const DAY_MS = 86_400_000;

/** True for names Intl knows as timezones ("Europe/Berlin", "UTC"). */
export function isTimeZone(name: string): boolean {
  try {
    formatter(name);
    return true;
  } catch {
    return false;
  }
}

/**
 * The first instant ≥ `from` at which the clock in `timezone` shows `localTime` on an
 * allowed weekday. When that instant falls in quiet hours it moves to their end (which
 * may be the next day; the weekday rule applies to the local time, not to the move).
 */
export function nextLocalTime(from: Date, rule: LocalTimeRule): Date {
  const [hour, minute] = parseLocalTime(rule.localTime);
  const today = localDateTimeOf(from, rule.timezone);
  // Eight days reach every weekday even when today's slot has already passed.
  for (let days = 0; days <= 7; days++) {
    const date = addDays(today, days);
    if (rule.weekdays && !rule.weekdays.includes(weekdayOf(date))) continue;
    const at = instantsOf({ ...date, hour, minute, second: 0 }, rule.timezone).find((t) => t >= from.getTime());
    if (at === undefined) continue;
    return (rule.quietHours && endOfQuietHours(new Date(at), rule.timezone, rule.quietHours)) ?? new Date(at);
  }
  throw new Error(`no ${rule.localTime} in ${rule.timezone} on ${rule.weekdays?.join(', ')} within a week`);
}

/** When the quiet hours around `from` end, in `timezone`; undefined when `from` is outside them. */
export function endOfQuietHours(from: Date, timezone: string, quietHours: QuietHours): Date | undefined {
  const start = secondsOfDay(parseLocalTime(quietHours.start));
  const end = secondsOfDay(parseLocalTime(quietHours.end));
  const local = localDateTimeOf(from, timezone);
  const now = local.hour * 3600 + local.minute * 60 + local.second;
  let endDay: LocalDateTime;
  if (start < end && now >= start && now < end) endDay = local;
  else if (start > end && now >= start) endDay = addDays(local, 1);
  else if (start > end && now < end) endDay = local;
  else return undefined;
  const [hour, minute] = parseLocalTime(quietHours.end);
  const candidates = instantsOf({ ...endDay, hour, minute, second: 0 }, timezone);
  return new Date(candidates.find((t) => t > from.getTime()) ?? candidates[candidates.length - 1]);
}

/** The wall clock in `timezone` at `instant` (to the second). */
export function localDateTimeOf(instant: Date, timezone: string): LocalDateTime {
  const parts: Record<string, number> = {};
  for (const part of formatter(timezone).formatToParts(instant)) {
    if (part.type !== 'literal') parts[part.type] = Number(part.value);
  }
  return { year: parts.year, month: parts.month, day: parts.day, hour: parts.hour, minute: parts.minute, second: parts.second };
}

/** The instant a wall-clock time in `timezone` names, by the DST rules above, not before `notBefore` when one exists. */
export function instantOfLocal(local: LocalDateTime, timezone: string, notBefore?: Date): Date {
  const candidates = instantsOf(local, timezone);
  const fit = notBefore ? candidates.find((t) => t >= notBefore.getTime()) : undefined;
  return new Date(fit ?? candidates[0]);
}

/** The local calendar date `days` after `local`'s (negative goes back); the time of day is kept. */
export function addDays(local: LocalDateTime, days: number): LocalDateTime {
  const date = new Date(Date.UTC(local.year, local.month - 1, local.day + days));
  return { ...local, year: date.getUTCFullYear(), month: date.getUTCMonth() + 1, day: date.getUTCDate() };
}

export function weekdayOf(local: Pick<LocalDateTime, 'year' | 'month' | 'day'>): Weekday {
  return weekdays[new Date(Date.UTC(local.year, local.month - 1, local.day)).getUTCDay()];
}

function parseLocalTime(text: string): [number, number] {
  const match = LOCAL_TIME.exec(text);
  if (!match) throw new Error(`"${text}" is not a local time: use "HH:MM" on a 24-hour clock, e.g. "09:00"`);
  return [Number(match[1]), Number(match[2])];
}

function secondsOfDay([hour, minute]: [number, number]): number {
  return hour * 3600 + minute * 60;
}

/**
 * Every instant at which the clock in `timezone` shows `local`, earliest first: one
 * normally, two in a fall-back overlap, and in a spring-forward gap the one instant the
 * clock jumps over it.
 */
function instantsOf(local: LocalDateTime, timezone: string): number[] {
  const wall = Date.UTC(local.year, local.month - 1, local.day, local.hour, local.minute, local.second);
  // Offsets a day either side cover any transition near this wall time.
  const offsets = new Set([offsetAt(wall - DAY_MS, timezone), offsetAt(wall, timezone), offsetAt(wall + DAY_MS, timezone)]);
  const guesses = [...new Set([...offsets].map((offset) => wall - offset))].sort((a, b) => a - b);
  const valid = guesses.filter((t) => t + offsetAt(t, timezone) === wall);
  if (valid.length > 0) return valid;
  // In the gap: the clock reads before `wall` at the earliest guess and after it at the
  // latest; the first second that reads later is when the clock jumped.
  let before = guesses[0];
  let after = guesses[guesses.length - 1];
  while (after - before > 1000) {
    const mid = before + Math.floor((after - before) / 2000) * 1000;
    if (mid + offsetAt(mid, timezone) >= wall) after = mid;
    else before = mid;
  }
  return [after];
}

/** How far the wall clock in `timezone` is ahead of UTC at `instant`, in ms (whole seconds). */
function offsetAt(instant: number, timezone: string): number {
  const local = localDateTimeOf(new Date(instant), timezone);
  const wall = Date.UTC(local.year, local.month - 1, local.day, local.hour, local.minute, local.second);
  return wall - Math.floor(instant / 1000) * 1000;
}

const formatters = new Map<string, Intl.DateTimeFormat>();
function formatter(timezone: string): Intl.DateTimeFormat {
  let format = formatters.get(timezone);
  if (!format) {
    format = new Intl.DateTimeFormat('en-US', {
      timeZone: timezone,
      hourCycle: 'h23',
      year: 'numeric',
      month: 'numeric',
      day: 'numeric',
      hour: 'numeric',
      minute: 'numeric',
      second: 'numeric',
    });
    formatters.set(timezone, format);
  }
  return format;
}
