// HTML for the dashboard, escaped by construction: `html` escapes every value it is given
// unless the value is itself `html`, so a customer id, a consent source or a template name
// can never become markup.
import type { FastifyReply } from 'fastify';

/** Markup that is already safe: made by `html` or `jsonScript`, never from a raw string. */
export class SafeHtml {
  constructor(readonly markup: string) {}
  toString(): string {
    return this.markup;
  }
}

const ENTITIES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };

export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => ENTITIES[c]);
}

function render(value: unknown): string {
  if (value instanceof SafeHtml) return value.markup;
  if (Array.isArray(value)) return value.map(render).join('');
  if (value === undefined || value === null || value === false) return '';
  return escapeHtml(String(value));
}

/** A template tag: literal parts stay, values are escaped (arrays joined, null/undefined/false dropped). */
export function html(strings: TemplateStringsArray, ...values: unknown[]): SafeHtml {
  let markup = strings[0];
  values.forEach((value, i) => {
    markup += render(value) + strings[i + 1];
  });
  return new SafeHtml(markup);
}

/**
 * Data for the page's script, in a script element the browser never runs (its type is not
 * JavaScript), so the strict CSP allows it. "<" is escaped so "</script>" in a value cannot
 * end the element; U+2028/9 so older parsers read the JSON as JSON.
 */
export function jsonScript(id: string, data: unknown): SafeHtml {
  const json = JSON.stringify(data).replace(/</g, '\\u003c').replace(/>/g, '\\u003e').replace(/&/g, '\\u0026').replace(/\u2028/g, '\\u2028').replace(/\u2029/g, '\\u2029');
  return new SafeHtml(`<script type="application/json" id="${escapeHtml(id)}">${json}</script>`);
}

/**
 * Scripts only from this listener; no inline script, no eval. Styles allow inline because
 * Mermaid writes a <style> element into every SVG it draws and sets style attributes.
 */
export const CONTENT_SECURITY_POLICY = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self' 'unsafe-inline'",
  "img-src 'self' data:",
  "font-src 'self'",
  "connect-src 'self'",
  "form-action 'self'",
  "base-uri 'none'",
  "frame-ancestors 'none'",
].join('; ');

export type PageScript = 'charts' | 'graph';

export interface PageOptions {
  title: string;
  body: SafeHtml;
  /** What the page draws: charts load Chart.js, graph loads Mermaid. */
  scripts?: PageScript[];
  /** False on the login page: there is nobody to navigate for yet. */
  nav?: boolean;
}

const SCRIPT_FILES: Record<PageScript, string[]> = {
  charts: ['chart.umd.min.js'],
  graph: ['mermaid.min.js'],
};

export function page({ title, body, scripts = [], nav = true }: PageOptions): string {
  const files = [...new Set(scripts.flatMap((s) => SCRIPT_FILES[s])), ...(scripts.length ? ['dashboard.js'] : [])];
  const doc = html`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${title} · journeys</title>
<link rel="icon" href="data:,">
<link rel="stylesheet" href="/dashboard/assets/dashboard.css">
${files.map((file) => html`<script defer src="/dashboard/assets/${file}"></script>\n`)}</head>
<body>
${nav ? html`<header><a class="brand" href="/dashboard">journeys</a><form method="get" action="/dashboard/customers"><label>Customer <input name="customerId" placeholder="c-ada" required></label> <button>Audit</button></form></header>` : ''}
<main>
<h1>${title}</h1>
${body}
</main>
</body>
</html>
`;
  return doc.markup;
}

export function sendPage(reply: FastifyReply, markup: string, status = 200) {
  return reply.code(status).type('text/html; charset=utf-8').send(markup);
}

/** A page saying what was wrong with the request, naming the field. */
export function problemPage(reply: FastifyReply, status: 400 | 404, title: string, message: string) {
  return sendPage(reply, page({ title, body: html`<p class="problem">${message}</p><p><a href="/dashboard">All journeys</a></p>` }), status);
}

