import { createHash } from 'node:crypto';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { journeySchema } from '../domain/journey/schema';
import type { JourneyDefinition, JourneyDefinitionInput } from '../domain/journey/types';
import { cartAbandonment } from './cartAbandonment';
import { dormancy } from './dormancy';
import { orderReceipt } from './orderReceipt';
import { onboarding } from './onboarding';

/** The journeys this product ships; a new journey is one more definition and its templates. */
export const shippedJourneys: JourneyDefinitionInput[] = [cartAbandonment, orderReceipt, onboarding, dormancy];

export interface CatalogueJourney {
  definition: JourneyDefinition;
  /** Content hash of the definition and its templates: a run keeps the version it started with. */
  version: string;
  /** The templates this journey can render (its own, layouts and partials), keyed as in `Catalogue.templates`. */
  templates: Record<string, string>;
}

export interface Catalogue {
  journeys: CatalogueJourney[];
  /** Template sources keyed "journeyId/name", "_layouts/name", "_partials/name". */
  templates: Record<string, string>;
  get(journeyId: string): CatalogueJourney | undefined;
}

export class CatalogueError extends Error {}

export const TEMPLATES_DIR = join(__dirname, 'templates');

function readTemplates(dir: string): Record<string, string> {
  const sources: Record<string, string> = {};
  const walk = (folder: string) => {
    for (const entry of readdirSync(folder)) {
      const path = join(folder, entry);
      if (statSync(path).isDirectory()) walk(path);
      else if (entry.endsWith('.liquid')) sources[relative(dir, path).replace(/\\/g, '/').replace(/\.liquid$/, '')] = readFileSync(path, 'utf8');
    }
  };
  walk(dir);
  return sources;
}

function templatesOf(journeyId: string, templates: Record<string, string>): Record<string, string> {
  return Object.fromEntries(Object.keys(templates).sort().filter((name) => name.startsWith(`${journeyId}/`) || name.startsWith('_')).map((name) => [name, templates[name]]));
}

/** The content hash a run is pinned to; a split reduced to its winner (app/experiments.ts) hashes anew. */
export function versionOf(definition: JourneyDefinition, own: Record<string, string>): string {
  const hash = createHash('sha256').update(JSON.stringify(definition));
  for (const [name, source] of Object.entries(own)) hash.update(name).update(source);
  return hash.digest('hex').slice(0, 12);
}

/**
 * Validates every definition and checks each template a send step names exists. Templates
 * come from one folder or several (a later folder's template of the same name wins).
 */
export function loadCatalogue(definitions: JourneyDefinitionInput[] = shippedJourneys, templatesDirs: string | string[] = TEMPLATES_DIR): Catalogue {
  const templates = Object.assign({}, ...[templatesDirs].flat().map(readTemplates)) as Record<string, string>;
  const journeys = definitions.map((input) => {
    const parsed = journeySchema.safeParse(input);
    if (!parsed.success) {
      const problems = parsed.error.issues.map((issue) => `${issue.path.join('.') || '(root)'}: ${issue.message}`);
      throw new CatalogueError(`journey "${input.id}" is invalid:\n  ${problems.join('\n  ')}`);
    }
    const definition = parsed.data;
    for (const step of definition.steps) {
      if (step.kind !== 'send') continue;
      for (const name of [...step.template.rules.map((r) => r.use), step.template.fallback]) {
        if (!templates[`${definition.id}/${name}`]) {
          throw new CatalogueError(`journey "${definition.id}" step "${step.id}" names template "${name}", but ${definition.id}/${name}.liquid does not exist`);
        }
      }
    }
    const own = templatesOf(definition.id, templates);
    return { definition, version: versionOf(definition, own), templates: own };
  });
  const ids = new Set<string>();
  for (const { definition } of journeys) {
    if (ids.has(definition.id)) throw new CatalogueError(`two journeys have the id "${definition.id}"`);
    ids.add(definition.id);
  }
  return { journeys, templates, get: (id) => journeys.find((j) => j.definition.id === id) };
}
