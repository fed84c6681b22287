import { randomBytes } from 'node:crypto';
import { ApplicationFailure, Context, log } from '@temporalio/activity';
import { addressHash } from '../domain/delivery/address';
import { redactAddresses } from '../domain/delivery/redact';
import type { MetricsRecorder, SendTimer } from '../observability/recorder';
import type { SendClaim, SendClaimResult, SendStatus, Store, StoredMessage } from '../store/types';
import type { Mailer, SmtpError } from './smtp';
import { judgeSmtpFailure } from './smtpReply';

/** The activity attempt that sends: its identity owns the `sending` row; its start is the time of every check and ledger write. */
export interface Attempt {
  workflowId: string;
  /** "<runId>/<activityId>#<attempt>", or "<runId>/local-<activityId>#<attempt>-<random>" for a local attempt: unique per attempt, readable in the ledger. */
  owner: string;
  /** When the attempt actually started (not when it was scheduled: a backlog can lie between), as an ISO instant. */
  at: string;
}

export async function currentAttempt(clock: () => Promise<Date>): Promise<Attempt> {
  const info = Context.current().info;
  const execution = info.workflowExecution;
  if (!execution?.workflowId) throw ApplicationFailure.nonRetryable('sending runs only inside a workflow', 'NotInWorkflow');
  return {
    workflowId: execution.workflowId,
    // A local attempt (a send's first, workflows/steps.ts) runs again with the same id and attempt number when its workflow task is retried.
    owner: `${execution.runId}/${info.isLocal ? `local-${info.activityId}#${info.attempt}-${randomBytes(4).toString('hex')}` : `${info.activityId}#${info.attempt}`}`,
    at: (await clock()).toISOString(),
  };
}

/** Thrown from the hand-off when the ledger refuses the claim; nothing has been transmitted. */
export class ClaimRefused extends Error {
  constructor(readonly result: Exclude<SendClaimResult, { status: 'claimed' }>) {
    super(`the send ledger refused the claim: ${result.status}`);
  }
}

/**
 * Heartbeats while the attempt runs, so a dead worker is noticed within the heartbeat timeout.
 * Not at once: the server counts that timeout from the attempt's start until a first
 * heartbeat, and an email takes milliseconds, so a heartbeat at the start only cost every
 * send a round trip and a write of the run's state on the server.
 */
export function heartbeating(): () => void {
  const context = Context.current();
  // A local activity cannot heartbeat: the SDK keeps its workflow task alive instead.
  if (context.info.isLocal) return () => {};
  const timer = setInterval(() => context.heartbeat(), 5_000);
  return () => clearInterval(timer);
}

/**
 * Takes an SMTP session (a pooled connection, or a new one) and
 * transmits, claiming the ledger row (through `claim`) at the hand-off. Rejects with
 * `ClaimRefused` when the claim is refused, else with the SMTP error. The connection goes
 * back to the pool only after the server's 250.
 */
export async function deliver(mailer: Mailer, message: StoredMessage, claim: Omit<SendClaim, 'message'>, store: Store): Promise<void> {
  const session = await mailer.open();
  try {
    await session.send(message, async () => {
      const result = await store.claimSend({ ...claim, message });
      if (result.status !== 'claimed') throw new ClaimRefused(result);
    });
  } finally {
    session.release();
  }
}

export interface FailedSend {
  workflowId: string;
  stepId: string;
  customerId: string;
  journeyId: string;
  /** Where the row goes when nothing was delivered and the attempt should be retried: `reserved`, or `in_doubt` for a resend. */
  retryFrom: SendStatus;
  owner: string;
  at: string;
}

/**
 * What an SMTP failure does to the ledger and the attempt. Before the hand-off the row is
 * still `retryFrom`; after it, the attempt's own `sending`. Only a reply code proves that
 * nothing was delivered; a failure after the hand-off without one leaves the send in doubt.
 * The attempt's outcome is counted on `timer` with the verdict's class.
 */
export async function failed(err: SmtpError, send: FailedSend, email: string, { store, metrics }: { store: Store; metrics: MetricsRecorder }, timer: SendTimer): Promise<never> {
  const verdict = judgeSmtpFailure(err);
  const from = err.handedOff ? { status: 'sending' as const, owner: send.owner } : { status: send.retryFrom };
  const settle = (status: SendStatus, reason: string) => store.moveSend(send.workflowId, send.stepId, from, { status, reason, at: send.at });
  const reply = 'reply' in verdict ? verdict.reply : redactAddresses(err.message);
  switch (verdict.kind) {
    case 'retry':
      timer.end('retried', 'smtp_temporary');
      // Nothing was delivered: the row is (again) where a retry can claim it.
      if (err.handedOff) await settle(send.retryFrom, reply);
      throw ApplicationFailure.retryable(`SMTP: ${reply}`, 'SmtpTemporaryFailure');
    case 'inDoubt':
      timer.end('in_doubt', 'no_reply');
      await settle('in_doubt', `no reply after the message was handed to the SMTP server: ${reply}`);
      throw ApplicationFailure.nonRetryable('the SMTP connection broke after the message was handed over; not resent to avoid a duplicate', 'SmtpInDoubt');
    case 'badRecipient':
      timer.end('failed', 'bad_recipient');
      await store.addSuppression({ addressHash: addressHash(email), reason: 'bounce', source: `smtp: ${reply}`, customerId: send.customerId, at: send.at });
      await settle('failed', `recipient rejected, address suppressed: ${reply}`);
      throw ApplicationFailure.nonRetryable(`the recipient's server rejected the address; it is suppressed: ${reply}`, 'RecipientRejected');
    case 'senderRejected':
      // Our reputation or setup, not the customer's address: alert operators, suppress nobody.
      log.error('SMTP refused our email on policy grounds (5.7.x): check the sending domain, DKIM and reputation', { reply, workflowId: send.workflowId });
      metrics.smtpSenderRejected();
      timer.end('failed', 'sender_rejected');
      await settle('failed', `sender rejected: ${reply}`);
      throw ApplicationFailure.nonRetryable(`SMTP refused our sending (5.7.x): ${reply}`, 'SenderRejected');
    case 'rejected':
      timer.end('failed', 'rejected');
      await settle('failed', reply);
      throw ApplicationFailure.nonRetryable(`SMTP rejected the email: ${reply}`, 'SmtpRejected');
  }
}
