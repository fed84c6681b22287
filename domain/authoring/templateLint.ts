import type { Liquid, Variable } from 'liquidjs';
import { createLiquid, splitFrontMatter } from '../delivery/templates';

export interface LintProblem {
  severity: 'error' | 'warning';
  /** A template ("cartAbandonment/reminder1 line 3") or a journey path ("cartAbandonment steps.2.template"). */
  where: string;
  message: string;
}

/**
 * What a send passes to every template (activities/sendStep.ts), with the fields each root
 * has: `profile.attributes.*` and `event.properties.*` are open, as customers and events
 * carry whatever the integrations send. An empty list means "no fields to check".
 */
const RENDER_DATA: Record<string, string[]> = {
  profile: ['customerId', 'email', 'attributes'],
  event: ['id', 'type', 'customerId', 'occurredAt', 'properties'],
  unsubscribeUrl: [],
  recommendations: [],
};
/** The body (and its layout) also gets the rendered subject and preheader. */
const BODY_DATA: Record<string, string[]> = { ...RENDER_DATA, subject: [], preheader: [] };

const REFERENCE = /\{%-?\s*(render|include|layout)\s+["']([^"']+)["']/g;
const CONDITION_TAGS = new Set(['if', 'elsif', 'unless']);

/**
 * Lints templates as LiquidJS parses them: a variable that the render data does not have is
 * an error (strict rendering would fail the send), unless `default` is its first filter; in an
 * `if` it is a warning, as the condition is then silently false. Also: a missing subject in
 * an email's front matter and a layout or partial that does not exist. Each file is checked on
 * its own; partials are assumed to get `profile` and `event` passed as the shipped ones do.
 */
export function lintTemplates(sources: Record<string, string>, names: string[] = Object.keys(sources)): LintProblem[] {
  const bodies = Object.fromEntries(Object.entries(sources).map(([name, source]) => [name, splitFrontMatter(source).body]));
  const liquid = createLiquid(bodies);
  return names.flatMap((name) => lintTemplate(liquid, name, sources[name], sources));
}

function lintTemplate(liquid: Liquid, name: string, source: string, sources: Record<string, string>): LintProblem[] {
  const problems: LintProblem[] = [];
  const { fields, body, bodyLine } = splitFrontMatter(source);
  const at = (line: number) => `${name} line ${line + bodyLine - 1}`;
  const isEmail = !name.startsWith('_');
  if (isEmail && !fields.subject) {
    problems.push({ severity: 'error', where: name, message: 'no subject: add "subject: …" to the front matter between --- lines' });
  }
  for (const match of body.matchAll(REFERENCE)) {
    const [, tag, target] = match;
    if (!(target in sources)) {
      const line = body.slice(0, match.index).split('\n').length;
      problems.push({ severity: 'error', where: at(line), message: `${tag} "${target}" does not exist (no ${target}.liquid)` });
    }
  }
  const parts: { label: string; text: string; known: Record<string, string[]>; where: (line: number) => string }[] = [
    { label: 'body', text: body, known: BODY_DATA, where: at },
    ...(isEmail
      ? (['subject', 'preheader'] as const)
          .filter((field) => fields[field])
          .map((field) => ({ label: field, text: fields[field], known: RENDER_DATA, where: () => `${name} ${field}` }))
      : []),
  ];
  for (const part of parts) {
    let globals: Record<string, Variable[]>;
    try {
      globals = liquid.analyzeSync(liquid.parse(part.text, name), { partials: false }).globals;
    } catch (err) {
      problems.push({ severity: 'error', where: part.where(1), message: `cannot parse the ${part.label}: ${(err as Error).message.split('\n')[0]}` });
      continue;
    }
    for (const variable of Object.values(globals).flat()) {
      if (isKnown(variable, part.known)) continue;
      const { row, col } = variable.location;
      const use = usageAt(part.text, row, col);
      if (use === 'defaulted') continue;
      const where = part.where(row);
      if (use === 'condition') {
        problems.push({ severity: 'warning', where, message: `unknown variable ${variable.toString()} in a condition: it is never true` });
      } else {
        problems.push({ severity: 'error', where, message: `unknown variable ${variable.toString()}: sends would fail; use profile.attributes.*, event.properties.* or add | default: "…"` });
      }
    }
  }
  return problems;
}

function isKnown(variable: Variable, known: Record<string, string[]>): boolean {
  const [root, field] = variable.segments;
  if (typeof root !== 'string' || !Object.hasOwn(known, root)) return false;
  const fields = known[root];
  return fields.length === 0 || typeof field !== 'string' || fields.includes(field);
}

/**
 * How the variable at row/col (1-based) is used: as the value of an output whose first filter
 * is `default` (lenient at render time), in an if/elsif/unless condition (lenientIf), or else.
 */
function usageAt(text: string, row: number, col: number): 'defaulted' | 'condition' | 'strict' {
  const lines = text.split('\n');
  const offset = lines.slice(0, row - 1).reduce((sum, line) => sum + line.length + 1, 0) + col - 1;
  const before = text.slice(0, offset);
  const open = Math.max(before.lastIndexOf('{{'), before.lastIndexOf('{%'));
  if (open === -1) return 'strict';
  if (text.startsWith('{%', open)) {
    const tag = /^\{%-?\s*(\w+)/.exec(text.slice(open))?.[1] ?? '';
    return CONDITION_TAGS.has(tag) ? 'condition' : 'strict';
  }
  const end = text.indexOf('}}', open);
  const output = text.slice(open + 2, end === -1 ? undefined : end).replace(/^-/, '');
  const leading = before.slice(open + 2).replace(/^-/, '');
  return leading.trim() === '' && /^[^|]*\|\s*default\b/.test(output) ? 'defaulted' : 'strict';
}
