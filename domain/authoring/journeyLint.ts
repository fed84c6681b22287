import { journeySchema } from '../journey/schema';
import type { JourneyDefinition } from '../journey/types';
import { nextStepId, stepTargets } from '../journey/flow';
import { lintRuleSet, type RuleProblem } from '../rules/lint';
import { lintTemplates, type LintProblem } from './templateLint';

export type { LintProblem };

export interface LintableCatalogue {
  /** Definitions as authored (not yet validated), so a missing fallback is reported, not thrown. */
  definitions: unknown[];
  /** Template sources keyed "journeyId/name", "_layouts/name", "_partials/name". */
  templates: Record<string, string>;
}

/**
 * Profile and event attributes are open (customers and events carry whatever integrations
 * send), so only `rfm.*` scores are checked, by `lintRuleSet`.
 */
const KNOWN_ATTRIBUTES = ['profile.attributes.*', 'event.properties.*'];

/**
 * Everything a journey author can get wrong before a customer sees it: schema errors, rule
 * sets with shadowed rules or no fallback (send templates and branch rules), steps never
 * reached from the first step, templates a send names that do not exist, and problems in the
 * templates the journeys use (with every layout and partial).
 */
export function lintCatalogue({ definitions, templates }: LintableCatalogue): LintProblem[] {
  const problems: LintProblem[] = [];
  const used = new Set<string>();
  const ids = new Set<string>();
  definitions.forEach((input, index) => {
    const raw = (input ?? {}) as { id?: unknown; steps?: unknown };
    const id = typeof raw.id === 'string' ? raw.id : `journeys[${index}]`;
    if (ids.has(id)) problems.push({ severity: 'error', where: id, message: `two journeys have the id "${id}"` });
    ids.add(id);
    const ruleSetPaths = lintRawRuleSets(id, raw.steps, problems);
    const parsed = journeySchema.safeParse(input);
    if (!parsed.success) {
      for (const issue of parsed.error.issues) {
        const path = issue.path.map(String).join('.');
        // Rule sets were linted above, with messages that say how to fix them.
        if (ruleSetPaths.some((prefix) => path === prefix || path.startsWith(`${prefix}.`))) continue;
        problems.push({ severity: 'error', where: `${id} ${path || '(root)'}`, message: issue.message });
      }
      return;
    }
    problems.push(...unreachableSteps(parsed.data));
    const { conversion, trigger } = parsed.data;
    if (conversion?.event === trigger.event) {
      problems.push({ severity: 'warning', where: `${id} conversion.event`, message: `"${conversion.event}" also starts the journey: every entrant would count as converted; name the event that follows the emails (e.g. "order.completed")` });
    }
    for (const [index, step] of parsed.data.steps.entries()) {
      if (step.kind !== 'send') continue;
      for (const name of new Set([...step.template.rules.map((r) => r.use), step.template.fallback])) {
        const key = `${id}/${name}`;
        if (key in templates) used.add(key);
        else problems.push({ severity: 'error', where: `${id} steps.${index}.template`, message: `step "${step.id}" names template "${name}", but ${key}.liquid does not exist` });
      }
    }
  });
  const shared = Object.keys(templates).filter((name) => name.startsWith('_'));
  problems.push(...lintTemplates(templates, [...used, ...shared]));
  return problems;
}

/** Lints send-template rule sets and branch rules as written; returns the paths it covered. */
function lintRawRuleSets(id: string, steps: unknown, problems: LintProblem[]): string[] {
  if (!Array.isArray(steps)) return [];
  const covered: string[] = [];
  const report = (at: string, found: RuleProblem[], rename: (segment: string | number) => string | number = (s) => s) => {
    for (const p of found) problems.push({ severity: p.severity, where: `${id} ${[at, ...p.path.map(rename)].join('.')}`, message: p.message });
  };
  steps.forEach((step: unknown, index) => {
    if (step === null || typeof step !== 'object') return;
    const s = step as { kind?: unknown; template?: unknown; rules?: unknown; otherwise?: unknown };
    if (s.kind === 'send') {
      covered.push(`steps.${index}.template`);
      report(`steps.${index}.template`, lintRuleSet(s.template, KNOWN_ATTRIBUTES));
    } else if (s.kind === 'branch' && Array.isArray(s.rules)) {
      // A branch is a rule set whose choices are steps: its `otherwise` is the fallback.
      const asRuleSet = { rules: s.rules.map((r: { name?: unknown; when?: unknown; next?: unknown }) => ({ name: r?.name, when: r?.when, use: r?.next })), fallback: s.otherwise };
      const found = lintRuleSet(asRuleSet, KNOWN_ATTRIBUTES).filter((p) => p.path[0] !== 'fallback' || s.otherwise === undefined);
      report(`steps.${index}`, found, (segment) => (segment === 'fallback' ? 'otherwise' : segment === 'use' ? 'next' : segment));
    }
  });
  return covered;
}

function unreachableSteps(journey: JourneyDefinition): LintProblem[] {
  const byId = new Map(journey.steps.map((step) => [step.id, step]));
  const reached = new Set<string>();
  const queue = [journey.steps[0].id];
  while (queue.length) {
    const id = queue.shift() as string;
    if (reached.has(id)) continue;
    reached.add(id);
    const step = byId.get(id);
    if (!step) continue;
    const targets = stepTargets(step).map((t) => t.target);
    // A wait, send or tag without `next` goes on to the step listed after it.
    if ((step.kind === 'wait' || step.kind === 'send' || step.kind === 'tag') && step.next === undefined) {
      const next = nextStepId(journey, step);
      if (next) targets.push(next);
    }
    queue.push(...targets);
  }
  return journey.steps.flatMap((step, index) =>
    reached.has(step.id)
      ? []
      : [{ severity: 'error' as const, where: `${journey.id} steps.${index}`, message: `step "${step.id}" is never reached from the first step "${journey.steps[0].id}": point a next, onEvent, onTimeout, branch or split at it, or remove it` }],
  );
}
