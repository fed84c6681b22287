import type pg from 'pg';
import { toApiKey, type ApiKeyRow } from './rows';
import type { Store } from './types';

type KeyMethods = 'createApiKey' | 'apiKeys' | 'apiKey' | 'revokeApiKey' | 'hasActiveApiKeys';

/** The API keys, as hashes of their secrets. */
export function postgresKeys(pool: pg.Pool): Pick<Store, KeyMethods> {
  return {
    async createApiKey(key) {
      await pool.query('INSERT INTO api_keys (id, name, scope, secret_hash, created_at) VALUES ($1, $2, $3, $4, $5)', [
        key.id,
        key.name,
        key.scope,
        key.secretHash,
        key.createdAt,
      ]);
    },
    async apiKeys() {
      const { rows } = await pool.query<ApiKeyRow>('SELECT * FROM api_keys ORDER BY created_at, id');
      return rows.map(toApiKey);
    },
    async apiKey(id) {
      const { rows } = await pool.query<ApiKeyRow>('SELECT * FROM api_keys WHERE id = $1', [id]);
      return rows[0] && toApiKey(rows[0]);
    },
    async revokeApiKey(idOrName, at) {
      const { rowCount } = await pool.query('UPDATE api_keys SET revoked_at = $1 WHERE (id = $2 OR name = $2) AND revoked_at IS NULL', [at, idOrName]);
      return (rowCount ?? 0) > 0;
    },
    async hasActiveApiKeys() {
      const { rows } = await pool.query<{ active: boolean }>('SELECT EXISTS (SELECT 1 FROM api_keys WHERE revoked_at IS NULL) AS active');
      return rows[0].active;
    },
  };
}
