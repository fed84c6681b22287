import type { Command } from 'commander';
import type { SendRecord } from '../../store/types';
import type { CliDeps } from '..';
import { parseInput } from '../../app/errors';
import { sendResolutionSchema } from '../../app/sends';
import { withOperator, withSendLedger } from '../operator';
import { UsageError } from '../usageError';
import { table } from './table';

/**
 * `journeys sends`: the send ledger across customers, by default what is in doubt (the
 * email may or may not have reached the SMTP server), and `journeys sends resolve` to settle one.
 * Locally the listing reads only the store; with JOURNEYS_URL both go to the HTTP API.
 */
export function registerSends(program: Command, deps: CliDeps): void {
  const out = (line: string) => deps.stdout.write(`${line}\n`);
  const sends = program
    .command('sends')
    .description('list sends in one state across all customers (default: in_doubt, the ones an operator must resolve); locally it needs only the store')
    .option('--status <status>', 'reserved, sending, sent, skipped, in_doubt or failed', 'in_doubt')
    .option('--limit <n>', 'at most this many, oldest change first', '100')
    .action(async (opts: { status: string; limit: string }) => {
      const rows = await withSendLedger(deps, (ledger) => ledger.sends(opts));
      out(rows.length ? sendTable(rows) : `no sends are ${opts.status}`);
      if (opts.status === 'in_doubt' && rows.length > 0) {
        out('');
        out('Each may or may not have reached the customer. Settle one with');
        out('  journeys sends resolve <workflowId> <stepId> --delivered   (it arrived: record it as sent)');
        out('  journeys sends resolve <workflowId> <stepId> --resend      (send the same message once more, same Message-ID)');
      }
    });

  sends
    .command('resolve <workflowId> <stepId>')
    .description('settle a send in doubt: --delivered records that it arrived, --resend sends the kept message once more (consent re-checked)')
    .option('--delivered', 'the email arrived (e.g. the customer or the mail log says so)')
    .option('--resend', 'send the same message once more, with the same Message-ID')
    .action(async (workflowId: string, stepId: string, opts: { delivered?: boolean; resend?: boolean }) => {
      if (Boolean(opts.delivered) === Boolean(opts.resend)) throw new UsageError('say how to resolve it: --delivered or --resend');
      const input = parseInput(sendResolutionSchema, { workflowId, stepId, resolution: opts.delivered ? 'delivered' : 'resend' }, 'send resolution');
      const result = await withOperator(deps, (operator) => operator.resolveSend(input));
      out(`${workflowId} ${stepId}: ${result.note} (now ${result.status})`);
    });
}

function sendTable(sends: SendRecord[]): string {
  return table([
    ['WHEN', 'JOURNEY', 'CUSTOMER', 'STEP', 'WORKFLOW ID', 'REASON'],
    ...sends.map((s) => [s.updatedAt, s.journeyId, s.customerId, s.stepId, s.workflowId, s.reason ?? '-']),
  ]);
}
