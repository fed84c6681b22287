import { Option, type Command } from 'commander';
import { graphFormats, journeyGraph, type GraphFormat } from '../../domain/authoring/journeyGraph';
import { loadCatalogue, type Catalogue } from '../../journeys';
import { findJourney } from './findJourney';

/** `journeys graph`: draws one journey of the catalogue; needs neither Temporal nor the store. */
export function registerGraph(program: Command, out: (line?: string) => void, catalogue: () => Catalogue = () => loadCatalogue()): void {
  program
    .command('graph <journeyId>')
    .description('draw a journey: its steps, decision trees, edges and goals, as Mermaid or Graphviz dot')
    .addOption(new Option('--format <format>', 'output format').choices(graphFormats).default('mermaid'))
    .action((journeyId: string, opts: { format: GraphFormat }) => {
      const journey = findJourney(catalogue(), journeyId);
      out(journeyGraph(journey.definition, opts.format));
    });
}
