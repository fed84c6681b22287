import { describe, expect, it } from 'vitest';
import { runCli } from '../cli';
import { journeyGraph } from '../domain/authoring/journeyGraph';
import { journeySchema } from '../domain/journey/schema';
import type { JourneyDefinitionInput } from '../domain/journey/types';
import { loadCatalogue } from '../journeys';
import { Captured } from './support/captured';

const catalogue = loadCatalogue();
const definitionOf = (id: string) => catalogue.get(id)!.definition;
const linesOf = (text: string) => text.split('\n').map((line) => line.trim());

async function journeys(args: string[]) {
  const stdout = new Captured();
  const stderr = new Captured();
  const unused = async (): Promise<never> => {
    throw new Error('graph must need neither Temporal nor the store');
  };
  const code = await runCli(args, { connect: unused, openStore: unused, stdout, stderr });
  return { code, stdout: stdout.text, stderr: stderr.text };
}

describe('journeyGraph as Mermaid', () => {
  it('draws cartAbandonment: trigger, waits with durations, sends with their template decision tree, the exit and the goal', () => {
    const lines = linesOf(journeyGraph(definitionOf('cartAbandonment'), 'mermaid'));
    expect(lines.slice(0, 4)).toEqual(['---', 'title: Cart abandonment (cartAbandonment)', '---', 'flowchart TD']);
    expect(lines).toContain('_trigger(["trigger: cart.updated<br/>one run per properties.cartId · reentry once · topic marketing"])');
    expect(lines).toContain('waitBeforeReminder2["wait: waitBeforeReminder2<br/>24h"]');
    expect(lines).toContain(
      'reminder1[/"send: reminder1<br/>vip (any of (profile.attributes.loyaltyTier eq #quot;gold#quot;, event.properties.total gt 200)) → reminder1Vip<br/>fallback → reminder1"/]',
    );
    expect(lines).toContain('done(("exit: done"))');
    expect(lines).toContain('_goals>"goals: end the journey from any step<br/>order.completed (same properties.cartId)"]');
    const edges = lines.filter((line) => line.includes('-->'));
    expect(edges).toEqual([
      '_trigger --> waitBeforeReminder1',
      'waitBeforeReminder1 --> reminder1',
      'reminder1 --> waitBeforeReminder2',
      'waitBeforeReminder2 --> reminder2',
      'reminder2 --> waitBeforeLastChance',
      'waitBeforeLastChance --> lastChance',
      'lastChance --> done',
    ]);
  });

  it('draws onboarding: the waitFor outcomes as labelled edges and the highlight rules in order with their fallback', () => {
    const lines = linesOf(journeyGraph(definitionOf('onboarding'), 'mermaid'));
    expect(lines).toContain('waitForActivation{"waitFor: waitForActivation<br/>user.activated<br/>timeout 2d"}');
    expect(lines).toContain('waitForActivation -->|"user.activated"| activated');
    expect(lines).toContain('waitForActivation -->|"timeout 2d"| tips');
    expect(lines).toContain(
      'highlight[/"send: highlight<br/>teamPlan (profile.attributes.plan eq #quot;team#quot;) → highlightCollaboration<br/>' +
        'developer (profile.attributes.role eq #quot;developer#quot;) → highlightApi<br/>fallback → highlightReports"/]',
    );
    expect(lines).toContain('waitBeforeCheckIn["wait: waitBeforeCheckIn<br/>9d"]');
    expect(lines).toContain('checkIn --> done');
    expect(lines).toContain('_goals>"goals: end the journey from any step<br/>user.activated"]');
  });

  it('labels branch edges with rule names and otherwise, split edges with weights and the holdout, and draws local-time waits', () => {
    const input: JourneyDefinitionInput = {
      id: 'graphFixture',
      name: 'Graph fixture',
      trigger: { event: 'fixture.graph' },
      defaultTimezone: 'Europe/Berlin',
      steps: [
        { id: 'morning', kind: 'wait', at: { localTime: '09:00', weekdays: ['mon', 'tue'], quietHours: { start: '21:00', end: '08:00' } } },
        { id: 'which', kind: 'branch', rules: [{ name: 'pro', when: { attr: 'profile.attributes.plan', op: 'eq', value: 'pro' }, next: 'test' }], otherwise: 'done' },
        { id: 'test', kind: 'split', variants: [{ name: 'short', weight: 45, next: 'done' }, { name: 'long', weight: 45, next: 'done' }], holdout: { weight: 10 } },
        { id: 'done', kind: 'exit' },
      ],
    };
    const definition = journeySchema.parse(input);
    const lines = linesOf(journeyGraph(definition, 'mermaid'));
    expect(lines).toContain('morning["wait: morning<br/>at 09:00 local on mon, tue, not 21:00–08:00 (else Europe/Berlin)"]');
    expect(lines).toContain('which -->|"pro"| test');
    expect(lines).toContain('which -->|"otherwise"| done');
    expect(lines).toContain('test -->|"short (weight 45, 45%)"| done');
    expect(lines).toContain('test -->|"holdout (weight 10, 10%)"| test_holdoutExit');
    expect(lines).toContain('test_holdoutExit(("exit: holdout"))');
    expect(linesOf(journeyGraph(definition, 'dot'))).toContain('"which" -> "done" [label="otherwise"];');
  });
});

describe('journeyGraph as dot', () => {
  it('draws cartAbandonment as a digraph with shaped, labelled nodes and its edges', () => {
    const lines = linesOf(journeyGraph(definitionOf('cartAbandonment'), 'dot'));
    expect(lines[0]).toBe('digraph "Cart abandonment (cartAbandonment)" {');
    expect(lines.at(-1)).toBe('}');
    expect(lines).toContain('"waitBeforeReminder1" [shape=box, label="wait: waitBeforeReminder1\\n1h"];');
    expect(lines).toContain(
      '"lastChance" [shape=box, style=rounded, label="send: lastChance\\nvip (any of (profile.attributes.loyaltyTier eq \\"gold\\", event.properties.total gt 200)) → lastChanceVip\\nfallback → lastChance"];',
    );
    expect(lines).toContain('"done" [shape=doublecircle, label="exit: done"];');
    expect(lines).toContain('"_goals" [shape=note, label="goals: end the journey from any step\\norder.completed (same properties.cartId)"];');
    expect(lines).toContain('"_trigger" -> "waitBeforeReminder1";');
    expect(lines).toContain('"lastChance" -> "done";');
  });

  it('draws onboarding with its waitFor outcomes', () => {
    const lines = linesOf(journeyGraph(definitionOf('onboarding'), 'dot'));
    expect(lines).toContain('"waitForActivation" [shape=diamond, label="waitFor: waitForActivation\\nuser.activated\\ntimeout 2d"];');
    expect(lines).toContain('"waitForActivation" -> "activated" [label="user.activated"];');
    expect(lines).toContain('"waitForActivation" -> "tips" [label="timeout 2d"];');
    expect(lines).toContain('"highlight" -> "waitBeforeCheckIn";');
  });
});

describe('journeys graph (catalogue only, no Temporal or store)', () => {
  it('prints Mermaid by default and dot on request', async () => {
    const mermaid = await journeys(['graph', 'cartAbandonment']);
    expect(mermaid).toMatchObject({ code: 0, stderr: '' });
    expect(mermaid.stdout).toBe(`${journeyGraph(definitionOf('cartAbandonment'), 'mermaid')}\n`);
    const dot = await journeys(['graph', 'onboarding', '--format', 'dot']);
    expect(dot).toMatchObject({ code: 0, stderr: '' });
    expect(dot.stdout).toBe(`${journeyGraph(definitionOf('onboarding'), 'dot')}\n`);
  });

  it('exits 2 naming the known journeys when the journey is unknown', async () => {
    const result = await journeys(['graph', 'welcomeSeries']);
    expect(result.code).toBe(2);
    expect(result.stdout).toBe('');
    expect(result.stderr).toMatch(/^error: unknown journey "welcomeSeries": the known journeys are .*\n$/);
    for (const id of catalogue.journeys.map((j) => j.definition.id)) expect(result.stderr).toContain(id);
  });

  it('exits 2 on an unknown format', async () => {
    const result = await journeys(['graph', 'onboarding', '--format', 'svg']);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('Allowed choices are mermaid, dot');
  });
});
