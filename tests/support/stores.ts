import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, beforeEach, describe } from 'vitest';
import { openPostgresStore } from '../../store/postgres';
import { openSqliteStore } from '../../store/sqlite';
import type { Store } from '../../store/types';
import { freshPostgresDatabase, query } from './postgres';

/** The store a test opens, on one backend; the shared store suite runs every test on each. */
export interface StoreBackend {
  name: 'sqlite' | 'postgres';
  /** An empty store location of the test's own. */
  fresh(): Promise<StoreLocation>;
}

export interface StoreLocation {
  /** A new store instance on the location each call, as another process would open it. */
  open(): Promise<Store>;
  /** The migration ids the location has recorded as applied. */
  appliedMigrations(): Promise<string[]>;
  /** Closes every store opened here and deletes the data. */
  remove(): Promise<void>;
}

export const storeBackends: StoreBackend[] = [
  {
    name: 'sqlite',
    async fresh() {
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'journeys-store-'));
      // A nested path also checks that the parent folder is created.
      const file = path.join(dir, 'data', 'journeys.db');
      const opened: Store[] = [];
      return {
        async open() {
          opened.push(openSqliteStore(file));
          return opened[opened.length - 1];
        },
        async appliedMigrations() {
          const db = new Database(file, { readonly: true });
          try {
            return db.prepare<[], string>('SELECT id FROM schema_migrations ORDER BY id').pluck().all();
          } finally {
            db.close();
          }
        },
        async remove() {
          await Promise.all(opened.map((store) => store.close()));
          fs.rmSync(dir, { recursive: true, force: true });
        },
      };
    },
  },
  {
    name: 'postgres',
    async fresh() {
      const database = await freshPostgresDatabase();
      const opened: Store[] = [];
      return {
        async open() {
          opened.push(await openPostgresStore(database.url));
          return opened[opened.length - 1];
        },
        async appliedMigrations() {
          return (await query(database.url, 'SELECT id FROM schema_migrations ORDER BY id')).map((row) => String(row.id));
        },
        async remove() {
          await Promise.all(opened.map((store) => store.close()));
          await database.drop();
        },
      };
    },
  },
];

/**
 * Declares the suite `body` once per backend, every test on an empty location of its own:
 * one suite states what a store does, and both stores must pass it.
 */
export function describeStores(title: string, body: (stores: { backend: StoreBackend; open(): Promise<Store>; location(): StoreLocation }) => void): void {
  for (const backend of storeBackends) {
    describe(`${title} (${backend.name})`, () => {
      let location: StoreLocation;
      beforeEach(async () => {
        location = await backend.fresh();
      });
      afterEach(() => location.remove());
      body({ backend, open: () => location.open(), location: () => location });
    });
  }
}
