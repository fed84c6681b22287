// A signed webhook's payload into journeys: mapped to our event by its declared mapping
// (journeys/webhooks.ts), then ingested as any event is. Problems name the payload's paths, so
// whoever reads the answer can find them in what their platform sent.
import { mapWebhookPayload, type WebhookMapping } from '../../domain/sources/webhookMapping';
import { ValidationError, type Problem } from '../errors';
import type { IngestResult, JourneyClient } from '../journeyClient';

/** Maps the payload and ingests the event; a payload the mapping cannot map, or whose event is invalid, is a ValidationError by payload path. */
export async function ingestWebhook(journeys: JourneyClient, mapping: WebhookMapping, payload: unknown): Promise<IngestResult> {
  const what = `payload of webhook ${mapping.name}`;
  const mapped = mapWebhookPayload(mapping, payload);
  if ('problems' in mapped) throw new ValidationError(what, mapped.problems);
  try {
    return await journeys.ingest(mapped.event);
  } catch (err) {
    if (err instanceof ValidationError) throw new ValidationError(what, err.problems.map((problem) => inPayload(problem, mapped.sources)));
    throw err;
  }
}

/**
 * A problem ingest found in the mapped event, moved to where its value came from in the payload:
 * `customerId` to `$.customer.id`, `properties.items.0.price` to `$.line_items[0].price`. A field
 * the mapping gave a constant, or left out, keeps the event's path.
 */
function inPayload(problem: Problem, sources: Map<string, string>): Problem {
  const field = [...sources.keys()].filter((key) => problem.path === key || problem.path.startsWith(`${key}.`)).sort((a, b) => b.length - a.length)[0];
  if (field === undefined) return { path: problem.path, message: `${problem.path || '(event)'}: ${problem.message}` };
  const rest = problem.path
    .slice(field.length)
    .split('.')
    .filter(Boolean)
    .map((part) => (/^\d+$/.test(part) ? `[${part}]` : `.${part}`))
    .join('');
  return { path: `${sources.get(field)}${rest}`, message: `${problem.path}: ${problem.message}` };
}
