import pg from 'pg';

export type Queryable = pg.Pool | pg.PoolClient;

/**
 * A connection pool for the store. Several processes on several hosts share one database, so
 * every rule that SQLite gets from its single writer is a transaction, a row lock or an
 * advisory lock here.
 */
export function createPool(url: string): pg.Pool {
  // Without a connect timeout, a server behind a firewall that drops packets hangs the start forever.
  const pool = new pg.Pool({ connectionString: url, connectionTimeoutMillis: 10_000, application_name: 'journeys' });
  // An idle connection the server closed (a restart, a failover) is dropped from the pool and the
  // next query opens a fresh one; without a listener the pool's error event would end the process.
  pool.on('error', () => undefined);
  return pool;
}

/** Runs `work` in one transaction on one connection: committed if it returns, rolled back if it throws. */
export async function inTransaction<T>(pool: pg.Pool, work: (client: pg.PoolClient) => Promise<T>): Promise<T> {
  const client = await pool.connect();
  try {
    await client.query('BEGIN');
    const result = await work(client);
    await client.query('COMMIT');
    client.release();
    return result;
  } catch (error) {
    // A connection that cannot even roll back is broken: destroy it rather than lend it out again.
    await client.query('ROLLBACK').then(
      () => client.release(),
      (broken: Error) => client.release(broken),
    );
    throw error;
  }
}

/**
 * Makes concurrent transactions that name the same `key` in `space` queue, until each commits.
 * Advisory locks cost no table and vanish with the transaction; the space keeps the store's
 * keys apart from any other application's on a shared database (a hash collision only queues).
 */
export async function lockWithin(client: pg.PoolClient, space: string, key: string): Promise<void> {
  await client.query('SELECT pg_advisory_xact_lock(hashtext($1), hashtext($2))', [space, key]);
}
