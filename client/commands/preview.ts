import type { Command } from 'commander';
import { decideOnFacts } from '../../activities/facts';
import { eventSchema } from '../../domain/customer';
import { createTemplateRenderer } from '../../domain/templates';
import type { RuleTrace } from '../../domain/rules';
import { loadCatalogue, type Catalogue } from '../../journeys';
import type { Store } from '../../store/types';
import { parseInput } from '../errors';
import { UsageError } from '../usageError';
import { findJourney } from './simulation';

/** Stands in for the signed link a real send carries: a preview must not mint working opt-out tokens. */
export const PREVIEW_UNSUBSCRIBE_URL = 'https://journeys.invalid/u/preview';

interface PreviewDeps {
  openStore(): Promise<{ store: Store; close(): Promise<void> }>;
}

/**
 * `journeys preview`: renders the email one send step would give a customer now, with the
 * rule that chose it. Reads the store, never Temporal; the template is decided by
 * `decideOnFacts`, the same code the send step runs, so preview and send cannot disagree.
 */
export function registerPreview(program: Command, deps: PreviewDeps, out: (line?: string) => void, catalogue: () => Catalogue = () => loadCatalogue()): void {
  program
    .command('preview <journeyId> <stepId>')
    .description("render the email a send step would give a customer now, and which rule chose it (reads the store, not Temporal)")
    .requiredOption('--customer <id>', 'the customer whose profile and events the rules read')
    .option('--event <json>', "the entry event's properties, e.g. a cart: '{\"cartId\":\"c1\",\"total\":80}'", '{}')
    .option('--html', 'print the HTML part too')
    .action(async (journeyId: string, stepId: string, opts: { customer: string; event: string; html?: boolean }) => {
      const loaded = catalogue();
      const { definition } = findJourney(loaded, journeyId);
      const sendSteps = definition.steps.filter((s) => s.kind === 'send');
      const step = definition.steps.find((s) => s.id === stepId);
      if (!step || step.kind !== 'send') {
        const what = step ? `step "${stepId}" of ${journeyId} is a ${step.kind} step, not a send` : `${journeyId} has no step "${stepId}"`;
        throw new UsageError(`${what}: its send steps are ${sendSteps.map((s) => s.id).join(', ') || '(none)'}`);
      }
      const properties = parseProperties(opts.event);
      const now = new Date().toISOString();
      const event = parseInput(eventSchema, { id: 'preview', type: definition.trigger.event, customerId: opts.customer, occurredAt: now, properties }, 'event');

      const { store, close } = await deps.openStore();
      try {
        const profile = await store.getProfile(opts.customer);
        if (!profile) throw new UsageError(`no profile for customer "${opts.customer}": import one with \`journeys profiles import\``);
        const fullEvent = { ...event, occurredAt: now };
        const decision = await decideOnFacts(store, step.template, { now, customerId: profile.customerId, profile, event: fullEvent }, `preview ${stepId}`);
        const email = await createTemplateRenderer(loaded.templates).render(`${journeyId}/${decision.choice}`, {
          profile,
          event: fullEvent,
          unsubscribeUrl: PREVIEW_UNSUBSCRIBE_URL,
        });
        out(`${journeyId} / ${stepId} for ${profile.customerId} <${profile.email}>`);
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
