// Provider feedback on the normal paths: each notification about one of our sends becomes an
// event of the send's customer (email.delivered, email.bounced, email.complained), ingested as
// any event is; a hard bounce suppresses the address and a complaint also withdraws marketing
// consent, as `JourneyClient.suppress` does for an operator.
import { z } from 'zod';
import { MARKETING_TOPIC } from '../domain/customer/topics';
import { addressHash } from '../domain/delivery/address';
import type { DeliveryFeedback } from '../domain/delivery/providers/feedback';
import type { SendRecord, Store } from '../store/types';
import { EventIdConflictError } from './errors';
import type { JourneyClient } from './journeyClient';

export interface ProviderFeedbackDeps {
  store: Pick<Store, 'sendByMessageId' | 'suppressionFor' | 'consentFor' | 'getProfile'>;
  journeys: Pick<JourneyClient, 'ingest' | 'suppress' | 'changeConsent'>;
}

/** What a webhook call recorded: the events new to the store, those it had already, and notifications about no send of ours. */
export interface FeedbackOutcome {
  recorded: string[];
  duplicates: string[];
  unmatched: number;
}

/**
 * Records each notification in order. A notification about no send of ours (another system's
 * mail, an erased customer's) records no event, but a hard bounce or complaint still
 * suppresses its addresses: the address is as bad for us as for them. Safe to repeat: the
 * event is a duplicate the second time and the suppression is already there.
 */
export async function recordFeedback(deps: ProviderFeedbackDeps, feedback: DeliveryFeedback[]): Promise<FeedbackOutcome> {
  const outcome: FeedbackOutcome = { recorded: [], duplicates: [], unmatched: 0 };
  for (const item of feedback) {
    const send = await sendOf(deps.store, item.messageIds);
    // Suppressed first, so a journey the event wakes already finds the address suppressed.
    await suppressFor(deps, item, send);
    if (!send) {
      outcome.unmatched++;
      continue;
    }
    const event = {
      id: item.eventId,
      type: `email.${item.kind}`,
      customerId: send.customerId,
      occurredAt: item.occurredAt,
      properties: {
        workflowId: send.workflowId,
        journeyId: send.journeyId,
        stepId: send.stepId,
        ...(send.template !== undefined && { template: send.template }),
        provider: item.provider,
        ...(item.bounceType !== undefined && { bounceType: item.bounceType }),
        ...(item.diagnostic !== undefined && { diagnostic: item.diagnostic }),
      },
    };
    try {
      const result = await deps.journeys.ingest(event);
      (result.duplicate ? outcome.duplicates : outcome.recorded).push(item.eventId);
    } catch (err) {
      // The provider's id was recorded with other contents: answering an error would only make it retry forever.
      if (!(err instanceof EventIdConflictError)) throw err;
      outcome.duplicates.push(item.eventId);
    }
  }
  return outcome;
}

async function sendOf(store: ProviderFeedbackDeps['store'], messageIds: string[]): Promise<SendRecord | undefined> {
  for (const messageId of messageIds) {
    const send = await store.sendByMessageId(messageId);
    if (send) return send;
  }
  return undefined;
}

async function suppressFor({ store, journeys }: ProviderFeedbackDeps, item: DeliveryFeedback, send: SendRecord | undefined): Promise<void> {
  const complaint = item.kind === 'complained';
  if (!complaint && !(item.kind === 'bounced' && item.bounceType === 'hard')) return;
  const profileEmail = send && !item.recipients.length ? (await store.getProfile(send.customerId))?.email : undefined;
  const source = `${item.provider} webhook`;
  // An address the provider garbled is skipped rather than refused: a 4xx would only make it retry.
  const addresses = (profileEmail ? [profileEmail] : item.recipients).filter((email) => z.email().safeParse(email).success);
  for (const email of addresses) {
    const existing = await store.suppressionFor(addressHash(email));
    // Never weakened: a complaint stays a complaint, and an address suppressed for any reason needs no bounce on top.
    if (complaint ? existing?.reason === 'complaint' : existing) continue;
    await journeys.suppress({ email, reason: complaint ? 'complaint' : 'bounce', source });
  }
  // The send's customer may have another address on file by now: their consent goes all the same.
  if (complaint && send && (await store.consentFor(send.customerId, MARKETING_TOPIC))?.status !== 'withdrawn') {
    await journeys.changeConsent({ customerId: send.customerId, topic: MARKETING_TOPIC, status: 'withdrawn', source: `complaint: ${source}` });
  }
}
