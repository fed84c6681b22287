import { convert } from 'html-to-text';
import { Liquid } from 'liquidjs';

export interface RenderedEmail {
  subject: string;
  preheader?: string;
  html: string;
  text: string;
}

export class TemplateError extends Error {}

const FRONT_MATTER = /^---\r?\n([\s\S]*?)\r?\n---\r?\n?/;

/** Splits `---\nsubject: …\npreheader: …\n---` from the body; values are Liquid too. */
export function splitFrontMatter(source: string): { fields: Record<string, string>; body: string } {
  const match = FRONT_MATTER.exec(source);
  if (!match) return { fields: {}, body: source };
  const fields: Record<string, string> = {};
  for (const line of match[1].split(/\r?\n/)) {
    const at = line.indexOf(':');
    if (at > 0) fields[line.slice(0, at).trim()] = line.slice(at + 1).trim().replace(/^"(.*)"$/, '$1');
  }
  return { fields, body: source.slice(match[0].length) };
}

/**
 * Renders email templates from in-memory sources keyed like "cartAbandonment/reminder1",
 * "_layouts/email", "_partials/cartItems". Escaping is on, and an unknown variable is an
 * error rather than an empty string in a customer's inbox; `default` still works for
 * values that may be missing (e.g. a first name).
 */
export function createTemplateRenderer(sources: Record<string, string>) {
  const bodies: Record<string, string> = {};
  const frontMatter: Record<string, Record<string, string>> = {};
  for (const [name, source] of Object.entries(sources)) {
    const { fields, body } = splitFrontMatter(source);
    bodies[name] = body;
    frontMatter[name] = fields;
  }
  const liquid = new Liquid({
    templates: bodies,
    outputEscape: 'escape',
    strictVariables: true,
    lenientIf: true,
    ownPropertyOnly: true,
  });

  return {
    has: (name: string) => name in bodies,
    async render(name: string, data: Record<string, unknown>): Promise<RenderedEmail> {
      if (!(name in bodies)) throw new TemplateError(`no template "${name}"`);
      const subjectSource = frontMatter[name].subject;
      if (!subjectSource) throw new TemplateError(`template "${name}" has no subject in its front matter`);
      try {
        const html = await liquid.renderFile(name, data);
        const subject = (await liquid.parseAndRender(subjectSource, data)).trim();
        const preheaderSource = frontMatter[name].preheader;
        const preheader = preheaderSource ? (await liquid.parseAndRender(preheaderSource, data)).trim() : undefined;
        const text = convert(html, { wordwrap: 78, selectors: [{ selector: 'a', options: { hideLinkHrefIfSameAsText: true } }] });
        return { subject, preheader, html, text };
      } catch (err) {
        throw new TemplateError(`template "${name}": ${(err as Error).message}`);
      }
    },
  };
}
export type TemplateRenderer = ReturnType<typeof createTemplateRenderer>;
