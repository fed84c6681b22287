import type { Catalogue, CatalogueJourney } from '../../journeys';
import { UsageError } from '../usageError';

/** The journey a command's `<journeyId>` names, or a usage error listing the ones there are. */
export function findJourney(catalogue: Catalogue, journeyId: string): CatalogueJourney {
  const journey = catalogue.get(journeyId);
  if (!journey) throw new UsageError(`unknown journey "${journeyId}": the known journeys are ${catalogue.journeys.map((j) => j.definition.id).join(', ')}`);
  return journey;
}
