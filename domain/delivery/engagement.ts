// What the open pixel and the click redirect record: `email.opened` and `email.clicked` events,
// ingested like any other, so rules, segments and `waitFor` steps can read them. Pure: no I/O.
import type { CustomerEvent } from '../customer/types';

export const EMAIL_OPENED = 'email.opened';
export const EMAIL_CLICKED = 'email.clicked';
export const ENGAGEMENT_EVENTS = [EMAIL_OPENED, EMAIL_CLICKED] as const;

/** The properties of an `email.opened` / `email.clicked` event. */
export interface EngagementProperties {
  workflowId: string;
  journeyId: string;
  /** The send ledger's step id (with `@<entry>` in re-entrant journeys). */
  stepId: string;
  /** The template the send chose, e.g. "reminder1Vip". */
  template?: string;
  /** Clicks: the link's place among the email's tracked links, 0 first. */
  linkIndex?: number;
  /** Clicks: where the link leads, when LINK_HOSTS allows it in an event (any link still redirects). */
  url?: string;
  /** A mailbox provider's image proxy, Apple Mail Privacy Protection or a security scanner, not a person. */
  machine: boolean;
  /** The variant each `split` step before the send assigned, by step id. */
  variants?: Record<string, string>;
}

/**
 * Machine opens and scanner clicks are recorded, so nothing is lost and reports can show them,
 * but they are no engagement: no journey starts on them or hears of them (goals, `waitFor`).
 */
export function isMachineEngagement(event: Pick<CustomerEvent, 'type' | 'properties'>): boolean {
  return (event.type === EMAIL_OPENED || event.type === EMAIL_CLICKED) && event.properties?.machine === true;
}
