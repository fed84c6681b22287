import { describeRule } from '../rules/evaluate';
import type { JourneyDefinition, Step, StepOf, WaitStep } from '../journey/types';
import { nextStepId } from '../journey/flow';

export const graphFormats = ['mermaid', 'dot'] as const;
export type GraphFormat = (typeof graphFormats)[number];

/**
 * A journey drawn for its authors: every step with its kind and what it does (waits with
 * their duration or target, sends with their template decision tree, branches with their
 * rules), every edge the interpreter can take, and the goals that end it from anywhere.
 */
export function journeyGraph(definition: JourneyDefinition, format: GraphFormat): string {
  const graph = describeJourney(definition);
  return format === 'mermaid' ? toMermaid(graph) : toDot(graph);
}

type Shape = 'start' | 'box' | 'send' | 'decision' | 'exit' | 'note';
interface Node {
  id: string;
  shape: Shape;
  /** Lines of text; the first names the node. */
  lines: string[];
}
interface Edge {
  from: string;
  to: string;
  label?: string;
}
interface Graph {
  title: string;
  nodes: Node[];
  edges: Edge[];
}

// Step ids are camelCase, so ids with "_" can never collide with a step.
const TRIGGER = '_trigger';
const GOALS = '_goals';

function describeJourney(definition: JourneyDefinition): Graph {
  const { trigger, reentry } = definition;
  const nodes: Node[] = [];
  const edges: Edge[] = [];
  const entry = [
    trigger.entryKey ? `one run per ${trigger.entryKey}` : 'one run per customer',
    `reentry ${typeof reentry === 'string' ? reentry : `after ${reentry.afterCooldown} cooldown`}`,
    definition.transactional ? `topic ${definition.topic} (transactional)` : `topic ${definition.topic}`,
  ];
  nodes.push({ id: TRIGGER, shape: 'start', lines: [`trigger: ${trigger.event}`, entry.join(' · ')] });
  edges.push({ from: TRIGGER, to: definition.steps[0].id });
  for (const step of definition.steps) {
    const drawn = describeStep(definition, step);
    nodes.push(...drawn.nodes);
    edges.push(...drawn.edges);
  }
  if (definition.goals.length) {
    const matched = trigger.entryKey ? ` (same ${trigger.entryKey})` : '';
    nodes.push({ id: GOALS, shape: 'note', lines: ['goals: end the journey from any step', ...definition.goals.map((g) => `${g.event}${matched}`)] });
  }
  return { title: `${definition.name} (${definition.id})`, nodes, edges };
}

function describeStep(definition: JourneyDefinition, step: Step): { nodes: Node[]; edges: Edge[] } {
  const title = `${step.kind}: ${step.id}`;
  switch (step.kind) {
    case 'wait':
      return linear(definition, step, { id: step.id, shape: 'box', lines: [title, waitTarget(step, definition.defaultTimezone)] });
    case 'send': {
      const { rules, fallback } = step.template;
      const tree = [...rules.map((rule) => `${rule.name} (${describeRule(rule.when)}) → ${rule.use}`), `${rules.length ? 'fallback' : 'template'} → ${fallback}`];
      const capped = step.whenCapped === 'skip' ? ['when capped: skip'] : [];
      return linear(definition, step, { id: step.id, shape: 'send', lines: [title, ...tree, ...capped] });
    }
    case 'waitFor':
      return {
        nodes: [{ id: step.id, shape: 'decision', lines: [title, waitForTarget(step), `timeout ${step.timeout}`] }],
        edges: [
          { from: step.id, to: step.onEvent, label: step.event },
          { from: step.id, to: step.onTimeout, label: `timeout ${step.timeout}` },
        ],
      };
    case 'branch':
      return {
        nodes: [{ id: step.id, shape: 'decision', lines: [title, ...step.rules.map((rule) => `${rule.name}: ${describeRule(rule.when)}`)] }],
        edges: [...step.rules.map((rule) => ({ from: step.id, to: rule.next, label: rule.name })), { from: step.id, to: step.otherwise, label: 'otherwise' }],
      };
    case 'split':
      return split(step);
    case 'tag':
      return linear(definition, step, { id: step.id, shape: 'box', lines: [title, `set ${step.attribute} = ${JSON.stringify(step.value)}`] });
    case 'exit':
      return { nodes: [{ id: step.id, shape: 'exit', lines: [title] }], edges: [] };
  }
}

/** A wait, send or tag: one edge to its `next`, or to the step after it in the list. */
function linear(definition: JourneyDefinition, step: Step & { next?: string }, node: Node) {
  const next = nextStepId(definition, step);
  return { nodes: [node], edges: next === undefined ? [] : [{ from: step.id, to: next }] };
}

function waitTarget(step: WaitStep, defaultTimezone: string): string {
  if (step.duration !== undefined) return step.duration;
  if (step.until !== undefined) {
    const { attribute, offset, yearly } = step.until;
    return `until ${yearly ? 'next anniversary of ' : ''}${attribute}${offset ? ` ${offset}` : ''}`;
  }
  const at = step.at!;
  const days = at.weekdays ? ` on ${at.weekdays.join(', ')}` : '';
  const quiet = at.quietHours ? `, not ${at.quietHours.start}–${at.quietHours.end}` : '';
  return `at ${at.localTime} local${days}${quiet} (else ${defaultTimezone})`;
}

function waitForTarget(step: StepOf<'waitFor'>): string {
  const where = step.where ? ` where ${step.where.map(describeRule).join(' and ')}` : '';
  return `${step.event}${where}${step.matchEntryKey ? ' (same entry)' : ''}`;
}

function split(step: StepOf<'split'>): { nodes: Node[]; edges: Edge[] } {
  const total = step.variants.reduce((sum, v) => sum + v.weight, 0) + (step.holdout?.weight ?? 0);
  const share = (weight: number) => `weight ${weight}, ${Math.round((weight / total) * 1000) / 10}%`;
  const nodes: Node[] = [{ id: step.id, shape: 'decision', lines: [`split: ${step.id}`] }];
  const edges: Edge[] = step.variants.map((v) => ({ from: step.id, to: v.next, label: `${v.name} (${share(v.weight)})` }));
  if (step.holdout) {
    let to = step.holdout.next;
    if (to === undefined) {
      // Held-out customers exit here unless the holdout names a next step.
      to = `${step.id}_holdoutExit`;
      nodes.push({ id: to, shape: 'exit', lines: ['exit: holdout'] });
    }
    edges.push({ from: step.id, to, label: `holdout (${share(step.holdout.weight)})` });
  }
  return { nodes, edges };
}
function toMermaid({ title, nodes, edges }: Graph): string {
  // Entity codes keep quotes and angle brackets from ending a label early.
  const text = (s: string) => s.replace(/"/g, '#quot;').replace(/</g, '#lt;').replace(/>/g, '#gt;');
  const label = (lines: string[]) => `"${lines.map(text).join('<br/>')}"`;
  // "end" closes a subgraph in Mermaid; capitals make it a plain id (step ids start lower-case).
  const id = (s: string) => (s === 'end' ? 'END' : s);
  const shapes: Record<Shape, (l: string) => string> = {
    start: (l) => `([${l}])`,
    box: (l) => `[${l}]`,
    send: (l) => `[/${l}/]`,
    decision: (l) => `{${l}}`,
    exit: (l) => `((${l}))`,
    note: (l) => `>${l}]`,
  };
  return [
    '---',
    `title: ${text(title)}`,
    '---',
    'flowchart TD',
    ...nodes.map((n) => `  ${id(n.id)}${shapes[n.shape](label(n.lines))}`),
    ...edges.map((e) => `  ${id(e.from)} -->${e.label ? `|${label([e.label])}|` : ''} ${id(e.to)}`),
  ].join('\n');
}

function toDot({ title, nodes, edges }: Graph): string {
  const quote = (s: string) => `"${s.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`;
  const label = (lines: string[]) => quote(lines.join('\n')).replace(/\n/g, '\\n');
  const shapes: Record<Shape, string> = {
    start: 'shape=oval',
    box: 'shape=box',
    send: 'shape=box, style=rounded',
    decision: 'shape=diamond',
    exit: 'shape=doublecircle',
    note: 'shape=note',
  };
  return [
    `digraph ${quote(title)} {`,
    `  label=${quote(title)};`,
    '  labelloc=t;',
    '  node [fontname="Helvetica"];',
    '  edge [fontname="Helvetica"];',
    ...nodes.map((n) => `  ${quote(n.id)} [${shapes[n.shape]}, label=${label(n.lines)}];`),
    ...edges.map((e) => `  ${quote(e.from)} -> ${quote(e.to)}${e.label ? ` [label=${quote(e.label)}]` : ''};`),
    '}',
  ].join('\n');
}
