// A customer's page: their story in time order (the same audit a GDPR access request
// returns), their journey runs as Temporal sees them and the segments they are in.
import type { FastifyReply } from 'fastify';
import type { JourneyClient } from '../../app/journeyClient';
import { customerId as customerIdSchema } from '../../domain/customer/schema';
import { html, page, problemPage, sendPage } from './html';

const when = (iso: string | undefined) => (iso ? iso.replace('T', ' ').replace(/\.\d+Z$/, 'Z') : '');

export async function customerPage(reply: FastifyReply, journeys: JourneyClient, customerId: string) {
  const parsed = customerIdSchema.safeParse(customerId);
  if (!parsed.success) {
    return problemPage(reply, 400, 'Not a customer id', `customerId "${customerId}": ${parsed.error.issues[0].message}`);
  }
  // Runs come live from Temporal's visibility; without it the page still shows what the store holds.
  const [audit, runs, segments] = await Promise.all([
    journeys.audit(customerId),
    journeys.runsOf(customerId).catch((err: Error) => err),
    journeys.segmentsOf(customerId),
  ]);
  const journeyLink = (journeyId: string) => html`<a href="/dashboard/journeys/${encodeURIComponent(journeyId)}">${journeyId}</a>`;
  const body = html`
<section>
<h2>Journey runs</h2>
${runs instanceof Error
  ? html`<p class="problem">Temporal did not list the runs: ${runs.message}. The audit below has each journey entered.</p>`
  : runs.length
  ? html`<div class="scroll"><table><thead><tr><th>journey</th><th>status</th><th>current step</th><th>next wake-up</th><th>started</th><th>closed</th><th>workflow id</th></tr></thead><tbody>
${runs.map((run) => html`<tr><td>${journeyLink(run.journeyId)}</td><td>${run.status}</td><td>${run.currentStep}</td><td>${when(run.nextWakeAt)}</td><td>${when(run.startedAt)}</td><td>${when(run.closedAt)}</td><td>${run.workflowId}</td></tr>\n`)}
</tbody></table></div>`
  : html`<p class="muted">No journey runs.</p>`}
</section>
<section>
<h2>Segments</h2>
${segments.length
  ? html`<table><thead><tr><th>segment</th><th>id</th><th>entered</th></tr></thead><tbody>
${segments.map((s) => html`<tr><td>${s.name}</td><td>${s.segmentId}</td><td>${when(s.enteredAt)}</td></tr>\n`)}
</tbody></table>`
  : html`<p class="muted">In no segment.</p>`}
</section>
<section>
<h2>Audit</h2>
${audit.length
  ? html`<div class="scroll"><table class="audit"><thead><tr><th>when</th><th>kind</th><th>what</th><th>cause</th></tr></thead><tbody>
${audit.map((entry) => html`<tr><td>${when(entry.at)}</td><td>${entry.kind}</td><td>${entry.what}</td><td>${entry.cause}</td></tr>\n`)}
</tbody></table></div>`
  : html`<p class="muted">Nothing recorded for this customer.</p>`}
</section>`;
  return sendPage(reply, page({ title: `Customer ${customerId}`, body }));
}
