import { createHash } from 'node:crypto';
import { ApplicationFailure, log } from '@temporalio/activity';
import type { CustomerEvent } from '../domain/customer/types';
import type { TemplateRuleSet } from '../domain/journey/types';
import { MARKETING_TOPIC } from '../domain/customer/topics';
import type { RuleTrace } from '../domain/rules/types';
import type { TemplateRenderer } from '../domain/delivery/templates';
import { sendReasonOf, type SendTimer } from '../observability/recorder';
import type { SendKey, SendRecord } from '../store/types';
import { ClaimRefused, currentAttempt, deliver, failed, heartbeating } from './delivery';
import { loadEntryEvent } from './entryEvent';
import { decideOnFacts, recommendationsFor } from './facts';
import type { ActivityDeps } from './index';
import type { SmtpError } from './smtp';

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
  /** The journey version the run started with: its templates are the ones rendered. Absent in runs started before versions were pinned. */
  version?: string;
  /** The journey's entry event as last updated (e.g. the latest cart). */
  event: CustomerEvent;
  /** False: the journey's emails carry no open pixel and no tracked links (`tracking: false` in its definition). */
  tracking?: boolean;
  /** The variant each `split` step before this one assigned, by step id: recorded with the email's tracking. */
  variants?: Record<string, string>;
}

export type SendStepResult =
  | { status: 'sent'; template: string; chosenBy: string; messageId: string; trace: RuleTrace[] }
  | { status: 'skipped'; reason: string }
  /** Not now: the workflow waits until `until` and runs the step again. */
  | { status: 'deferred'; until: string; reason: string };

/**
 * Sends one journey email exactly once, and only when the send policy lets it go out. Checks
 * run in order: consent (the ledger, read now, so a withdrawal whose signal was lost still holds),
 * suppression, sunset (marketing only), quiet hours, the frequency cap (reserved
 * atomically with the send-ledger row keyed by workflow ID + step ID, never the run ID),
 * then SMTP. The row moves to `sending` only at the hand-off, after the server accepted
 * MAIL, RCPT and DATA, in a transaction that checks consent and suppression once more; a
 * fault before it is safe to retry. A retry that finds `sent` reports the recorded result;
 * one that finds another attempt's `sending` cannot know whether the server took the
 * email, so the row goes `in_doubt` for an operator and nothing is sent again: a missing
 * reminder is better than a duplicate. A tracked email's links are recorded by the claim, in its
 * transaction, so the click redirect knows exactly the links of the email that went out.
 */
export function createSendStep(deps: ActivityDeps) {
  return async function sendStep(input: SendStepInput): Promise<SendStepResult> {
    const stopHeartbeats = heartbeating();
    const timer = deps.metrics.sendStarted(input.journeyId, input.stepId);
    try {
      return await sendOnce(input, timer);
    } catch (err) {
      // SMTP failures are counted with their verdict; this is what is left (a template, the store).
      if (err instanceof ApplicationFailure && err.nonRetryable) timer.end('failed', err.type === 'TemplateError' ? 'template' : 'error');
      else timer.end('retried', 'error');
      throw err;
    } finally {
      stopHeartbeats();
    }
  };

  async function templatesOf({ journeyId, version }: SendStepInput): Promise<TemplateRenderer> {
    if (!version) return deps.templates;
    const pinned = await deps.pinnedTemplates(journeyId, version);
    if (!pinned) log.warn('no templates recorded for this journey version; rendering the current ones', { journeyId, version });
    return pinned ?? deps.templates;
  }

  /** Counts on `timer` what this attempt did; an attempt that finds the send settled by another counts nothing. */
  async function sendOnce(input: SendStepInput, timer: SendTimer): Promise<SendStepResult> {
    const attempt = await currentAttempt(deps.clock);
    const { at } = attempt;
    const key: SendKey = {
      workflowId: attempt.workflowId,
      stepId: input.stepId,
      customerId: input.customerId,
      journeyId: input.journeyId,
      topic: input.topic,
      transactional: input.transactional ?? false,
    };
    const earlier = await deps.store.sendRecord(key.workflowId, key.stepId);
    if (earlier?.status === 'sending') {
      const reason = `an earlier attempt (${earlier.owner}) stopped while handing the email to the SMTP server`;
      if (await deps.store.moveSend(key.workflowId, key.stepId, { status: 'sending', owner: earlier.owner }, { status: 'in_doubt', reason, at })) timer.end('in_doubt', 'attempt_lost');
      return { status: 'skipped', reason: 'in_doubt' };
    }
    if (earlier && earlier.status !== 'reserved') return outcomeOf(earlier);

    const skip = async (reason: string): Promise<SendStepResult> => {
      await deps.store.skipSend(key, reason, at);
      timer.end('skipped', sendReasonOf(reason));
      return { status: 'skipped', reason };
    };
    const defer = (until: string, reason: string): SendStepResult => {
      timer.end('deferred', sendReasonOf(reason));
      return { status: 'deferred', until, reason };
    };
    if (await deps.policy.consentWithdrawn(deps.store, key.customerId, input)) return skip('consent_withdrawn');
    const profile = await deps.store.getProfile(key.customerId);
    if (!profile) return skip('no_profile');
    const suppressed = await deps.policy.suppressed(deps.store, profile.email);
    if (suppressed) return skip(suppressed);
    const held = deps.policy.hold(input, profile, new Date(at));
    if (held && 'skip' in held) return skip(held.skip);
    if (held) return defer(held.until, held.reason);

    if (!earlier) {
      const reservation = await deps.store.reserveSend(key, at, deps.policy.frequencyLimits(input));
      if (reservation.capped) {
        const reason = `frequency cap ${reservation.capped.limit} on ${input.topic}`;
        if (input.whenCapped === 'skip') return skip(reason);
        return defer(reservation.capped.until, reason);
      }
    }

    const event = await loadEntryEvent(deps.store, input.event);
    const decision = await decideOnFacts(deps.store, input.template, { now: at, customerId: key.customerId, profile, event }, `send ${key.stepId}`);
    // A receipt's footer link still needs a topic: the one a customer most likely means.
    const links = deps.unsubscribe(key.customerId, input.transactional ? MARKETING_TOPIC : input.topic);
    const template = `${key.journeyId}/${decision.choice}`;
    const templates = await templatesOf(input);
    const recommendations = templates.mentions(template, 'recommendations') ? await recommendationsFor(deps.store, key.customerId, event) : [];
    const email = await templates
      .render(template, { profile, event, unsubscribeUrl: links.url, recommendations })
      .catch((err: Error) => {
        throw ApplicationFailure.nonRetryable(err.message, 'TemplateError');
      });
    const messageId = `<${createHash('sha256').update(`${key.workflowId}/${key.stepId}`).digest('hex').slice(0, 32)}@journeys>`;
    // Marketing email only, unless TRACKING=off or the journey says `tracking: false`; a receipt stays as written.
    const tracked = deps.tracking && !key.transactional && input.tracking !== false ? deps.tracking.track(email.html, key) : undefined;
    const message = await deps.mailer.compose({
      from: deps.from,
      to: profile.email,
      subject: email.subject,
      html: tracked?.html ?? email.html,
      text: email.text,
      messageId,
      // Postmark's webhooks name a message by its own id, and by our Message-ID only through this metadata header.
      headers: { ...links.headers, 'X-Journey': key.journeyId, 'X-Journey-Step': key.stepId, 'X-PM-Metadata-MessageID': messageId },
    });

    const tracking = tracked && { links: tracked.links, variants: input.variants ?? {} };
    const claim = { workflowId: key.workflowId, stepId: key.stepId, from: 'reserved' as const, owner: attempt.owner, at, template: decision.choice, messageId, tracking };
    try {
      await deliver(deps.mailer, message, { ...claim, recheck: deps.policy.recheck(input, profile.email) }, deps.store);
    } catch (err) {
      if (!(err instanceof ClaimRefused)) return failed(err as SmtpError, { ...key, retryFrom: 'reserved', owner: attempt.owner, at }, profile.email, deps, timer);
      const refused = err.result;
      if (refused.status === 'skipped') {
        timer.end('skipped', sendReasonOf(refused.reason));
        return { status: 'skipped', reason: refused.reason };
      }
      // Another attempt of this send moved the row first: its outcome is the send's.
      return refused.record ? outcomeOf(refused.record) : { status: 'skipped', reason: 'lost_race' };
    }
    // An attempt whose row another attempt marked in doubt meanwhile still knows the truth.
    const recorded =
      (await deps.store.moveSend(key.workflowId, key.stepId, { status: 'sending', owner: attempt.owner }, { status: 'sent', at })) ||
      (await deps.store.moveSend(key.workflowId, key.stepId, { status: 'in_doubt', owner: attempt.owner }, { status: 'sent', reason: 'the server took it after the attempt was thought lost', at }));
    if (!recorded) log.warn('an email was delivered after its ledger row had moved on', { workflowId: key.workflowId, stepId: key.stepId });
    timer.end('sent');
    return { status: 'sent', template: decision.choice, chosenBy: decision.chosenBy, messageId, trace: decision.trace };
  }
}

/** What a retried attempt reports for a row an earlier attempt finished. */
function outcomeOf(row: SendRecord): SendStepResult {
  if (row.status === 'sent') return { status: 'sent', template: row.template ?? '', chosenBy: 'an earlier attempt', messageId: row.messageId ?? '', trace: [] };
  return { status: 'skipped', reason: row.status === 'skipped' ? (row.reason ?? 'skipped') : row.status };
}
