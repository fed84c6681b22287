// What the report and the winner check count, on rows written straight into a SQLite store:
// nested splits per combination of arms, winners applied and decided once, and the checks a
// journey author gets for conversions and experiments.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { checkWinners, withWinners } from '../app/experiments';
import { journeyReport } from '../app/reports/journeyReport';
import { lintCatalogue } from '../domain/authoring/journeyLint';
import { assignVariant } from '../domain/journey/split';
import { journeySchema } from '../domain/journey/schema';
import type { JourneyDefinitionInput, SplitStep } from '../domain/journey/types';
import { loadCatalogue } from '../journeys';
import { openSqliteStore } from '../store/sqlite';
import type { Store } from '../store/types';
import { EXPERIMENT_TEMPLATES } from './fixtures/experiments';
import { FIXTURE_TEMPLATES } from './fixtures/journeys';

/** Subject line first, then, nested, the send time: a 2×2 multivariate test. */
const nested: JourneyDefinitionInput = {
  id: 'launchOffer',
  name: 'Fixture: nested splits',
  trigger: { event: 'fixture.launch' },
  conversion: { event: 'fixture.order', within: '5d' },
  steps: [
    {
      id: 'subjectLine',
      kind: 'split',
      variants: [
        { name: 'plain', weight: 1, next: 'sendTime' },
        { name: 'bold', weight: 1, next: 'sendTime' },
      ],
      experiment: { minimumEffect: { relative: 0.2 }, winner: { metric: 'conversion', minSample: 3, alpha: 0.05 } },
    },
    {
      id: 'sendTime',
      kind: 'split',
      variants: [
        { name: 'now', weight: 1, next: 'plainOffer' },
        { name: 'later', weight: 1, next: 'plainOffer' },
      ],
    },
    { id: 'plainOffer', kind: 'send', template: { fallback: 'plain' }, next: 'done' },
    { id: 'done', kind: 'exit' },
  ],
};
const catalogue = loadCatalogue([nested], [FIXTURE_TEMPLATES, EXPERIMENT_TEMPLATES]);
const NOW = new Date('2026-12-10T00:00:00.000Z');

let store: Store;
beforeEach(() => {
  store = openSqliteStore(':memory:');
});
afterEach(() => store.close());

/** A run through both splits, as the interpreter records it, with an order a day later for `converts`. */
async function run(customerId: string, subject: string, time: string, converts: boolean) {
  const workflowId = `launchOffer:${customerId}`;
  const base = { workflowId, journeyId: 'launchOffer', version: 'v1', customerId };
  await store.recordExposure({ ...base, stepId: 'subjectLine', arm: subject, at: '2026-12-01T10:00:00.000Z' });
  await store.recordExposure({ ...base, stepId: 'sendTime', arm: time, at: '2026-12-01T10:00:00.000Z' });
  if (converts) await store.recordConversion({ eventId: `order-${customerId}`, journeyId: 'launchOffer', customerId, occurredAt: '2026-12-02T10:00:00.000Z' });
}

describe('nested splits', () => {
  it('report the inner split per arm of the outer one, and as a whole', async () => {
    const plan: [string, string, boolean][] = [
      ['plain', 'now', true], ['plain', 'now', false], ['plain', 'later', false],
      ['bold', 'now', true], ['bold', 'later', true], ['bold', 'later', true], ['bold', 'later', false],
    ];
    for (const [index, [subject, time, converts]] of plan.entries()) await run(`c${index}`, subject, time, converts);
    const report = await journeyReport(store, catalogue, 'launchOffer', { now: NOW });
    const inner = report.experiments.filter((e) => e.stepId === 'sendTime').map((e) => [e.given, e.metrics.conversion!.arms.map((a) => [a.name, a.exposed, a.successes])]);
    expect(inner).toEqual([
      [{}, [['now', 3, 2], ['later', 4, 2]]],
      [{ subjectLine: 'plain' }, [['now', 2, 1], ['later', 1, 0]]],
      [{ subjectLine: 'bold' }, [['now', 1, 1], ['later', 3, 2]]],
    ]);
    expect(report.experiments.filter((e) => e.stepId === 'subjectLine').map((e) => e.given)).toEqual([{}]);
    expect(report.experiments[0]).toMatchObject({ declared: true });
    expect(report.experiments[1]).toMatchObject({ declared: false });
  });
});

describe('winners', () => {
  it('are decided once, from the counts, and give new entrants the winner while the holdout keeps its share', async () => {
    const journey = catalogue.get('launchOffer')!;
    for (let i = 0; i < 3; i++) await run(`p${i}`, 'plain', 'now', false);
    for (let i = 0; i < 2; i++) await run(`b${i}`, 'bold', 'now', true);
    expect(await checkWinners(store, journey, NOW)).toEqual([]);
    for (let i = 2; i < 40; i++) await run(`b${i}`, 'bold', 'now', true);
    for (let i = 3; i < 40; i++) await run(`p${i}`, 'plain', 'now', false);
    const [decided] = await checkWinners(store, journey, NOW);
    expect(decided).toMatchObject({ stepId: 'subjectLine', winner: 'bold', metric: 'conversion', decidedAt: NOW.toISOString() });
    expect(await checkWinners(store, journey, new Date('2026-12-11T00:00:00.000Z'))).toEqual([]);
    expect(await store.winnersOf('launchOffer')).toEqual([decided]);

    const applied = withWinners(journey, [decided]);
    expect(applied.version).toBe(decided.version);
    expect(applied.version).not.toBe(journey.version);
    expect((applied.definition.steps[0] as SplitStep).variants).toEqual([{ name: 'bold', weight: 2, next: 'sendTime' }]);

    const held = { id: 'split', variants: [{ name: 'plain', weight: 45, next: 'a' }, { name: 'bold', weight: 45, next: 'b' }], holdout: { weight: 10 } };
    const reduced = { ...held, variants: [{ name: 'bold', weight: 90, next: 'b' }] };
    for (let i = 0; i < 300; i++) {
      const before = assignVariant(held, 'j', `c${i}`).name;
      expect(assignVariant(reduced, 'j', `c${i}`).name).toBe(before === 'holdout' ? 'holdout' : 'bold');
    }
  });
});

describe('what an author is told', () => {
  it('refuses a winner on conversion without a conversion, and a control that is no arm', () => {
    const withoutConversion = { ...nested, conversion: undefined };
    const problems = journeySchema.safeParse(withoutConversion).error!.issues.map((i) => [i.path.join('.'), i.message]);
    expect(problems).toContainEqual(['steps.0.experiment.winner.metric', expect.stringContaining('a winner on conversion needs the journey\'s "conversion"')]);
    const badControl = { ...nested, steps: nested.steps.map((s, i) => (i === 0 ? { ...s, experiment: { control: 'shiny', minimumEffect: { relative: 0.1 } } } : s)) };
    expect(journeySchema.safeParse(badControl).error!.issues.map((i) => [i.path.join('.'), i.message])).toEqual([
      ['steps.0.experiment.control', 'control "shiny" is not an arm of this split; its arms are "plain", "bold"'],
    ]);
  });

  it('warns when the conversion event is the one that starts the journey', () => {
    const problems = lintCatalogue({ definitions: [{ ...nested, conversion: { event: 'fixture.launch', within: '1d' } }], templates: catalogue.templates });
    expect(problems).toContainEqual({ severity: 'warning', where: 'launchOffer conversion.event', message: expect.stringContaining('"fixture.launch" also starts the journey') });
  });
});
