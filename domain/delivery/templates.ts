import { convert, type HtmlToTextOptions } from 'html-to-text';
import { Liquid } from 'liquidjs';

export interface RenderedEmail {
  subject: string;
  preheader?: string;
  html: string;
  text: string;
}

export class TemplateError extends Error {
  constructor(
    message: string,
    /** The variable whose absence stopped the render, e.g. "event.properties.items". */
    readonly undefinedVariable?: string,
  ) {
    super(message);
  }
}

const FRONT_MATTER = /^---\r?\n([\s\S]*?)\r?\n---\r?\n?/;

/** Splits `---\nsubject: …\npreheader: …\n---` from the body; values are Liquid too. */
export function splitFrontMatter(source: string): { fields: Record<string, string>; body: string; bodyLine: number } {
  const match = FRONT_MATTER.exec(source);
  if (!match) return { fields: {}, body: source, bodyLine: 1 };
  const fields: Record<string, string> = {};
  for (const line of match[1].split(/\r?\n/)) {
    const at = line.indexOf(':');
    if (at > 0) fields[line.slice(0, at).trim()] = line.slice(at + 1).trim().replace(/^"(.*)"$/, '$1');
  }
  // Line numbers in the body count from its own start; `bodyLine` maps them back to the file.
  return { fields, body: source.slice(match[0].length), bodyLine: match[0].split('\n').length };
}

/**
 * `safe_url`: only http(s) and mailto links reach an href. A `javascript:` or `data:` URL
 * from a profile or an event (values customers or integrations control) becomes "#", which
 * escaping alone would not prevent: `javascript:alert(1)` has nothing to escape.
 */
export function safeUrl(value: unknown): string {
  const url = String(value ?? '').trim();
  return /^(https?:\/\/|mailto:)/i.test(url) ? url : '#';
}

/**
 * The one Liquid set-up both rendering and lint use, so lint sees what a send sees. HTML
 * output escapes every value; text output (subject, preheader) leaves it as written, and the
 * layout escapes it where it enters the HTML.
 */
export function createLiquid(bodies: Record<string, string>, output: 'html' | 'text' = 'html'): Liquid {
  const liquid = new Liquid({
    templates: bodies,
    outputEscape: output === 'html' ? 'escape' : undefined,
    strictVariables: true,
    lenientIf: true,
    ownPropertyOnly: true,
  });
  liquid.registerFilter('safe_url', safeUrl);
  return liquid;
}

/**
 * The text part: links once as "text [url]" (a link whose text is its URL only once), no
 * hidden preheader, tables read as lines rather than ASCII grids.
 */
const textOptions: HtmlToTextOptions = {
  wordwrap: 78,
  selectors: [
    { selector: 'a', options: { hideLinkHrefIfSameAsText: true, linkBrackets: ['[', ']'] } },
    { selector: '.preheader', format: 'skip' },
    { selector: 'table', format: 'dataTable', options: { uppercaseHeaderCells: false, colSpacing: 2 } },
    { selector: 'img', format: 'skip' },
  ],
};

export function htmlToText(html: string): string {
  return convert(html, textOptions).replace(/\n{3,}/g, '\n\n').trim();
}

/**
 * Renders email templates from in-memory sources keyed like "cartAbandonment/reminder1",
 * "_layouts/email", "_partials/cartItems". The body is escaped HTML, and an unknown variable
 * is an error rather than an empty string in a customer's inbox; `default` (as the first
 * filter) still works for values that may be missing (e.g. a first name). Subject and
 * preheader are plain text, as a mail client shows them (O'Brien, not O&#39;Brien), and are
 * passed to the body as `subject` and `preheader` for the layout, which escapes them there.
 */
export function createTemplateRenderer(sources: Record<string, string>) {
  const bodies: Record<string, string> = {};
  const frontMatter: Record<string, Record<string, string>> = {};
  for (const [name, source] of Object.entries(sources)) {
    const { fields, body } = splitFrontMatter(source);
    bodies[name] = body;
    frontMatter[name] = fields;
  }
  const html = createLiquid(bodies);
  const text = createLiquid({}, 'text');

  return {
    has: (name: string) => name in bodies,
    /** Whether a template's own body names a variable, so costly data is loaded only for templates that show it. */
    mentions: (name: string, variable: string) => new RegExp(`\\b${variable}\\b`).test(bodies[name] ?? ''),
    async render(name: string, data: Record<string, unknown>): Promise<RenderedEmail> {
      if (!(name in bodies)) throw new TemplateError(`no template "${name}"`);
      const subjectSource = frontMatter[name].subject;
      if (!subjectSource) throw new TemplateError(`template "${name}" has no subject in its front matter`);
      try {
        const subject = (await text.parseAndRender(subjectSource, data)).trim();
        const preheaderSource = frontMatter[name].preheader;
        const preheader = preheaderSource ? (await text.parseAndRender(preheaderSource, data)).trim() : undefined;
        const body = await html.renderFile(name, { ...data, subject, preheader: preheader ?? '' });
        return { subject, preheader, html: body, text: htmlToText(body) };
      } catch (err) {
        throw new TemplateError(`template "${name}": ${(err as Error).message}`, undefinedVariableOf(err));
      }
    },
  };
}
export type TemplateRenderer = ReturnType<typeof createTemplateRenderer>;

/** LiquidJS keeps the name of a variable strict rendering found undefined on the error it wraps. */
function undefinedVariableOf(err: unknown): string | undefined {
  for (let cause = err; cause instanceof Error; cause = (cause as { originalError?: unknown }).originalError) {
    const name = (cause as { variableName?: unknown }).variableName;
    if (typeof name === 'string') return name;
  }
  return undefined;
}
