// Experiments beyond one run: the global control group, held out of every marketing journey,
// and winners, which end a split for new entrants once `selectWinner` names one.
import { selectWinner } from '../domain/experiments/winner';
import { splitPosition } from '../domain/journey/split';
import type { JourneyDefinition, SplitStep } from '../domain/journey/types';
import { versionOf, type CatalogueJourney } from '../journeys';
import type { SplitWinner, Store } from '../store/types';
import { countActivity, splitCounts } from './reports/counting';

/**
 * The salt of the global control hash. Fixed for good: changing it would move customers in
 * and out of the control group, mixing the groups a report compares.
 */
const GLOBAL_CONTROL_SALT = 'globalControl';

/**
 * Whether GLOBAL_CONTROL_PERCENT holds this customer out of marketing journeys: a fixed share,
 * by hash of the customer id alone, so the same customers are held out of every journey and
 * on every start; raising the percent only adds customers to the group.
 */
export function inGlobalControl(customerId: string, percent: number): boolean {
  return percent > 0 && splitPosition(GLOBAL_CONTROL_SALT, 'v1', customerId) * 100 < percent;
}

const winnerSplits = (definition: JourneyDefinition) =>
  definition.steps.filter((step): step is SplitStep => step.kind === 'split' && step.experiment?.winner !== undefined);

/**
 * The journey as new entrants get it: every split with a recorded winner reduced to that
 * variant, which takes the weight of all the variants, so the holdout keeps its share (and
 * its customers) to go on measuring lift. The content hash changes with it: a new version,
 * while running runs keep the one they started with.
 */
export function withWinners(journey: CatalogueJourney, winners: Pick<SplitWinner, 'stepId' | 'winner'>[]): CatalogueJourney {
  if (winners.length === 0) return journey;
  const winnerOf = new Map(winners.map((w) => [w.stepId, w.winner]));
  const steps = journey.definition.steps.map((step) => {
    const winner = step.kind === 'split' ? winnerOf.get(step.id) : undefined;
    if (step.kind !== 'split' || winner === undefined) return step;
    const variant = step.variants.find((v) => v.name === winner);
    if (!variant) return step;
    return { ...step, variants: [{ ...variant, weight: step.variants.reduce((sum, v) => sum + v.weight, 0) }] };
  });
  const definition = { ...journey.definition, steps };
  return { ...journey, definition, version: versionOf(definition, journey.templates) };
}

/**
 * Applies recorded winners when runs start. A journey without a `winner` setting reads nothing;
 * a decided split stays decided, so once all of a journey's are, the store is not asked again.
 */
export class Winners {
  private readonly decided = new Map<string, CatalogueJourney>();

  constructor(private readonly store: Pick<Store, 'winnersOf'>) {}

  async applied(journey: CatalogueJourney): Promise<CatalogueJourney> {
    const splits = winnerSplits(journey.definition);
    if (splits.length === 0) return journey;
    const cached = this.decided.get(journey.version);
    if (cached) return cached;
    const winners = await this.store.winnersOf(journey.definition.id);
    const current = withWinners(journey, winners);
    if (splits.every((split) => winners.some((w) => w.stepId === split.id))) this.decided.set(journey.version, current);
    return current;
  }
}

/**
 * Runs `selectWinner` on each undecided split with a `winner` setting and records the winners
 * it names. Idempotent: a split's first recorded winner stays (the store keeps the first), and
 * a decided split is not looked at again. Returns the winners recorded by this call.
 */
export async function checkWinners(store: Pick<Store, 'winnersOf' | 'journeyActivity' | 'recordWinner'>, journey: CatalogueJourney, now: Date): Promise<SplitWinner[]> {
  const { definition } = journey;
  const splits = winnerSplits(definition);
  if (splits.length === 0) return [];
  let winners = await store.winnersOf(definition.id);
  const open = splits.filter((split) => !winners.some((w) => w.stepId === split.id));
  if (open.length === 0) return [];
  const counted = countActivity(await store.journeyActivity(definition.id), definition, { until: now });
  const recorded: SplitWinner[] = [];
  for (const split of open) {
    const settings = split.experiment!.winner!;
    const counts = splitCounts(counted, definition, split);
    const decision = selectWinner({ conversion: counts.conversion?.arms ?? [], click: counts.click?.arms ?? [] }, settings);
    if (decision.winner === null) continue;
    const version = withWinners(journey, [...winners, { stepId: split.id, winner: decision.winner }]).version;
    const kept = await store.recordWinner({ journeyId: definition.id, stepId: split.id, winner: decision.winner, metric: settings.metric, reason: decision.reason, version, decidedAt: now.toISOString() });
    winners = [...winners, kept];
    recorded.push(kept);
  }
  return recorded;
}
