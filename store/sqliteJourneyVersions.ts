import type Database from 'better-sqlite3';
import type { Store } from './types';

/** The templates of each journey version, kept so that a running journey renders what it started with. */
export function sqliteJourneyVersions(db: Database.Database): Pick<Store, 'recordJourneyVersion' | 'journeyVersionTemplates'> {
  const sql = {
    record: db.prepare<[string, string, string, string]>(
      'INSERT INTO journey_versions (journey_id, version, templates, recorded_at) VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING',
    ),
    templates: db.prepare<[string, string], { templates: string }>('SELECT templates FROM journey_versions WHERE journey_id = ? AND version = ?'),
  };
  return {
    async recordJourneyVersion({ journeyId, version, templates }) {
      sql.record.run(journeyId, version, JSON.stringify(templates), new Date().toISOString());
    },
    async journeyVersionTemplates(journeyId, version) {
      const row = sql.templates.get(journeyId, version);
      return row && (JSON.parse(row.templates) as Record<string, string>);
    },
  };
}
