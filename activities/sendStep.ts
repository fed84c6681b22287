import { createHash } from 'node:crypto';
import { ApplicationFailure, Context, log } from '@temporalio/activity';
import { addressHash } from '../domain/address';
import type { CustomerEvent } from '../domain/customer';
import { GLOBAL_TOPIC } from '../domain/topics';
import type { TemplateRuleSet } from '../domain/journey';
import { endOfQuietHours, isTimeZone } from '../domain/localTime';
import type { RuleTrace } from '../domain/rules';
import { recommend, type Recommendation } from '../domain/recommendations';
import { decideOnFacts } from './facts';

/** How many of the latest orders feed "bought together" and best sellers. */
const RECENT_ORDERS = 5000;
import type { SendKey, SendRecord } from '../store/types';
import type { ActivityDeps } from './index';
import { judgeSmtpFailure, type SmtpError } from './smtpReply';

export interface SendStepInput {
  journeyId: string;
  topic: string;
  /** Transactional email (an order receipt) needs no marketing consent and ignores caps, but never mails a suppressed address. */
  transactional?: boolean;
  /** What a send that hits a frequency cap does: wait until the cap frees (default) or skip. */
  whenCapped?: 'wait' | 'skip';
  /** The journey's timezone for customers whose profile names none. */
  defaultTimezone?: string;
  customerId: string;
  stepId: string;
  template: TemplateRuleSet;
  /** The journey's entry event as last updated (e.g. the latest cart). */
  event: CustomerEvent;
}

export type SendStepResult =
  | { status: 'sent'; template: string; chosenBy: string; messageId: string; trace: RuleTrace[] }
  | { status: 'skipped'; reason: string }
  /** Not now: the workflow waits until `until` and runs the step again. */
  | { status: 'deferred'; until: string; reason: string };

/**
 * Sends one journey email exactly once, and only when it may go out. Checks run in order:
 * consent (the ledger, read now, so a withdrawal whose signal was lost still holds),
 * suppression, sunset (marketing only), quiet hours, the frequency cap (reserved
 * atomically with the send-ledger row keyed by workflow ID + step ID, never the run ID),
 * then SMTP. `sending` is written just before SMTP and `sent` right after; a retry that
 * finds `sent` returns the recorded result, and one that finds `sending` cannot know
 * whether the server took the email, so it marks the row `in_doubt` and does not send
 * again: a missing reminder is better than a duplicate.
 */
export function createSendStep(deps: ActivityDeps) {
  // Ledger times follow Temporal's clock (the attempt's scheduled time), so frequency caps
  // hold in time-skipping tests exactly as they do in production.
  const at = () => new Date(Context.current().info.currentAttemptScheduledTimestampMs).toISOString();

  return async function sendStep(input: SendStepInput): Promise<SendStepResult> {
    const key: SendKey = { workflowId: currentWorkflowId(), stepId: input.stepId, customerId: input.customerId, journeyId: input.journeyId, topic: input.topic };
    const earlier = await deps.store.sendRecord(key.workflowId, key.stepId);
    if (earlier?.status === 'sending') {
      const reason = 'in_doubt: an earlier attempt handed the email to SMTP and stopped before recording the result';
      await deps.store.updateSend(key.workflowId, key.stepId, { status: 'in_doubt', reason, at: at() });
      return { status: 'skipped', reason: 'in_doubt' };
    }
    if (earlier && earlier.status !== 'reserved') return outcomeOf(earlier);

    const skip = async (reason: string): Promise<SendStepResult> => {
      await deps.store.skipSend(key, reason, at());
      return { status: 'skipped', reason };
    };
    if (!input.transactional && (await withdrawn(key.customerId, input.topic))) return skip('consent_withdrawn');
    const profile = await deps.store.getProfile(key.customerId);
    if (!profile) return skip('no_profile');
    const suppression = await deps.store.suppressionFor(addressHash(profile.email));
    if (suppression) return skip(`suppressed: ${suppression.reason}`);
    // Sunset customers (no engagement by the end of the dormancy journey) get no marketing until
    // a profile update sets `lifecycle` to something else, e.g. once they are active again.
    if (!input.transactional && profile.attributes.lifecycle === 'sunset') return skip('sunset');

    if (!input.transactional && deps.policy.quietHours) {
      const { quietHours } = deps.policy;
      const zone = timezoneOf(profile.attributes.timezone) ?? input.defaultTimezone ?? deps.policy.defaultTimezone;
      const end = endOfQuietHours(new Date(at()), zone, quietHours);
      if (end) return { status: 'deferred', until: end.toISOString(), reason: `quiet hours ${quietHours.start}–${quietHours.end} in ${zone}` };
    }

    if (!earlier) {
      const limits = input.transactional ? [] : deps.policy.frequencyLimits(input.topic);
      const reservation = await deps.store.reserveSend(key, at(), limits);
      if (reservation.capped) {
        const reason = `frequency cap ${reservation.capped.limit} on ${input.topic}`;
        if (input.whenCapped === 'skip') return skip(reason);
        return { status: 'deferred', until: reservation.capped.until, reason };
      }
    }

    const decision = await decideOnFacts(deps.store, input.template, { now: at(), customerId: key.customerId, profile, event: input.event }, `send ${key.stepId}`);
    const links = deps.unsubscribe(key.customerId, input.transactional ? 'marketing' : input.topic);
    const template = `${key.journeyId}/${decision.choice}`;
    const recommendations = deps.templates.mentions(template, 'recommendations') ? await recommendationsFor(key.customerId, input.event) : [];
    const email = await deps.templates
      .render(template, { profile, event: input.event, unsubscribeUrl: links.url, recommendations })
      .catch((err: Error) => {
        throw ApplicationFailure.nonRetryable(err.message, 'TemplateError');
      });
    const messageId = `<${createHash('sha256').update(`${key.workflowId}/${key.stepId}`).digest('hex').slice(0, 32)}@journeys>`;

    await deps.store.updateSend(key.workflowId, key.stepId, { status: 'sending', template: decision.choice, messageId, at: at() });
    try {
      await deps.mailer.sendMail({
        from: deps.from,
        to: profile.email,
        subject: email.subject,
        html: email.html,
        text: email.text,
        messageId,
        headers: { ...links.headers, 'X-Journey': key.journeyId, 'X-Journey-Step': key.stepId },
      });
    } catch (err) {
      return failed(err as SmtpError, profile.email);
    }
    await deps.store.updateSend(key.workflowId, key.stepId, { status: 'sent', at: at() });
    return { status: 'sent', template: decision.choice, chosenBy: decision.chosenBy, messageId, trace: decision.trace };

    async function failed(err: SmtpError, email: string): Promise<never> {
      const verdict = judgeSmtpFailure(err);
      const update = (status: 'reserved' | 'failed' | 'in_doubt', reason: string) => deps.store.updateSend(key.workflowId, key.stepId, { status, reason, at: at() });
      switch (verdict.kind) {
        case 'retry':
          // Nothing was delivered: the row goes back to reserved and Temporal retries with backoff.
          await update('reserved', err.message);
          throw err;
        case 'inDoubt':
          await update('in_doubt', `connection lost after DATA: ${err.message}`);
          throw ApplicationFailure.nonRetryable(`the SMTP connection broke after DATA; not resent to avoid a duplicate`, 'SmtpInDoubt');
        case 'badRecipient':
          await deps.store.addSuppression({ addressHash: addressHash(email), reason: 'bounce', source: `smtp: ${verdict.reply}`, customerId: key.customerId, at: at() });
          await update('failed', `recipient rejected, address suppressed: ${verdict.reply}`);
          throw ApplicationFailure.nonRetryable(`the recipient's server rejected the address; it is suppressed: ${verdict.reply}`, 'RecipientRejected');
        case 'senderRejected':
          // Our reputation or setup, not the customer's address: alert operators, suppress nobody.
          log.error('SMTP refused our email on policy grounds (5.7.x): check the sending domain, DKIM and reputation', { reply: verdict.reply, workflowId: key.workflowId });
          Context.current().metricMeter.createCounter('journeys_smtp_sender_rejected', 'emails', 'SMTP 5.7.x refusals of our sending').add(1);
          await update('failed', `sender rejected: ${verdict.reply}`);
          throw ApplicationFailure.nonRetryable(`SMTP refused our sending (5.7.x): ${verdict.reply}`, 'SenderRejected');
        case 'rejected':
          await update('failed', verdict.reply);
          throw ApplicationFailure.nonRetryable(`SMTP rejected the email: ${verdict.reply}`, 'SmtpRejected');
      }
    }
  };

  /** Products for the email's recommendations block, never the ones it already shows (the cart). */
  async function recommendationsFor(customerId: string, event: CustomerEvent): Promise<Recommendation[]> {
    const shown = Array.isArray(event.properties.items) ? event.properties.items.map((item: { sku?: unknown }) => String(item.sku)) : [];
    const [customerEvents, orders] = await Promise.all([deps.store.eventsOf(customerId), deps.store.latestEventsOfType('order.completed', RECENT_ORDERS)]);
    return recommend({ customerEvents, orders, exclude: shown });
  }

  async function withdrawn(customerId: string, topic: string): Promise<boolean> {
    for (const t of [GLOBAL_TOPIC, topic]) {
      const status = (await deps.store.consentFor(customerId, t))?.status ?? (t === GLOBAL_TOPIC ? 'granted' : deps.policy.consentDefault(t));
      if (status === 'withdrawn') return true;
    }
    return false;
  }
}

function timezoneOf(value: unknown): string | undefined {
  return typeof value === 'string' && isTimeZone(value) ? value : undefined;
}

function currentWorkflowId(): string {
  const workflowId = Context.current().info.workflowExecution?.workflowId;
  if (!workflowId) throw ApplicationFailure.nonRetryable('sendStep runs only inside a journey workflow', 'NotInJourney');
  return workflowId;
}

/** What a retried attempt reports for a row an earlier attempt finished. */
function outcomeOf(row: SendRecord): SendStepResult {
  if (row.status === 'sent') return { status: 'sent', template: row.template ?? '', chosenBy: 'an earlier attempt', messageId: row.messageId ?? '', trace: [] };
  return { status: 'skipped', reason: row.status === 'skipped' ? (row.reason ?? 'skipped') : row.status };
}
