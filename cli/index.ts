import { randomUUID } from 'node:crypto';
import type { Writable } from 'node:stream';
import { Command, CommanderError } from 'commander';
import { z } from 'zod';
import { suppressionInputSchema } from '../app/customerRecords';
import { parseInput, ValidationError } from '../app/errors';
import type { IngestResult, JourneyClient, JourneyRunSummary } from '../app/journeyClient';
import { SegmentTracker } from '../app/segmentTracker';
import { connectJourneys } from '../client';
import { openConfiguredStore } from '../compose';
import { ConfigError, configFromEnv } from '../config';
import { consentChangeSchema, customerId as customerIdSchema, eventSchema } from '../domain/customer/schema';
import { MARKETING_TOPIC } from '../domain/customer/topics';
import { parseSegments } from '../domain/rules/segments';
import { shippedSegments } from '../journeys/segments';
import type { Store } from '../store/types';
import { registerClusters } from './commands/clusters';
import { registerConsume } from './commands/consume';
import { registerExternalScoreCommands } from './commands/externalScores';
import { registerGraph } from './commands/graph';
import { registerKeys } from './commands/keys';
import { registerLint } from './commands/lint';
import { registerPreview } from './commands/preview';
import { registerReport } from './commands/report';
import { registerScores } from './commands/scores';
import { registerSegmentsCommand } from './commands/segments';
import { registerRoles } from './commands/roles';
import { registerSends } from './commands/sends';
import { registerSimulate } from './commands/simulate';
import { table } from './commands/table';
import { importEvents } from './imports/eventImport';
import { importKindOf } from './imports/fileImport';
import { importProfiles } from './imports/profileImport';
import { noteLocalStore, REMOTE_HELP, remoteFromEnv, withOperator, type Operator, type OperatorDeps, type RemoteOperator } from './operator';
import { UsageError } from './usageError';

/**
 * What the commands reach for. Opened lazily, so the imports and `--help` work while Temporal is
 * down. With `remote` (JOURNEYS_URL), the operator commands go to that HTTP API and open neither.
 */
export interface CliDeps extends OperatorDeps {
  /** A JourneyClient on this machine's settings: its store and its Temporal. */
  connect(): Promise<{ journeys: JourneyClient; close(): Promise<void> }>;
  openStore(): Promise<{ store: Store; close(): Promise<void> }>;
  remote?: RemoteOperator;
  stdout: Writable;
  stderr: Writable;
}

export { UsageError };
export type { Operator, RemoteOperator } from './operator';

/** Runs one command line (without `node` and the script) and returns the exit code. */
export async function runCli(args: string[], deps: CliDeps): Promise<number> {
  let exitCode = 0;
  const program = buildCli(deps, (code) => (exitCode = Math.max(exitCode, code)));
  try {
    await program.parseAsync(args, { from: 'user' });
    return exitCode;
  } catch (err) {
    return reportError(err, deps.stderr);
  }
}

export async function main(argv: string[] = process.argv, env: NodeJS.ProcessEnv = process.env): Promise<void> {
  let remote: RemoteOperator | undefined;
  try {
    remote = remoteFromEnv(env);
  } catch (err) {
    process.exitCode = reportError(err, process.stderr);
    return;
  }
  process.exitCode = await runCli(argv.slice(2), {
    connect: () => connectJourneys(configFromEnv(env)),
    async openStore() {
      const store = await openConfiguredStore(configFromEnv(env));
      return { store, close: () => store.close() };
    },
    remote,
    stdout: process.stdout,
    stderr: process.stderr,
  });
}

export function buildCli(deps: CliDeps, setExitCode: (code: number) => void): Command {
  const out = (line = '') => deps.stdout.write(`${line}\n`);
  const withJourneys = <T>(use: (journeys: Operator) => Promise<T>) => withOperator(deps, use);
  // Validated before connecting, so a bad id is reported as such even when Temporal or the API is down.
  const checkCustomerId = (customerId: string) => parseInput(z.object({ customerId: customerIdSchema }), { customerId }, 'customer id');
  const withStore = async <T>(use: (store: Store) => Promise<T>): Promise<T> => {
    const { store, close } = await deps.openStore();
    try {
      return await use(store);
    } finally {
      await close();
    }
  };

  const program = new Command('journeys')
    .description('Customer email journeys on Temporal: send events, record consent, see where a customer is, import profiles.')
    .exitOverride()
    .configureOutput({ writeOut: (s) => deps.stdout.write(s), writeErr: (s) => deps.stderr.write(s) })
    .showHelpAfterError('(add --help for usage)')
    .addHelpText('after', REMOTE_HELP);
  if (deps.remote) program.hook('preAction', (_program, action) => noteLocalStore(action, deps.remote!.url, deps.stderr));

  program
    .command('event <type> <customerId>')
    .description('record a customer event and route it to its journeys (cart.updated starts cartAbandonment)')
    .option('--id <id>', 'event id; sending the same id again changes nothing (default: a random UUID)')
    .option('--properties <json>', 'event properties as a JSON object, e.g. \'{"cartId":"c1"}\'')
    .option('--occurred-at <iso>', 'when it happened, ISO-8601 with offset (default: now)')
    .action(async (type: string, customerId: string, opts: { id?: string; properties?: string; occurredAt?: string }) => {
      const properties = opts.properties === undefined ? undefined : parseJsonOption('--properties', opts.properties);
      // Validated before connecting, so bad input is reported as such even when Temporal is down.
      const event = parseInput(eventSchema, { id: opts.id ?? randomUUID(), type, customerId, occurredAt: opts.occurredAt, properties }, 'event');
      printIngest(await withJourneys((journeys) => journeys.ingest(event)), out);
    });

  const consent = program.command('consent').description("record a customer's consent: withdraw it (their running journeys on that topic end) or grant it");
  for (const [verb, status, description] of [
    ['withdraw', 'withdrawn', "withdraw a customer's consent and end their running journeys on that topic (topic all: every journey but transactional ones)"],
    ['grant', 'granted', "record a customer's consent for a topic (needed before any email on an opt-in topic)"],
  ] as const) {
    consent
      .command(`${verb} <customerId>`)
      .description(description)
      .option('--topic <topic>', 'consent topic', MARKETING_TOPIC)
      .option('--source <source>', 'who or what asked, kept in the consent ledger', 'cli')
      .action(async (customerId: string, opts: { topic: string; source: string }) => {
        const change = parseInput(consentChangeSchema, { customerId, topic: opts.topic, status, source: opts.source }, 'consent change');
        const { signalled } = await withJourneys((journeys) => journeys.changeConsent(change));
        out(`${opts.topic} consent ${status} for ${customerId} (source: ${opts.source})`);
        if (status === 'withdrawn') out(signalled.length ? `  ending ${signalled.length} running journey run(s): ${signalled.join(', ')}` : '  no running journey runs on this topic');
      });
  }

  program
    .command('status <customerId>')
    .description("list a customer's journey runs with their status, current step and next wake-up")
    .action(async (customerId: string) => {
      checkCustomerId(customerId);
      const list = await withJourneys((journeys) => journeys.runsOf(customerId));
      out(list.length ? runTable(list) : `no journey runs for customer ${customerId}`);
    });

  program
    .command('suppress <email>')
    .description('never mail this address again (bounce and complaint feeds, operators); a complaint also withdraws marketing consent')
    .option('--reason <reason>', 'bounce, complaint or manual', 'manual')
    .option('--source <source>', 'who or what reported it, kept in the audit', 'cli')
    .action(async (email: string, opts: { reason: string; source: string }) => {
      const input = parseInput(suppressionInputSchema, { email, reason: opts.reason, source: opts.source }, 'suppression');
      const { customers } = await withJourneys((journeys) => journeys.suppress(input));
      out(`suppressed (${opts.reason})${customers?.length ? `; customers with this address: ${customers.join(', ')}` : ''}`);
    });

  program
    .command('audit <customerId>')
    .description("the customer's story in time order: journeys, sends, skips with their reasons, consent, suppression, opens and clicks")
    .action(async (customerId: string) => {
      checkCustomerId(customerId);
      const entries = await withJourneys((journeys) => journeys.audit(customerId));
      if (entries.length === 0) out(`nothing recorded for customer ${customerId}`);
      for (const e of entries) out(`${e.at}  ${e.kind.padEnd(11)}  ${e.what}  ← ${e.cause}`);
    });

  program
    .command('erase <customerId>')
    .description("erase a customer: stop their journeys, delete profile, events and ledgers, keep only a suppressed hash of their address")
    .option('--yes', 'confirm the erasure; it cannot be undone')
    .action(async (customerId: string, opts: { yes?: boolean }) => {
      if (!opts.yes) throw new UsageError(`erase removes ${customerId} for good: run it again with --yes to confirm`);
      checkCustomerId(customerId);
      const result = await withJourneys((journeys) => journeys.erase(customerId));
      out(`${result.customerId} erased${result.terminated.length ? `; terminated ${result.terminated.join(', ')}` : ''}; their address stays suppressed (as a hash)`);
    });

  program
    .command('profiles')
    .description('customer profiles in the store')
    .command('import <file>')
    .description(
      'upsert profiles from .jsonl ({"customerId","email","attributes"} per line) or .csv (header row with customerId, email ' +
        'and one column per attribute); needs only the store, not Temporal',
    )
    .action(async (file: string) => {
      const kind = importKindOf(file);
      setExitCode(await withStore((store) => importProfiles(file, kind, store, deps)));
    });

  program
    .command('events')
    .description('customer events in the store')
    .command('import <file>')
    .description(
      'record past events as history, for RFM, recommendations and segments, starting and signalling no journey: .jsonl ' +
        '({"id","type","customerId","occurredAt","properties"} per line) or .csv (header row with id, type, customerId, occurredAt ' +
        'and one column per property); needs only the store, not Temporal',
    )
    .action(async (file: string) => {
      const kind = importKindOf(file);
      setExitCode(await withStore((store) => importEvents(file, kind, store, new SegmentTracker(store, parseSegments(shippedSegments)), deps)));
    });

  registerSegmentsCommand(program, deps);
  registerSends(program, deps);
  registerReport(program, deps);
  registerKeys(program, deps);
  registerRoles(program, out);
  registerConsume(program, out);
  registerLint(program, out, setExitCode);
  registerGraph(program, out);
  registerPreview(program, deps, out);
  registerSimulate(program, out);
  registerExternalScoreCommands(registerScores(program, deps), deps, setExitCode);
  registerClusters(program, deps);
  return program;
}

function reportError(err: unknown, stderr: Writable): number {
  const say = (line: string) => stderr.write(`${line}\n`);
  if (err instanceof CommanderError) {
    // Commander has already printed the help, version or usage error.
    return err.code === 'commander.helpDisplayed' || err.code === 'commander.version' ? 0 : 2;
  }
  if (err instanceof ValidationError) {
    say(`error: invalid ${err.what}`);
    for (const p of err.problems) say(`  ${p.path || err.what}: ${p.message}`);
    return 2;
  }
  const message = err instanceof Error ? err.message : String(err);
  // Only the first line: users get the reason, not a gRPC or SQLite stack.
  say(`error: ${message.split('\n')[0]}`);
  return err instanceof UsageError || err instanceof ConfigError ? 2 : 1;
}

function parseJsonOption(name: string, text: string): unknown {
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new UsageError(`${name} is not valid JSON (${(err as Error).message}); quote it for the shell, e.g. ${name} '{"cartId":"c1"}'`);
  }
}

function printIngest(result: IngestResult, out: (line: string) => void) {
  if (result.duplicate) {
    out(`event ${result.eventId} was recorded before: nothing new happened`);
    return;
  }
  out(`event ${result.eventId} recorded`);
  out(`  started:   ${result.started.join(', ') || 'none'}`);
  out(`  signalled: ${result.signalled.join(', ') || 'none'}`);
  for (const { journeyId, message } of result.ignored ?? []) out(`  not started: ${journeyId}: ${message}`);
  for (const { path, reason } of result.dropped ?? []) out(`  dropped:   ${path}: ${reason}`);
  if (result.routingPending) out('  routing pending: Temporal could not be reached; the event-routing sweep routes the event within minutes');
}

function runTable(runs: JourneyRunSummary[]): string {
  return table([
    ['WORKFLOW ID', 'JOURNEY', 'STATUS', 'CURRENT STEP', 'NEXT WAKE-UP'],
    ...runs.map((r) => [r.workflowId, r.journeyId, r.status, r.currentStep ?? '-', r.nextWakeAt ?? '-']),
  ]);
}


// `node dist/cli/index.js <command>`: the compiled CLI, run directly in production.
if (require.main === module) {
  main().catch((err: unknown) => {
    console.error(err);
    process.exitCode = 1;
  });
}
