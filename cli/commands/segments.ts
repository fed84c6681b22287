import type { Command } from 'commander';
import { z } from 'zod';
import { customerId as customerIdSchema } from '../../domain/customer/schema';
import { parseInput } from '../../app/errors';
import type { CliDeps } from '..';
import type { CustomerSegment } from '../../app/segmentTracker';
import { withOperator } from '../operator';
import { table } from './table';

/** `journeys segments <customerId>`: the customer's segments with the time they entered each, locally or through JOURNEYS_URL. */
export function registerSegmentsCommand(program: Command, deps: CliDeps): void {
  program
    .command('segments <customerId>')
    .description("list the segments a customer is in (vip, browsedRunningShoes, dormant60d, ...) with when they entered each")
    .action(async (customerId: string) => {
      // Validated before connecting, so a bad id is reported as such even when Temporal is down.
      parseInput(z.object({ customerId: customerIdSchema }), { customerId }, 'customer id');
      const segments = await withOperator(deps, (operator) => operator.segmentsOf(customerId));
      deps.stdout.write(`${segments.length ? segmentTable(segments) : `customer ${customerId} is in no segments`}\n`);
    });
}

function segmentTable(segments: CustomerSegment[]): string {
  return table([['SEGMENT', 'NAME', 'ENTERED AT'], ...segments.map((s) => [s.segmentId, s.name, s.enteredAt])]);
}
