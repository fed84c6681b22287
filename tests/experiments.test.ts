// An experiment end to end, on the time-skipping server: 1,000 customers through a 50/50 split
// with 10 % held out; opens, clicks and orders drawn with known rates per arm from a seeded
// generator; the report counts exactly what was generated, its p-values are scipy's, and the
// winner takes new entrants only once each variant has its minimum sample.
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { countActivity, splitCounts } from '../app/reports/counting';
import { journeyReport } from '../app/reports/journeyReport';
import { selectWinner } from '../domain/experiments/winner';
import type { JourneyReport } from '../app/reports/schema';
import { assignVariant, HOLDOUT } from '../domain/journey/split';
import type { SplitStep } from '../domain/journey/types';
import { loadCatalogue } from '../journeys';
import type { SendRecord } from '../store/types';
import { JOURNEY_VERSION } from '../workflows/searchAttributes';
import { EXPERIMENT_TEMPLATES, launchOffer } from './fixtures/experiments';
import { FIXTURE_TEMPLATES } from './fixtures/journeys';
import { trackingListener } from './support/trackingListener';
import { startJourneyEnv, type JourneyEnv } from './support/journeyEnv';
import { random } from './support/random';

const catalogue = loadCatalogue([launchOffer], [FIXTURE_TEMPLATES, EXPERIMENT_TEMPLATES]);
const split = launchOffer.steps[0] as SplitStep;
const ARMS = ['plain', 'bold', HOLDOUT] as const;
type Arm = (typeof ARMS)[number];

/** The rates the generator draws with: opens and orders per customer, clicks per opener. */
const RATES: Record<Arm, { open: number; click: number; order: number }> = {
  plain: { open: 0.4, click: 0.3, order: 0.08 },
  bold: { open: 0.55, click: 0.45, order: 0.2 },
  holdout: { open: 0, click: 0, order: 0.05 },
};

/** What the generator decided for one customer. */
interface Drawn {
  customerId: string;
  arm: Arm;
  opened: boolean;
  clicked: boolean;
  order?: number;
}

const BROWSER = 'Mozilla/5.0 (Macintosh; Intel Mac OS X 14_5) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Safari/605.1.15';
const customers = Array.from({ length: 1000 }, (_, i) => `x-${String(i).padStart(4, '0')}`);
/** Entrants in three waves: below the minimum sample, past it, and after the winner. */
const WAVES = [customers.slice(0, 300), customers.slice(300, 600), customers.slice(600)];

let t: JourneyEnv;
let track: FastifyInstance;
const rng = random(20261202);
const drawn: Drawn[] = [];
const winnersAfter: string[][] = [];
const withoutMinSample: (string | null)[] = [];

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Waits until the wave's runs have split and sent (every variant entrant's email is in the ledger as sent). */
async function runsDone(exposures: number, sent: number): Promise<SendRecord[]> {
  const deadline = Date.now() + 180_000;
  for (;;) {
    const activity = await t.store.journeyActivity('launchOffer');
    const done = activity.sends.filter((send) => send.status === 'sent');
    if (activity.exposures.length >= exposures && done.length >= sent) return done;
    if (Date.now() > deadline) throw new Error(`runs not done: ${activity.exposures.length}/${exposures} exposures, ${done.length}/${sent} sent`);
    await sleep(250);
  }
}

async function inBatches(events: object[]): Promise<void> {
  for (let i = 0; i < events.length; i += 200) await t.client.ingestBatch({ events: events.slice(i, i + 200) });
}

/** One wave: sign-ups, then (once every email is out) opens and clicks, then orders. */
async function runWave(wave: string[], realRoutes: number): Promise<void> {
  const before = drawn.length;
  await inBatches(wave.map((customerId) => ({ id: `launch-${customerId}`, type: 'fixture.launch', customerId, properties: {} })));
  const winner = (await t.store.winnersOf('launchOffer'))[0]?.winner;
  for (const customerId of wave) {
    const first = assignVariant(split, 'launchOffer', customerId).name as Arm;
    const arm: Arm = winner && first !== HOLDOUT ? (winner as Arm) : first;
    const rate = RATES[arm];
    const opened = rng.chance(rate.open);
    const clicked = opened && rng.chance(rate.click);
    const order = rng.chance(rate.order) ? 20 + Math.floor(rng.next() * 80) : undefined;
    drawn.push({ customerId, arm, opened, clicked, ...(order !== undefined && { order }) });
  }
  const mine = drawn.slice(before);
  const sends = await runsDone(drawn.length, drawn.filter((d) => d.arm !== HOLDOUT).length);
  const sendOf = new Map(sends.map((send) => [send.customerId, send]));
  // Past the scanner window: a person's clicks, not a security scanner's.
  await t.env.sleep('1m');

  const engaged = mine.filter((d) => d.opened);
  for (const d of engaged.slice(0, realRoutes)) {
    const [email] = await t.mailbox.waitForCount(1, { to: `${d.customerId}@example.com` });
    const pixel = /<img src="https:\/\/journeys\.test(\/o\/[^"]+\.gif)"/.exec(email.html)![1];
    expect((await track.inject({ method: 'GET', url: pixel, headers: { 'user-agent': BROWSER } })).statusCode).toBe(200);
    if (d.clicked) {
      const click = /href="https:\/\/journeys\.test(\/c\/[^"]+)"/.exec(email.html)![1];
      expect((await track.inject({ method: 'GET', url: click, headers: { 'user-agent': BROWSER } })).statusCode).toBe(302);
    }
  }
  // The rest as the same events those routes ingest; and a mailbox provider's prefetch for some who never opened, which must not count.
  const engagement = (d: Drawn, type: string, extra: object) => {
    const send = sendOf.get(d.customerId)!;
    return { id: `${type}:${d.customerId}`, type, customerId: d.customerId, properties: { workflowId: send.workflowId, journeyId: 'launchOffer', stepId: send.stepId, template: send.template, variants: { subjectLine: d.arm }, ...extra } };
  };
  const bulk = engaged.slice(realRoutes);
  const prefetched = mine.filter((d) => d.arm !== HOLDOUT && !d.opened).slice(0, 10);
  await inBatches([
    ...bulk.map((d) => engagement(d, 'email.opened', { machine: false })),
    ...bulk.filter((d) => d.clicked).map((d) => engagement(d, 'email.clicked', { machine: false, linkIndex: 0, url: 'https://shop.example.com/launch' })),
    ...prefetched.map((d) => engagement(d, 'email.opened', { machine: true })),
  ]);
  await inBatches(mine.filter((d) => d.order !== undefined).map((d) => ({ id: `order-${d.customerId}`, type: 'fixture.order', customerId: d.customerId, properties: { total: d.order } })));
  winnersAfter.push((await t.store.winnersOf('launchOffer')).map((w) => w.winner));
  // What the counts alone would say without the minimum sample.
  const { definition } = catalogue.get('launchOffer')!;
  const counts = splitCounts(countActivity(await t.store.journeyActivity('launchOffer'), definition, { until: new Date(await t.env.currentTimeMs()) }), definition, definition.steps[0] as SplitStep);
  withoutMinSample.push(selectWinner({ conversion: counts.conversion!.arms, click: counts.click!.arms }, { metric: 'conversion', minSample: 1, alpha: 0.05 }).winner);
}

/** The generated counts of one arm. */
function generated(arm: Arm) {
  const of = drawn.filter((d) => d.arm === arm);
  return {
    exposed: of.length,
    opened: of.filter((d) => d.opened).length,
    clicked: of.filter((d) => d.clicked).length,
    converted: of.filter((d) => d.order !== undefined).length,
    revenue: of.reduce((sum, d) => sum + (d.order ?? 0), 0),
  };
}

let report: JourneyReport;

beforeAll(async () => {
  t = await startJourneyEnv({ catalogue });
  track = trackingListener(t);
  await t.store.upsertProfiles(customers.map((customerId) => ({ customerId, email: `${customerId}@example.com`, attributes: {} })));
  for (const [index, wave] of WAVES.entries()) await runWave(wave, index === 0 ? 12 : 0);
  // A redelivered order is no second conversion.
  const again = drawn.find((d) => d.order !== undefined)!;
  expect((await t.client.ingest({ id: `order-${again.customerId}`, type: 'fixture.order', customerId: again.customerId, properties: { total: again.order } })).duplicate).toBe(true);
  report = await journeyReport(t.store, catalogue, 'launchOffer', { now: new Date(await t.env.currentTimeMs()) });
}, 600_000);

afterAll(async () => {
  await track?.close();
  await t?.close();
});

describe('1,000 customers through a 50/50 split with a 10 % holdout', () => {
  it('reports exactly the generated opens, clicks, orders and revenue, per step and per variant, machine opens left out', () => {
    const plain = generated('plain');
    const bold = generated('bold');
    const holdout = generated('holdout');
    expect(plain.exposed + bold.exposed + holdout.exposed).toBe(1000);
    expect(report.totals).toMatchObject({ entered: 1000, sent: plain.exposed + bold.exposed, opened: plain.opened + bold.opened, clicked: plain.clicked + bold.clicked, converted: plain.converted + bold.converted });
    for (const [stepId, arm, counts] of [['plainOffer', 'plain', plain], ['boldOffer', 'bold', bold]] as const) {
      const row = report.variants.find((r) => r.stepId === stepId)!;
      expect(row).toMatchObject({ template: arm, variants: { subjectLine: arm }, label: `${arm} · subjectLine=${arm}` });
      expect(row).toMatchObject({ entered: counts.exposed, sent: counts.exposed, opened: counts.opened, clicked: counts.clicked, converted: counts.converted, skipped: {} });
      expect(row.revenue).toBeCloseTo(counts.revenue, 9);
      expect(row.rates.opened).toBe(counts.opened / counts.exposed);
      expect(row.rates.clicked).toBe(counts.clicked / counts.exposed);
      expect(row.rates.converted).toBe(counts.converted / counts.exposed);
    }
    expect(report.steps.find((r) => r.stepId === 'subjectLine')).toMatchObject({ kind: 'split', entered: 1000 });
  });

  it('compares each arm with the holdout on conversion, with the p-values scipy computes from the same counts', () => {
    const [experiment] = report.experiments;
    expect(experiment).toMatchObject({ stepId: 'subjectLine', given: {}, declared: true });
    const conversion = experiment.metrics.conversion!;
    const counts = conversion.arms.map((arm) => [arm.name, arm.exposed, arm.successes]);
    expect(counts).toEqual(ARMS.map((arm) => [arm, generated(arm).exposed, generated(arm).converted]));
    expect(conversion.control).toBe(HOLDOUT);
    // The counts this seed generates, and scipy's answer on them, computed apart (scipy 1.17.1):
    //   from scipy.stats import chi2_contingency
    //   for s, n in [(29, 271), (126, 621)]:
    //       r = chi2_contingency([[s, n - s], [6, 108 - 6]], correction=False)
    //       print(r.statistic, r.pvalue)
    //   → 2.439324739592911 0.11832715297627044   (plain against the holdout)
    //   → 13.469566210499138 0.00024246436061084637   (bold against the holdout)
    expect(counts).toEqual([
      ['plain', 271, 29],
      ['bold', 621, 126],
      ['holdout', 108, 6],
    ]);
    const byArm = Object.fromEntries(conversion.comparisons.map((c) => [c.arm, c]));
    expect(byArm.plain.chiSquare! / 2.439324739592911).toBeCloseTo(1, 12);
    expect(byArm.plain.pValue! / 0.11832715297627044).toBeCloseTo(1, 12);
    expect(byArm.bold.chiSquare! / 13.469566210499138).toBeCloseTo(1, 12);
    expect(byArm.bold.pValue! / 0.00024246436061084637).toBeCloseTo(1, 12);
    // Lift and verdict: bold's 20.3 % against the holdout's 5.6 %, with the sample the declared 5-point effect needs.
    expect(byArm.bold.absoluteLift!.estimate).toBeCloseTo(126 / 621 - 6 / 108, 12);
    expect(byArm.bold.relativeLift).toBeCloseTo((126 / 621 - 6 / 108) / (6 / 108), 12);
    expect(byArm.bold.probabilityToBeatControl).toBeGreaterThan(0.999);
    // No peeking: bold's p-value is tiny, but plain and the holdout are short of the planned sample.
    expect(conversion.verdict).toEqual({ status: 'not_significant_yet', summary: 'not significant yet: each arm needs 562; plain 291 more, holdout 454 more' });

    const click = experiment.metrics.click!;
    expect(click.arms.map((arm) => [arm.name, arm.exposed, arm.successes])).toEqual([
      ['plain', generated('plain').exposed, generated('plain').clicked],
      ['bold', generated('bold').exposed, generated('bold').clicked],
    ]);
  });

  it('switches new entrants to the winner only once each variant has its minimum sample, as a new journey version', async () => {
    // After wave 1 (300 customers) bold already beat plain at alpha 0.05, but every variant was short of 250: no winner yet.
    expect(withoutMinSample[0]).toBe('bold');
    expect(winnersAfter).toEqual([[], ['bold'], ['bold']]);
    const [winner] = await t.store.winnersOf('launchOffer');
    const shipped = catalogue.get('launchOffer')!.version;
    expect(winner.version).not.toBe(shipped);
    expect(report.experiments[0].winner).toMatchObject({ winner: 'bold', metric: 'conversion', version: winner.version });

    const activity = await t.store.journeyActivity('launchOffer');
    const before = new Set([...WAVES[0], ...WAVES[1]]);
    const early = activity.exposures.filter((e) => before.has(e.customerId));
    const late = activity.exposures.filter((e) => !before.has(e.customerId));
    expect(new Set(early.map((e) => e.arm))).toEqual(new Set(['plain', 'bold', HOLDOUT]));
    expect(new Set(early.map((e) => e.version))).toEqual(new Set([shipped]));
    expect(new Set(late.map((e) => e.arm))).toEqual(new Set(['bold', HOLDOUT]));
    expect(new Set(late.map((e) => e.version))).toEqual(new Set([winner.version]));
    // The holdout keeps its customers after the switch.
    for (const e of late) expect(e.arm === HOLDOUT).toBe(assignVariant(split, 'launchOffer', e.customerId).name === HOLDOUT);

    const describeVersion = async (customerId: string) => (await t.env.client.workflow.getHandle(`launchOffer:${customerId}`).describe()).typedSearchAttributes.get(JOURNEY_VERSION);
    expect(await describeVersion(WAVES[0][0])).toBe(shipped);
    expect(await describeVersion(WAVES[2][0])).toBe(winner.version);
  });
});
