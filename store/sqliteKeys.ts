import type Database from 'better-sqlite3';
import { toApiKey, type ApiKeyRow } from './rows';
import type { Store } from './types';

type KeyMethods = 'createApiKey' | 'apiKeys' | 'apiKey' | 'revokeApiKey' | 'hasActiveApiKeys';

/** The API keys, as hashes of their secrets. */
export function sqliteKeys(db: Database.Database): Pick<Store, KeyMethods> {
  const sql = {
    create: db.prepare<[ApiKeyRow]>(
      'INSERT INTO api_keys (id, name, scope, secret_hash, created_at) VALUES (@id, @name, @scope, @secret_hash, @created_at)',
    ),
    all: db.prepare<[], ApiKeyRow>('SELECT * FROM api_keys ORDER BY created_at, id'),
    one: db.prepare<[string], ApiKeyRow>('SELECT * FROM api_keys WHERE id = ?'),
    revoke: db.prepare<[string, string, string]>('UPDATE api_keys SET revoked_at = ? WHERE (id = ? OR name = ?) AND revoked_at IS NULL'),
    active: db.prepare<[], number>('SELECT count(*) FROM api_keys WHERE revoked_at IS NULL').pluck(),
  };
  return {
    async createApiKey(key) {
      sql.create.run({ id: key.id, name: key.name, scope: key.scope, secret_hash: key.secretHash, created_at: key.createdAt, revoked_at: null });
    },
    async apiKeys() {
      return sql.all.all().map(toApiKey);
    },
    async apiKey(id) {
      const row = sql.one.get(id);
      return row && toApiKey(row);
    },
    async revokeApiKey(idOrName, at) {
      return sql.revoke.run(at, idOrName, idOrName).changes > 0;
    },
    async hasActiveApiKeys() {
      return (sql.active.get() as number) > 0;
    },
  };
}
