import { readFileSync } from 'node:fs';
import type { Command } from 'commander';
import { z } from 'zod';
import { profileSchema } from '../../domain/customer/schema';
import type { Profile } from '../../domain/customer/types';
import { formatDuration, isDuration, parseDuration } from '../../domain/time/duration';
import { loadCatalogue, type Catalogue } from '../../journeys';
import { UsageError } from '../usageError';
import { findJourney } from './findJourney';
import { simulate, type SimulatedEvent, type SimulationResult } from './simulation';

/**
 * One line of an events file: `at` is "+<duration>" after the start of the simulation
 * ("+0s", "+30h", "+2d") or an ISO-8601 instant, taken relative to the first line's.
 */
const eventLineSchema = z.strictObject({
  at: z.string().min(1),
  type: z.string().min(1),
  properties: z.record(z.string(), z.unknown()).default({}),
});

/** `journeys simulate`: one customer through one journey on the time-skipping test server, printed as a timeline. */
export function registerSimulate(program: Command, out: (line?: string) => void, catalogue: () => Catalogue = () => loadCatalogue()): void {
  program
    .command('simulate <journeyId>')
    .description(
      'run a journey for one customer on the time-skipping test server and print its emails and waits with their times; ' +
        'the events file is .jsonl, one {"at":"+30h"|ISO,"type","properties"} per line, the first starting the journey',
    )
    .requiredOption('--profile <file.json>', 'the customer: {"customerId","email","attributes"}')
    .option('--events <file.jsonl>', 'events in time order (default: the journey\'s trigger event at +0s with no properties)')
    .action(async (journeyId: string, opts: { profile: string; events?: string }) => {
      const loaded = catalogue();
      const { definition } = findJourney(loaded, journeyId);
      const profile = readProfile(opts.profile);
      const events = opts.events ? readEvents(opts.events) : [{ atMs: 0, type: definition.trigger.event, properties: {} }];
      const wallStart = Date.now();
      const result = await simulate(loaded, journeyId, profile, events);
      for (const line of timeline(result, events)) out(line);
      out(`simulated ${formatOffset(result.endedAtMs)} in ${((Date.now() - wallStart) / 1000).toFixed(1)}s of wall time`);
    });
}

function readProfile(file: string): Profile {
  const parsed = profileSchema.safeParse(parseJson(readText(file), file));
  if (!parsed.success) throw new UsageError(`${file}: ${parsed.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('; ')}`);
  return parsed.data;
}

export function readEvents(file: string): SimulatedEvent[] {
  const lines = readText(file).split('\n');
  const events: SimulatedEvent[] = [];
  let firstInstant: number | undefined;
  lines.forEach((text, index) => {
    if (!text.trim()) return;
    const where = `${file} line ${index + 1}`;
    const parsed = eventLineSchema.safeParse(parseJson(text, where));
    if (!parsed.success) throw new UsageError(`${where}: ${parsed.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('; ')}`);
    const { at, type, properties } = parsed.data;
    let atMs: number;
    if (at.startsWith('+') && isDuration(at.slice(1))) atMs = parseDuration(at.slice(1));
    else if (!Number.isNaN(Date.parse(at))) atMs = Date.parse(at) - (firstInstant ??= Date.parse(at));
    else throw new UsageError(`${where}: at: "${at}" is neither "+<duration>" (e.g. "+30h") nor an ISO-8601 instant`);
    if (events.length > 0 && atMs < events[events.length - 1].atMs) throw new UsageError(`${where}: events must be in time order`);
    events.push({ atMs, type, properties });
  });
  if (events.length === 0) throw new UsageError(`${file} has no events: its first line must be the event that starts the journey`);
  return events;
}

/** The run as lines "+<offset>  <what>", in time order; events come before what they cause at the same instant. */
export function timeline(result: SimulationResult, events: SimulatedEvent[]): string[] {
  const rows: { atMs: number; order: number; text: string }[] = [];
  events.forEach((e, i) => rows.push({ atMs: e.atMs, order: 0, text: i === 0 ? `entered on ${e.type}` : `event   ${e.type}` }));
  // History order breaks ties: a send and the exit after it share an instant.
  result.state.history.forEach((h, i) => {
    const email = h.kind === 'send' ? result.emails.find((e) => e.stepId === h.stepId) : undefined;
    const text = email ? `email   ${h.outcome.replace(/^sent /, '')} "${email.subject}"` : `${h.kind.padEnd(7)} ${h.stepId}: ${h.outcome}`;
    rows.push({ atMs: Date.parse(h.at) - result.startMs, order: 1 + i, text });
  });
  rows.sort((a, b) => a.atMs - b.atMs || a.order - b.order);
  const ended = result.state.status === 'running' ? `still running at the ${formatOffset(result.endedAtMs)} cap` : result.state.status;
  rows.push({ atMs: result.endedAtMs, order: Number.MAX_SAFE_INTEGER, text: `${ended}${result.state.endedBy ? ` (${result.state.endedBy})` : ''}  [${result.workflowId}]` });
  return rows.map((r) => `${`+${formatOffset(r.atMs)}`.padEnd(7)} ${r.text}`);
}

/**
 * In the largest whole unit, to the second under a minute and to the minute beyond: the test
 * server's clock runs in real time while the worker warms up, so a run drifts by seconds.
 */
function formatOffset(ms: number): string {
  const unit = ms < 60_000 ? 1000 : 60_000;
  return formatDuration(Math.max(0, Math.round(ms / unit) * unit));
}

function readText(file: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch (err) {
    throw new UsageError(`cannot read ${file}: ${(err as Error).message}`);
  }
}

function parseJson(text: string, where: string): unknown {
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new UsageError(`${where}: not valid JSON (${(err as Error).message})`);
  }
}
