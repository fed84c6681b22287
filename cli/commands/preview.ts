import type { Command } from 'commander';
import { decideOnFacts, recommendationsFor } from '../../activities/facts';
import { eventSchema } from '../../domain/customer/schema';
import type { CustomerEvent } from '../../domain/customer/types';
import type { JourneyDefinition } from '../../domain/journey/types';
import { eventMatches } from '../../domain/journey/flow';
import { createTemplateRenderer, TemplateError } from '../../domain/delivery/templates';
import type { RuleTrace } from '../../domain/rules/types';
import { loadCatalogue, type Catalogue } from '../../journeys';
import type { Store } from '../../store/types';
import { parseInput } from '../../app/errors';
import { UsageError } from '../usageError';
import { findJourney } from './findJourney';

/** Stands in for the signed link a real send carries: a preview must not mint working unsubscribe tokens. */
export const PREVIEW_UNSUBSCRIBE_URL = 'https://journeys.invalid/u/preview';

interface PreviewDeps {
  openStore(): Promise<{ store: Store; close(): Promise<void> }>;
}

/**
 * `journeys preview`: renders the email one send step would give a customer now, with the
 * rule that chose it. Reads the store, never Temporal; the template is decided by
 * `decideOnFacts`, the same code the send step runs, so preview and send cannot disagree.
 * The entry event is the one given with --event, else the customer's latest recorded one.
 */
export function registerPreview(program: Command, deps: PreviewDeps, out: (line?: string) => void, catalogue: () => Catalogue = () => loadCatalogue()): void {
  program
    .command('preview <journeyId> <stepId>')
    .description("render the email a send step would give a customer now, and which rule chose it (reads the store, not Temporal)")
    .requiredOption('--customer <id>', 'the customer whose profile and events the rules read')
    .option('--event <json>', "the entry event's properties, e.g. a cart: '{\"cartId\":\"c1\",\"total\":80}' (default: the customer's latest recorded one)")
    .option('--html', 'print the HTML part too')
    .action(async (journeyId: string, stepId: string, opts: { customer: string; event?: string; html?: boolean }) => {
      const loaded = catalogue();
      const { definition } = findJourney(loaded, journeyId);
      const sendSteps = definition.steps.filter((s) => s.kind === 'send');
      const step = definition.steps.find((s) => s.id === stepId);
      if (!step || step.kind !== 'send') {
        const what = step ? `step "${stepId}" of ${journeyId} is a ${step.kind} step, not a send` : `${journeyId} has no step "${stepId}"`;
        throw new UsageError(`${what}: its send steps are ${sendSteps.map((s) => s.id).join(', ') || '(none)'}`);
      }
      const now = new Date().toISOString();
      const entryEvent = (properties: unknown): CustomerEvent => ({
        ...parseInput(eventSchema, { id: 'preview', type: definition.trigger.event, customerId: opts.customer, properties }, 'event'),
        occurredAt: now,
      });
      // Parsed before the store opens, so bad input is reported as such.
      const given = opts.event === undefined ? undefined : entryEvent(parseProperties(opts.event));

      const { store, close } = await deps.openStore();
      try {
        const profile = await store.getProfile(opts.customer);
        if (!profile) throw new UsageError(`no profile for customer "${opts.customer}": import one with \`journeys profiles import\``);
        const recorded = given ? undefined : await latestEntryEvent(store, definition, profile.customerId);
        const source: EventSource = given ? 'given' : recorded ? 'recorded' : 'none';
        const event = given ?? recorded ?? entryEvent({});
        const decision = await decideOnFacts(store, step.template, { now, customerId: profile.customerId, profile, event }, `preview ${stepId}`);
        const renderer = createTemplateRenderer(loaded.templates);
        const template = `${journeyId}/${decision.choice}`;
        const recommendations = renderer.mentions(template, 'recommendations') ? await recommendationsFor(store, profile.customerId, event) : [];
        const email = await renderer.render(template, { profile, event, unsubscribeUrl: PREVIEW_UNSUBSCRIBE_URL, recommendations }).catch((err: unknown) => {
          throw whenEventLacking(err, `${journeyId}/${stepId}`, source, event);
        });
        out(`${journeyId} / ${stepId} for ${profile.customerId} <${profile.email}>`);
        out(`event:     ${source === 'given' ? `${event.type} from --event` : source === 'recorded' ? `${event.type} ${event.id} of ${event.occurredAt}, the latest recorded` : `none (no ${event.type} recorded)`}`);
        out(`template:  ${decision.choice}  (chosen by ${decision.chosenBy})`);
        printTrace(decision.trace, out);
        out(`subject:   ${email.subject}`);
        out(`preheader: ${email.preheader ?? '-'}`);
        out('');
        out(email.text);
        if (opts.html) {
          out('');
          out(email.html);
        }
      } finally {
        await close();
      }
    });
}

/** Where the entry event of a preview came from: --event, the customer's history, or nowhere. */
type EventSource = 'given' | 'recorded' | 'none';

/** The customer's latest event that would have started the journey. */
async function latestEntryEvent(store: Store, definition: JourneyDefinition, customerId: string): Promise<CustomerEvent | undefined> {
  const { trigger } = definition;
  return (await store.eventsOf(customerId)).filter((e) => e.type === trigger.event && eventMatches(e, trigger.where, e.occurredAt)).at(-1);
}

/**
 * A render that stopped on an entry-event variable becomes an error saying which event to
 * pass (exit code 1), rather than Liquid's "undefined variable"; other errors pass unchanged.
 */
function whenEventLacking(err: unknown, step: string, source: EventSource, event: CustomerEvent): unknown {
  const variable = err instanceof TemplateError ? err.undefinedVariable : undefined;
  if (!variable?.startsWith('event.')) return err;
  const property = /^event\.properties\.([^.[]+)/.exec(variable)?.[1];
  const lacking = {
    given: 'the --event you passed lacks it',
    recorded: `the customer's latest ${event.type} event (${event.id}) lacks it`,
    none: `this customer has no ${event.type} event`,
  }[source];
  return new Error(`${step} reads ${variable}: ${lacking}; pass one with --event '{${property ? `"${property}": …` : '…'}}'`);
}

function parseProperties(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new UsageError(`--event is not valid JSON (${(err as Error).message}); give the entry event's properties, e.g. --event '{"cartId":"c1"}'`);
  }
}

function printTrace(trace: RuleTrace[], out: (line?: string) => void, depth = 1): void {
  for (const t of trace) {
    out(`${'  '.repeat(depth)}${t.matched ? '✓' : '✗'} ${t.rule}${t.because ? ` (${t.because})` : ''}`);
    if (t.children) printTrace(t.children, out, depth + 1);
  }
}
