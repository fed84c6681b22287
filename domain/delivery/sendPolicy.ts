// The one send policy: whether a customer may get an email on a topic, and when. Built once
// from the settings (compose/) and used wherever that is decided: ingest starts no journey
// that could only end opted out, the send step judges every email and hands the store the
// checks to repeat at the SMTP hand-off, and the unsubscribe page shows each topic as it stands.
import type { ConsentStatus, Profile } from '../customer/types';
import { GLOBAL_TOPIC } from '../customer/topics';
import { parseDuration } from '../time/duration';
import { endOfQuietHours, isTimeZone, type QuietHours } from '../time/localTime';
import { addressHash } from './address';

export interface SendPolicySettings {
  /** Topics where a customer without a consent record has not consented (opt-in topics); on all others the default is granted. */
  optInTopics: string[];
  /** At most `max` emails per customer on `topic` in any `window` ("24h"), across journeys. */
  frequencyCaps: { topic: string; max: number; window: string }[];
  /** Local hours without marketing email; undefined turns them off. */
  quietHours?: QuietHours;
  /** The timezone of customers whose profile names no valid one, unless the journey names one. */
  defaultTimezone: string;
}

/** An email as the policy sees it. Transactional email (a receipt) needs no consent and ignores caps, quiet hours and sunset. */
export interface SendKind {
  topic: string;
  transactional?: boolean;
}

/** A consent record a send needs, with the status a customer without one has. */
export interface ConsentCheck {
  topic: string;
  unrecorded: ConsentStatus;
}

/** What the store checks again in the transaction that hands an email to SMTP. */
export interface SendRecheck {
  consent: ConsentCheck[];
  addressHash: string;
}

/** At most `max` sends per customer and topic within `windowMs`, e.g. 1 per 24 h. */
export interface FrequencyLimit {
  max: number;
  windowMs: number;
  /** How people say it, e.g. "1 per 24h": it is what a capped send records. */
  label: string;
}

/** The consent ledger and suppression list, as the store keeps them. */
export interface ConsentLedger {
  consentFor(customerId: string, topic: string): Promise<{ status: ConsentStatus } | undefined>;
}
export interface SuppressionList {
  suppressionFor(addressHash: string): Promise<{ reason: string } | undefined>;
}

/** Why an email does not go out now: skipped for good, or deferred to an instant. */
export type Hold = { skip: string } | { until: string; reason: string };

export interface TopicConsent {
  topic: string;
  status: ConsentStatus;
}

export interface SendPolicy {
  /** The consent a customer has on a topic before the ledger holds anything of theirs. */
  consentDefault(topic: string): ConsentStatus;
  /** The records an email needs: topic `all`, then its own topic. None for transactional email. */
  consentToCheck(send: SendKind): ConsentCheck[];
  consentWithdrawn(ledger: ConsentLedger, customerId: string, send: SendKind): Promise<boolean>;
  /** Why the address must not be mailed (`suppressed: bounce`), by any journey, transactional too. */
  suppressed(list: SuppressionList, email: string): Promise<string | undefined>;
  recheck(send: SendKind, email: string): SendRecheck;
  /** Sunset customers get no marketing email; in the customer's quiet hours it waits. Judged at `at`, when the attempt runs. */
  hold(send: SendKind & { defaultTimezone?: string }, profile: Profile, at: Date): Hold | undefined;
  frequencyLimits(send: SendKind): FrequencyLimit[];
  /** Each topic as the customer has it now: the latest record, else the default; topic `all` first once recorded. */
  topicConsents(ledger: { topic: string; status: ConsentStatus }[], topics: string[]): TopicConsent[];
}

export function createSendPolicy(settings: SendPolicySettings): SendPolicy {
  const limits = settings.frequencyCaps.map((cap) => ({ ...cap, windowMs: parseDuration(cap.window), label: `${cap.max} per ${cap.window}` }));
  // No regime can default topic `all` to withdrawn: that would silence every journey, so it always defaults to granted.
  const consentDefault = (topic: string): ConsentStatus => (topic !== GLOBAL_TOPIC && settings.optInTopics.includes(topic) ? 'withdrawn' : 'granted');
  const consentToCheck = (send: SendKind): ConsentCheck[] =>
    send.transactional ? [] : [GLOBAL_TOPIC, send.topic].map((topic) => ({ topic, unrecorded: consentDefault(topic) }));

  return {
    consentDefault,
    consentToCheck,
    async consentWithdrawn(ledger, customerId, send) {
      for (const { topic, unrecorded } of consentToCheck(send)) {
        if (((await ledger.consentFor(customerId, topic))?.status ?? unrecorded) === 'withdrawn') return true;
      }
      return false;
    },
    async suppressed(list, email) {
      const suppression = await list.suppressionFor(addressHash(email));
      return suppression && `suppressed: ${suppression.reason}`;
    },
    recheck: (send, email) => ({ consent: consentToCheck(send), addressHash: addressHash(email) }),
    hold(send, profile, at) {
      if (send.transactional) return undefined;
      // Set by the dormancy journey when a customer stays dormant; a profile update that sets
      // `lifecycle` to anything else (once they are active again) brings them back.
      if (profile.attributes.lifecycle === 'sunset') return { skip: 'sunset' };
      const { quietHours } = settings;
      if (!quietHours) return undefined;
      const own = profile.attributes.timezone;
      const zone = typeof own === 'string' && isTimeZone(own) ? own : (send.defaultTimezone ?? settings.defaultTimezone);
      const end = endOfQuietHours(at, zone, quietHours);
      return end && { until: end.toISOString(), reason: `quiet hours ${quietHours.start}–${quietHours.end} in ${zone}` };
    },
    frequencyLimits: (send) => (send.transactional ? [] : limits.filter((limit) => limit.topic === send.topic)),
    topicConsents(ledger, topics) {
      const latest = new Map<string, ConsentStatus>();
      for (const record of ledger) latest.set(record.topic, record.status);
      const names = [...new Set([...(latest.has(GLOBAL_TOPIC) ? [GLOBAL_TOPIC] : []), ...topics, ...latest.keys()])];
      return names.map((topic) => ({ topic, status: latest.get(topic) ?? consentDefault(topic) }));
    },
  };
}
