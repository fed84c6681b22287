import { openPostgresStore } from './postgres';
import { openSqliteStore } from './sqlite';
import type { Store } from './types';

export interface StoreSettings {
  /** A postgres:// or postgresql:// URL (the DATABASE_URL setting); unset or empty: SQLite. */
  databaseUrl?: string;
  /** The SQLite file, used when there is no databaseUrl. */
  storeFile: string;
}

/** A setting's value that cannot give a store: its message is one line naming DATABASE_URL, never the password. */
export class StoreOpenError extends Error {}

/**
 * The store the settings choose: PostgreSQL at `databaseUrl`, migrated to the current schema
 * first, or else the embedded SQLite file.
 */
export async function openStore(settings: StoreSettings): Promise<Store> {
  if (!settings.databaseUrl) return openSqliteStore(settings.storeFile);
  const where = postgresLocation(settings.databaseUrl);
  try {
    return await openPostgresStore(settings.databaseUrl);
  } catch (error) {
    throw new StoreOpenError(`DATABASE_URL: cannot open the PostgreSQL store at ${where}: ${reasonOf(error)}`);
  }
}

/** Host, port and database of the URL, for messages: the user name and password stay out of logs. */
function postgresLocation(databaseUrl: string): string {
  let url: URL;
  try {
    url = new URL(databaseUrl);
  } catch {
    throw new StoreOpenError('DATABASE_URL is not a URL: write it as postgres://user:password@host:5432/database');
  }
  if (url.protocol !== 'postgres:' && url.protocol !== 'postgresql:') {
    throw new StoreOpenError(`DATABASE_URL must be a postgres:// or postgresql:// URL, not ${url.protocol}//…; leave it unset for the embedded SQLite store`);
  }
  return `${url.hostname || 'localhost'}:${url.port || '5432'}${url.pathname.length > 1 ? url.pathname : ''}`;
}

function reasonOf(error: unknown): string {
  if (error instanceof AggregateError && error.errors.length > 0) return reasonOf(error.errors[0]);
  if (error instanceof Error) return (error.message || (error as NodeJS.ErrnoException).code || error.name).replace(/\s+/g, ' ');
  return String(error);
}
