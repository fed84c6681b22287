import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { ConfigError, readConfig } from '../config';
import { openStore } from '../store/open';
import type { Store } from '../store/types';
import { freshPostgresDatabase, testPostgresUrl } from './support/postgres';
import { freePort } from './support/ports';

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function opened(store: Store): Promise<Store> {
  cleanups.push(() => store.close());
  return store;
}

/** Where an error message must never let a password through. */
const oneLineWithoutSecret = (message: string) => !message.includes('\n') && !message.includes('s3cret');

describe('openStore: DATABASE_URL chooses PostgreSQL, else the SQLite file', () => {
  it('opens the SQLite file when no database URL is set (or it is empty)', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'journeys-open-'));
    cleanups.push(async () => fs.rmSync(dir, { recursive: true, force: true }));
    const storeFile = path.join(dir, 'journeys.db');

    const store = await opened(await openStore({ storeFile }));
    await store.upsertProfiles([{ customerId: 'c1', email: 'ada@example.com', attributes: {} }]);
    expect(fs.existsSync(storeFile)).toBe(true);
    expect(await (await opened(await openStore({ databaseUrl: '', storeFile }))).countProfiles()).toBe(1);
  });

  it('opens PostgreSQL for a postgres:// or postgresql:// URL, migrated, and writes no SQLite file', async () => {
    const database = await freshPostgresDatabase();
    cleanups.push(() => database.drop());
    const storeFile = path.join(os.tmpdir(), `journeys-unused-${process.pid}.db`);

    const store = await opened(await openStore({ databaseUrl: database.url, storeFile }));
    await store.upsertProfiles([{ customerId: 'c1', email: 'ada@example.com', attributes: {} }]);
    const other = await opened(await openStore({ databaseUrl: database.url.replace(/^postgres:/, 'postgresql:'), storeFile }));
    expect(await other.getProfile('c1')).toMatchObject({ email: 'ada@example.com' });
    expect(fs.existsSync(storeFile)).toBe(false);
  });

  it('refuses a URL of another kind in one line naming DATABASE_URL', async () => {
    await expect(openStore({ databaseUrl: 'mysql://app:s3cret@db.example.com/shop', storeFile: 'x.db' })).rejects.toThrow(
      'DATABASE_URL must be a postgres:// or postgresql:// URL, not mysql://…; leave it unset for the embedded SQLite store',
    );
    await expect(openStore({ databaseUrl: 'db.example.com:5432', storeFile: 'x.db' })).rejects.toThrow(/^DATABASE_URL must be a postgres/);
    await expect(openStore({ databaseUrl: 'not a url', storeFile: 'x.db' })).rejects.toThrow(/^DATABASE_URL is not a URL/);
  });

  it('names an unreachable server, and one that refuses the login, in one line without the password', async () => {
    const port = await freePort();
    for (const host of ['127.0.0.1', 'localhost']) {
      const refused = openStore({ databaseUrl: `postgres://app:s3cret@${host}:${port}/shop`, storeFile: 'x.db' });
      await expect(refused).rejects.toThrow(new RegExp(`^DATABASE_URL: cannot open the PostgreSQL store at ${host}:${port}/shop: .*ECONNREFUSED`));
      await expect(refused.catch((error: Error) => oneLineWithoutSecret(error.message))).resolves.toBe(true);
    }

    const wrongPassword = new URL(testPostgresUrl());
    wrongPassword.password = 's3cret';
    const denied = openStore({ databaseUrl: wrongPassword.toString(), storeFile: 'x.db' });
    await expect(denied).rejects.toThrow(/^DATABASE_URL: cannot open the PostgreSQL store at .*: password authentication failed/);
    await expect(denied.catch((error: Error) => oneLineWithoutSecret(error.message))).resolves.toBe(true);
  });
});

describe('the DATABASE_URL setting', () => {
  it('is read once with the other settings, and unset means SQLite', () => {
    expect(readConfig({}, '/srv/journeys').databaseUrl).toBeUndefined();
    expect(readConfig({ DATABASE_URL: 'postgresql://app:pw@db.example.com:5432/journeys' }, '/srv/journeys').databaseUrl).toBe('postgresql://app:pw@db.example.com:5432/journeys');
  });

  it('stops the start with a message naming it when it is not a PostgreSQL URL', () => {
    expect(() => readConfig({ DATABASE_URL: 'mysql://app:pw@db.example.com/journeys' }, '/srv/journeys')).toThrow(ConfigError);
    expect(() => readConfig({ DATABASE_URL: 'journeys.db' }, '/srv/journeys')).toThrow(/DATABASE_URL: .*postgres:\/\//);
  });
});
