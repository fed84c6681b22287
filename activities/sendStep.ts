import { createHash } from 'node:crypto';
import { ApplicationFailure, Context } from '@temporalio/activity';
import type { CustomerEvent } from '../domain/customer';
import type { TemplateRuleSet } from '../domain/journey';
import { decide, type RuleTrace } from '../domain/rules';
import type { SendRecord } from '../store/types';
import type { ActivityDeps } from './index';

export interface SendStepInput {
  journeyId: string;
  topic: string;
  customerId: string;
  stepId: string;
  template: TemplateRuleSet;
  /** The journey's entry event as last updated (e.g. the latest cart). */
  event: CustomerEvent;
}

export type SendStepResult =
  | { status: 'sent'; template: string; chosenBy: string; messageId: string; trace: RuleTrace[] }
  | { status: 'skipped'; reason: string };

interface SmtpError extends Error {
  responseCode?: number;
  command?: string;
}

/**
 * Sends one journey email exactly once. The send ledger row keyed by workflow ID + step ID
 * (never the run ID) is reserved first; `sending` is written just before SMTP and `sent`
 * right after. A retry that finds `sent` returns the recorded result. A retry that finds
 * `sending` cannot know whether the server accepted the message, so the policy is to
 * mark it `in_doubt` and not send again: a missing reminder is better than a duplicate.
 */
export function createSendStep(deps: ActivityDeps) {
  return async function sendStep(input: SendStepInput): Promise<SendStepResult> {
    const workflowId = currentWorkflowId();
    const { stepId, customerId, journeyId, topic } = input;
    const at = () => deps.now().toISOString();
    const row = await deps.store.reserveSend({ workflowId, stepId, customerId, journeyId, topic }, at());
    const earlier = outcomeOf(row);
    if (earlier) return earlier;
    if (row.status === 'sending') {
      const reason = 'in_doubt: an earlier attempt handed the email to SMTP and stopped before recording the result';
      await deps.store.updateSend(workflowId, stepId, { status: 'in_doubt', reason, at: at() });
      return { status: 'skipped', reason: 'in_doubt' };
    }

    const skip = async (reason: string): Promise<SendStepResult> => {
      await deps.store.updateSend(workflowId, stepId, { status: 'skipped', reason, at: at() });
      return { status: 'skipped', reason };
    };
    // The ledger is read at send time, so a withdrawal whose signal was lost still holds.
    const consent = (await deps.store.consentFor(customerId, topic))?.status ?? deps.consentDefault(topic);
    if (consent === 'withdrawn') return skip('consent_withdrawn');
    const profile = await deps.store.getProfile(customerId);
    if (!profile) return skip('no_profile');

    const decision = decide(input.template, { profile, event: input.event });
    const template = `${journeyId}/${decision.choice}`;
    const email = await deps.templates.render(template, { profile, event: input.event }).catch((err: Error) => {
      throw ApplicationFailure.nonRetryable(err.message, 'TemplateError');
    });
    const messageId = `<${createHash('sha256').update(`${workflowId}/${stepId}`).digest('hex').slice(0, 32)}@journeys>`;

    await deps.store.updateSend(workflowId, stepId, { status: 'sending', template: decision.choice, messageId, at: at() });
    try {
      await deps.mailer.sendMail({
        from: deps.from,
        to: profile.email,
        subject: email.subject,
        html: email.html,
        text: email.text,
        messageId,
        headers: { 'X-Journey': journeyId, 'X-Journey-Step': stepId },
      });
    } catch (err) {
      return handleSmtpFailure(err as SmtpError);
    }
    await deps.store.updateSend(workflowId, stepId, { status: 'sent', at: at() });
    return { status: 'sent', template: decision.choice, chosenBy: decision.chosenBy, messageId, trace: decision.trace };

    async function handleSmtpFailure(err: SmtpError): Promise<never> {
      const rejected = err.responseCode !== undefined;
      const beforeData = err.command !== undefined && err.command !== 'DATA';
      if (rejected || beforeData) {
        // The server said no (or we never got to DATA): nothing was delivered, a retry may send.
        if (err.responseCode && err.responseCode >= 500) {
          await deps.store.updateSend(workflowId, stepId, { status: 'failed', reason: err.message, at: at() });
          throw ApplicationFailure.nonRetryable(`SMTP rejected the email: ${err.message}`, 'SmtpRejected');
        }
        await deps.store.updateSend(workflowId, stepId, { status: 'reserved', reason: err.message, at: at() });
      }
      throw err;
    }
  };
}

function currentWorkflowId(): string {
  const workflowId = Context.current().info.workflowExecution?.workflowId;
  if (!workflowId) throw ApplicationFailure.nonRetryable('sendStep runs only inside a journey workflow', 'NotInJourney');
  return workflowId;
}

function outcomeOf(row: SendRecord): SendStepResult | undefined {
  if (row.status === 'sent') {
    return { status: 'sent', template: row.template ?? '', chosenBy: 'an earlier attempt', messageId: row.messageId ?? '', trace: [] };
  }
  if (row.status === 'skipped' || row.status === 'in_doubt' || row.status === 'failed') {
    return { status: 'skipped', reason: row.status === 'skipped' ? (row.reason ?? 'skipped') : row.status };
  }
  return undefined;
}
