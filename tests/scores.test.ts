import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { customerFeatures } from '../app/scores/features';
import { currentScores } from '../app/scores/modelStore';
import { generateShopHistory, writeShopHistory } from '../app/scores/shopHistory';
import { SegmentTracker } from '../app/segmentTracker';
import { runCli, type CliDeps } from '../cli';
import type { CustomerEvent } from '../domain/customer/types';
import { evaluateRule, evaluateUncompiled } from '../domain/rules/evaluate';
import { lintRuleSet } from '../domain/rules/lint';
import { ruleSchema } from '../domain/rules/schema';
import { parseSegments } from '../domain/rules/segments';
import type { Rule } from '../domain/rules/types';
import { calibrationTable, rocAuc } from '../domain/scores/metrics';
import type { ScoreModelsResult, TrainScoresResult } from '../activities';
import { shippedSegments } from '../journeys/segments';
import { openSqliteStore } from '../store/sqlite';
import type { Store } from '../store/types';
import { Captured } from './support/captured';
import { scoreWinBackCatalogue } from './fixtures/journeys/scoreWinBack';
import { startJourneyEnv, type JourneyEnv } from './support/journeyEnv';

const DAY = 86_400_000;
const dir = mkdtempSync(join(tmpdir(), 'journeys-scores-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Runs `journeys <args>` in-process on `store` and returns its exit code and output. */
async function journeys(args: string[], store: Store) {
  const [stdout, stderr] = [new Captured(), new Captured()];
  const deps: CliDeps = {
    connect: async () => {
      throw new Error('scores commands must not need Temporal');
    },
    openStore: async () => ({ store, close: async () => undefined }),
    stdout,
    stderr,
  };
  const code = await runCli(args, deps);
  return { code, stdout: stdout.text, stderr: stderr.text };
}

describe('the feature table: each customer as known at the cutoff', () => {
  const cutoff = new Date('2026-06-30T00:00:00Z');
  const daysBefore = (days: number) => new Date(cutoff.getTime() - days * DAY).toISOString();
  let n = 0;
  const event = (customerId: string, type: string, occurredAt: string, properties: Record<string, unknown> = {}): CustomerEvent => ({ id: `f-${++n}`, type, customerId, occurredAt, properties });
  const order = (customerId: string, days: number, total: number, category: string) =>
    event(customerId, 'order.completed', daysBefore(days), { total, items: [{ sku: `${category}-1`, category, price: total, quantity: 1 }] });
  let store: Store;
  beforeAll(async () => {
    store = openSqliteStore(join(dir, 'features.db'));
    await store.upsertProfiles([{ customerId: 'only-profile', email: 'p@example.com', attributes: {} }]);
    await store.recordHistory([
      event('ann', 'user.signed_up', daysBefore(400)),
      order('ann', 200, 100, 'books'),
      order('ann', 60, 40, 'coffee'),
      order('ann', 10, 20, 'coffee'),
      event('ann', 'email.opened', daysBefore(5), { machine: false }),
      // Apple's proxy opened it, not Ann: no engagement, and not her last activity either.
      event('ann', 'email.opened', daysBefore(1), { machine: true }),
      event('ann', 'email.clicked', daysBefore(40), { machine: false }),
      event('ann', 'product.viewed', daysBefore(3)),
      event('ann', 'product.viewed', daysBefore(20)),
      event('ann', 'cart.updated', daysBefore(3)),
      // A segment change is the shop's doing, not hers.
      event('ann', 'segment.entered', daysBefore(0.5)),
      event('bob', 'product.viewed', daysBefore(50)),
    ]);
  });
  afterAll(() => store.close());

  const featuresOf = async (customerId: string, table?: Awaited<ReturnType<typeof customerFeatures>>) => {
    const t = table ?? (await customerFeatures(store, cutoff));
    const row = t.rows.find((r) => r.customerId === customerId)!;
    return Object.fromEntries(t.names.map((name, i) => [name, row.values[i]]));
  };

  it('counts orders, revenue and engagement in windows, without machine opens, with recency, tenure and the last order\'s category', async () => {
    const ann = await featuresOf('ann');
    expect(ann).toMatchObject({
      recencyDays: 10,
      orders30d: 1,
      orders90d: 2,
      orders365d: 3,
      ordersTotal: 3,
      revenue30d: 20,
      revenue90d: 60,
      revenueTotal: 160,
      meanDaysBetweenOrders: 95,
      opens7d: 1,
      opens30d: 1,
      clicks30d: 0,
      clicks90d: 1,
      views7d: 1,
      views30d: 2,
      carts7d: 1,
      tenureDays: 400,
      daysSinceLastActivity: 3,
      'lastOrderCategory.coffee': 1,
    });
    // One-hot columns for the categories customers' last orders were in: Ann's earlier books order is no last order.
    expect(Object.keys(ann).filter((name) => name.startsWith('lastOrderCategory.'))).toEqual(['lastOrderCategory.coffee']);
    expect(ann.averageOrderValue).toBeCloseTo(160 / 3);
    // Never ordered: recency counts from the first activity.
    expect(await featuresOf('bob')).toMatchObject({ recencyDays: 50, ordersTotal: 0, views90d: 1, tenureDays: 50 });
    expect(Object.values(await featuresOf('only-profile')).every((value) => value === 0)).toBe(true);
  });

  it('reads nothing after the cutoff: events recorded later for the same customers change no feature', async () => {
    const before = await customerFeatures(store, cutoff);
    await store.recordHistory([
      event('ann', 'order.completed', new Date(cutoff.getTime() + 1).toISOString(), { total: 999, items: [{ sku: 'tv-1', category: 'electronics', price: 999 }] }),
      event('bob', 'email.clicked', new Date(cutoff.getTime() + DAY).toISOString(), { machine: false }),
      event('cy', 'order.completed', new Date(cutoff.getTime() + DAY).toISOString(), { total: 5 }),
    ]);
    const after = await customerFeatures(store, cutoff, { customerIds: before.rows.map((row) => row.customerId) });
    expect(after).toEqual(before);
    // Pinned categories keep the columns of the table a model was trained on.
    const pinned = await customerFeatures(store, cutoff, { customerIds: ['ann'], categories: ['books', 'toys'] });
    expect(pinned.names.slice(-2)).toEqual(['lastOrderCategory.books', 'lastOrderCategory.toys']);
    expect(pinned.rows[0].values.slice(-2)).toEqual([0, 0]);
  });
});

describe('the measures of a score', () => {
  it('ROC-AUC: 1 for a perfect ranking, 0 reversed, ties count half', () => {
    expect(rocAuc([0.1, 0.2, 0.8, 0.9], [false, false, true, true])).toBe(1);
    expect(rocAuc([0.9, 0.8, 0.2, 0.1], [false, false, true, true])).toBe(0);
    expect(rocAuc([0.5, 0.5, 0.5, 0.5], [false, true, false, true])).toBe(0.5);
    expect(rocAuc([0.1, 0.4, 0.35, 0.8], [false, false, true, true])).toBe(0.75);
    expect(rocAuc([0.1, 0.2], [true, true])).toBeUndefined();
  });

  it('calibration: deciles of the score, the mean predicted beside the share observed', () => {
    const scores = Array.from({ length: 20 }, (_, i) => i / 20);
    const table = calibrationTable(scores, scores.map((s) => s >= 0.5));
    expect(table).toHaveLength(10);
    expect(table[0]).toMatchObject({ decile: 1, customers: 2, observed: 0 });
    expect(table[0].predicted).toBeCloseTo(0.025);
    expect(table[9]).toMatchObject({ decile: 10, customers: 2, observed: 1 });
    expect(table[9].predicted).toBeCloseTo(0.925);
  });
});

describe('the score condition in rules', () => {
  const facts = (churn?: unknown) => ({ now: '2026-06-01T00:00:00Z', profile: { customerId: 'c', email: 'c@example.com', attributes: churn === undefined ? {} : { scores: { churn } } } });
  const likelyToChurn: Rule = { score: 'churn', op: 'gt', value: 0.7 };

  it('reads profile.attributes.scores.<name>; a customer never scored matches nothing; the plain attribute path works alike', () => {
    expect(evaluateRule(likelyToChurn, facts(0.82))).toEqual({ rule: 'score churn gt 0.7', matched: true, because: 'score churn is more than 0.7' });
    expect(evaluateRule(likelyToChurn, facts(0.7))).toMatchObject({ matched: false, because: 'score churn is at most 0.7' });
    expect(evaluateRule(likelyToChurn, facts())).toMatchObject({ matched: false, because: 'score churn is missing' });
    expect(evaluateRule({ not: likelyToChurn }, facts())).toMatchObject({ matched: true });
    expect(evaluateRule({ attr: 'profile.attributes.scores.churn', op: 'gt', value: 0.7 }, facts(0.82)).matched).toBe(true);
    expect(evaluateRule({ score: 'propensity', op: 'lte', value: 0.2 }, { ...facts(), profile: { ...facts().profile, attributes: { scores: { propensity: 0.2 } } } }).matched).toBe(true);
    // The compiled evaluation says exactly what the reference does.
    for (const churn of [0.82, 0.7, '0.9', 'high', null, undefined]) {
      for (const rule of [likelyToChurn, { not: likelyToChurn }, { all: [likelyToChurn, { score: 'churn', op: 'lte', value: 0.9 }] }] as Rule[]) {
        expect(evaluateRule(rule, facts(churn))).toEqual(evaluateUncompiled(rule, facts(churn)));
      }
    }
  });

  it('explains a bad score rule by its field', () => {
    const problem = (rule: unknown) => {
      const parsed = ruleSchema.safeParse(rule);
      return parsed.success ? undefined : parsed.error.issues.map((issue) => `${issue.path.join('.')}: ${issue.message}`.replace(/^: /, ''));
    };
    expect(problem(likelyToChurn)).toBeUndefined();
    expect(problem({ score: 'churn', op: 'eq', value: 0.7 })).toEqual(['op: gt, gte, lt or lte: a score is a number']);
    expect(problem({ score: 'churn', op: 'gt', value: 'high' })).toEqual(['value: a number, e.g. 0.7']);
    expect(problem({ score: 'scores.churn', op: 'gt', value: 0.7 })).toEqual(['score: name the score as journeys scores train or an import wrote it, e.g. "churn" or "propensity"']);
  });

  it('is linted as the attribute it reads: a later rule it shadows, and an unknown score name', () => {
    const ruleSet = {
      rules: [
        { name: 'atRisk', when: { score: 'churn', op: 'gt', value: 0.5 }, use: 'winBack' },
        { name: 'veryLikely', when: { score: 'churn', op: 'gt', value: 0.8 }, use: 'winBackBig' },
        { name: 'buyer', when: { score: 'propensty', op: 'gte', value: 0.6 }, use: 'picks' },
      ],
      fallback: 'standard',
    };
    const known = ['profile.attributes.firstName', 'profile.attributes.scores.churn', 'profile.attributes.scores.propensity'];
    expect(lintRuleSet(ruleSet, known).map((p) => `${p.path.join('.')}: ${p.message}`)).toEqual([
      'rules.1: rule "veryLikely" is never chosen: the earlier rule "atRisk" matches whenever it does; move it up or narrow the earlier rule',
      'rules.2.when.score: unknown attribute "profile.attributes.scores.propensty": no customer has it, so this condition never matches; did you mean "profile.attributes.scores.propensity"?',
    ]);
  });
});

describe('on a generated shop: 20,000 customers over a year', () => {
  let store: Store;
  beforeAll(async () => {
    store = openSqliteStore(join(dir, 'shop.db'));
  });
  afterAll(() => store?.close());

  it('generates the same history from the same seed, another from another', () => {
    const options = { customers: 3, days: 365, seed: 7, end: new Date('2026-11-30T00:00:00Z') };
    const first = [...generateShopHistory(options)];
    expect([...generateShopHistory(options)]).toEqual(first);
    expect([...generateShopHistory({ ...options, seed: 8 })]).not.toEqual(first);
    const events = first.flatMap((customer) => customer.events);
    expect(new Set(events.map((e) => e.type))).toEqual(new Set(['order.completed', 'product.viewed', 'cart.updated', 'email.opened', 'email.clicked', 'user.signed_up']));
    expect(events.every((e) => Date.parse(e.occurredAt) < options.end.getTime() && Date.parse(e.occurredAt) >= options.end.getTime() - 365 * DAY)).toBe(true);
  });

  it('trains churn and propensity with a time split: ROC-AUC ≥ 0.75 on later outcomes of other customers, the shuffled-label control near 0.5', async () => {
    const generated = await journeys(['scores', 'generate', '--customers', '20000', '--days', '365', '--seed', '1', '--end', '2026-11-30T00:00:00Z'], store);
    console.log(generated.stdout.trim());
    expect(generated.code).toBe(0);
    expect(await store.countProfiles()).toBe(20_000);

    const trained = await journeys(['scores', 'train'], store);
    console.log(trained.stdout);
    expect(trained.code).toBe(0);
    const current = (await currentScores(store))!;
    for (const model of [current.models.churn, current.models.propensity]) {
      const { test, control } = model.validation;
      console.log(`${model.name}: time-split ROC-AUC ${test.auc?.toFixed(3)}, shuffled-label control ${control.auc.toFixed(3)}, fitted in ${model.trainingSeconds.toFixed(1)}s`);
      expect(test.auc).toBeGreaterThanOrEqual(0.75);
      expect(Math.abs(control.auc - 0.5)).toBeLessThanOrEqual(0.05);
      // Judged on what happened after the cutoff, on customers it was not fitted on.
      expect(Date.parse(model.validation.testCutoff)).toBeGreaterThan(Date.parse(model.validation.trainCutoff));
      expect(test.customers).toBeGreaterThan(1000);
      expect(test.calibration).toHaveLength(10);
    }
    console.log(`training on 20,000 customers took ${current.seconds.toFixed(1)}s (features, both models, controls, scores written)`);
    // By default each model is judged on the last of its label windows, up to the latest event.
    const lastEvent = Date.parse((await store.lastEventAt())!);
    expect(current.models.churn.validation.testCutoff).toBe(new Date(lastEvent - 60 * DAY).toISOString());
    expect(current.models.propensity.validation.outcomesUntil).toBe(new Date(lastEvent).toISOString());

    // Scores land on the profiles, beside the attributes that were there.
    const profile = await store.getProfile('shop-000002');
    expect(profile?.attributes).toMatchObject({ firstName: expect.any(String), scores: { propensity: expect.any(Number), modelVersion: current.version } });
    expect(current.scored).toBeGreaterThan(19_000);

    const report = await journeys(['scores', 'report'], store);
    expect(report.code).toBe(0);
    expect(report.stdout).toContain(`score models ${current.version}`);
    expect(report.stdout).toContain(`ROC-AUC ${current.models.churn.validation.test.auc!.toFixed(3)}`);
    expect(report.stdout).toMatch(/churn: no order in the next 60 days[\s\S]*DECILE\s+CUSTOMERS\s+PREDICTED\s+OBSERVED\n\s+1\s/);
  }, 600_000);

  it('refuses a cutoff that leaves too little history after it, naming the option', async () => {
    const { code, stderr } = await journeys(['scores', 'train', '--cutoff', '2026-11-01'], store);
    expect(code).toBe(2);
    expect(stderr).toContain('cutoff: churn needs 60 days of outcomes after the cutoff, and the latest event is at 2026-11-29');
  });
});

describe('a rule on scores.churn in a journey (time-skipping)', () => {
  let t: JourneyEnv;
  beforeAll(async () => {
    t = await startJourneyEnv({ catalogue: scoreWinBackCatalogue() });
  }, 120_000);
  afterAll(() => t?.close());

  it('retrains on the Schedule\'s workflow, then sends the win-back email to a customer likely to churn and the standard one to a loyal customer', async () => {
    const now = new Date(await t.env.currentTimeMs());
    await writeShopHistory(t.store, new SegmentTracker(t.store, parseSegments(shippedSegments)), { customers: 2000, days: 365, seed: 3, end: now });
    const run: { trained: TrainScoresResult; models: ScoreModelsResult } = await t.env.client.workflow.execute('scoreTraining', { taskQueue: t.app.config.temporal.taskQueue, workflowId: 'score-training-test', args: [] });
    const result = run.trained;
    if (result.status !== 'trained') throw new Error(`the training was skipped: ${result.reason}`);
    // The catalogue declares no ONNX model: the Schedule's second part scores nothing.
    expect(run.models).toEqual({ customers: 0, models: [] });
    expect(result.scored).toBeGreaterThan(1900);

    const churnOf = async (customerId: string) => ((await t.store.getProfile(customerId))?.attributes.scores as { churn?: number } | undefined)?.churn;
    const scored: { customerId: string; churn: number }[] = [];
    for (let i = 1; i <= 2000; i++) {
      const customerId = `shop-${String(i).padStart(6, '0')}`;
      const churn = await churnOf(customerId);
      if (churn !== undefined) scored.push({ customerId, churn });
    }
    scored.sort((a, b) => a.churn - b.churn);
    const [loyal, leaving] = [scored[0], scored[scored.length - 1]];
    expect(leaving.churn).toBeGreaterThan(0.7);
    expect(loyal.churn).toBeLessThan(0.7);

    for (const customer of [leaving, loyal]) {
      await t.client.ingest({ id: `picks-${customer.customerId}`, type: 'fixture.weekly_picks', customerId: customer.customerId, properties: {} });
    }
    await t.env.sleep(DAY + 60_000);
    const email = async (customerId: string) => (await t.mailbox.waitForCount(1, { to: `customer${customerId.slice(5)}@example.com` }))[0];
    const [toLeaving, toLoyal] = [await email(leaving.customerId), await email(loyal.customerId)];
    expect(toLeaving.subject).toMatch(/^We miss you, /);
    expect(toLeaving.html).toContain(`churn score ${leaving.churn} (${result.version})`);
    expect(toLoyal.subject).toBe("This week's picks");
    expect((await t.store.sendsOf(leaving.customerId))[0]).toMatchObject({ template: 'winBack', status: 'sent' });
    expect((await t.store.sendsOf(loyal.customerId))[0]).toMatchObject({ template: 'standard', status: 'sent' });
  }, 300_000);
});
