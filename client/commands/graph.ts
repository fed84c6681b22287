import { Option, type Command } from 'commander';
import { graphFormats, journeyGraph, type GraphFormat } from '../../domain/journeyGraph';
import { loadCatalogue, type Catalogue } from '../../journeys';
import { UsageError } from '../usageError';

/** `journeys graph`: draws one journey of the catalogue; needs neither Temporal nor the store. */
export function registerGraph(program: Command, out: (line?: string) => void, catalogue: () => Catalogue = () => loadCatalogue()): void {
  program
    .command('graph <journeyId>')
    .description('draw a journey: its steps, decision trees, edges and goals, as Mermaid or Graphviz dot')
    .addOption(new Option('--format <format>', 'output format').choices(graphFormats).default('mermaid'))
    .action((journeyId: string, opts: { format: GraphFormat }) => {
      const { journeys } = catalogue();
      const journey = journeys.find((j) => j.definition.id === journeyId);
      if (!journey) {
        const known = journeys.map((j) => j.definition.id).join(', ');
        throw new UsageError(`unknown journey "${journeyId}": the known journeys are ${known}`);
      }
      out(journeyGraph(journey.definition, opts.format));
    });
}
