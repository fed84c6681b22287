import { ApplicationFailure } from '@temporalio/activity';
import { sendReasonOf } from '../observability/recorder';
import type { ResendInput, ResendResult } from '../workflows/resendEmail';
import { ClaimRefused, currentAttempt, deliver, failed, heartbeating } from './delivery';
import type { ActivityDeps } from './index';
import type { SmtpError } from './smtp';

/**
 * Sends the message a send in doubt kept, byte for byte (same Message-ID), through the same
 * claim as a journey's send: consent and suppression are checked in the transaction that
 * moves the row from `in_doubt` to `sending`. An attempt that dies mid-send leaves the row
 * in doubt again for the operator, never sends twice.
 */
export function createResendStep(deps: ActivityDeps) {
  return async function resendStep({ workflowId, stepId }: ResendInput): Promise<ResendResult> {
    const stopHeartbeats = heartbeating();
    try {
      const attempt = await currentAttempt(deps.clock);
      const row = await deps.store.sendRecord(workflowId, stepId);
      if (!row) throw ApplicationFailure.nonRetryable(`no send ${stepId} of ${workflowId} in the ledger`, 'SendNotFound');
      const timer = deps.metrics.sendStarted(row.journeyId, stepId);
      if (row.status === 'sending' && row.owner?.startsWith(`${attempt.owner.split('/')[0]}/`)) {
        const reason = 'a resend attempt stopped while handing the email to the SMTP server';
        if (await deps.store.moveSend(workflowId, stepId, { status: 'sending', owner: row.owner }, { status: 'in_doubt', reason, at: attempt.at })) timer.end('in_doubt', 'attempt_lost');
        return { status: 'in_doubt', note: reason };
      }
      if (row.status !== 'in_doubt') return { status: row.status, note: `not resent: the send is ${row.status}` };
      const message = await deps.store.sendMessage(workflowId, stepId);
      if (!message) throw ApplicationFailure.nonRetryable(`send ${stepId} of ${workflowId} kept no message to resend`, 'NothingToResend');
      const to = message.envelope.to[0] ?? '';
      const claim = {
        workflowId,
        stepId,
        from: 'in_doubt' as const,
        owner: attempt.owner,
        at: attempt.at,
        messageId: row.messageId ?? '',
        recheck: deps.policy.recheck(row, to),
      };
      try {
        await deliver(deps.mailer, message, claim, deps.store);
      } catch (err) {
        if (!(err instanceof ClaimRefused)) return failed(err as SmtpError, { ...row, retryFrom: 'in_doubt', owner: attempt.owner, at: attempt.at }, to, deps, timer);
        const refused = err.result;
        if (refused.status === 'skipped') {
          timer.end('skipped', sendReasonOf(refused.reason));
          return { status: 'in_doubt', note: `not resent: ${refused.reason}` };
        }
        return { status: refused.record?.status ?? 'in_doubt', note: 'not resent: the send changed meanwhile' };
      }
      await deps.store.moveSend(workflowId, stepId, { status: 'sending', owner: attempt.owner }, { status: 'sent', reason: 'resent by an operator', at: attempt.at });
      timer.end('sent', 'resent');
      return { status: 'sent', note: 'resent with the same Message-ID' };
    } finally {
      stopHeartbeats();
    }
  };
}
