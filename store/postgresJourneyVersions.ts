import type pg from 'pg';
import type { Store } from './types';

/** The templates of each journey version, kept so that a running journey renders what it started with. */
export function postgresJourneyVersions(pool: pg.Pool): Pick<Store, 'recordJourneyVersion' | 'journeyVersionTemplates'> {
  return {
    async recordJourneyVersion({ journeyId, version, templates }) {
      await pool.query('INSERT INTO journey_versions (journey_id, version, templates) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING', [
        journeyId,
        version,
        JSON.stringify(templates),
      ]);
    },
    async journeyVersionTemplates(journeyId, version) {
      const { rows } = await pool.query<{ templates: string }>('SELECT templates FROM journey_versions WHERE journey_id = $1 AND version = $2', [journeyId, version]);
      return rows[0] && (JSON.parse(rows[0].templates) as Record<string, string>);
    },
  };
}
