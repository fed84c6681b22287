import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { runCli, type CliDeps } from '../cli';
import { connectJourneys } from '../client';
import { configFromEnv, PROJECT_ROOT } from '../config';
import type { JourneyClient } from '../app/journeyClient';
import { addressHash } from '../domain/delivery/address';
import { openSqliteStore } from '../store/sqlite';
import type { Store } from '../store/types';
import type journey from '../workflows';
import { startJourneyEnv, type JourneyEnv } from './support/journeyEnv';
import { Captured } from './support/captured';


const dir = mkdtempSync(join(tmpdir(), 'journeys-cli-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const unused = (what: string) => async (): Promise<never> => {
  throw new Error(`this command must not need ${what}`);
};

/** Runs one command in-process, as `journeys <args>` would, and returns its exit code and output. */
async function journeys(args: string[], deps: Partial<CliDeps>) {
  const stdout = new Captured();
  const stderr = new Captured();
  const code = await runCli(args, { connect: unused('Temporal'), openStore: unused('the store'), ...deps, stdout, stderr });
  return { code, stdout: stdout.text, stderr: stderr.text };
}

function writeFile(name: string, lines: string[]) {
  const path = join(dir, name);
  writeFileSync(path, `${lines.join('\n')}\n`);
  return path;
}

describe('journeys profiles import (store only, no Temporal)', () => {
  let store: Store;
  const withStore = () => ({ openStore: async () => ({ store, close: async () => undefined }) });
  beforeEach(async () => {
    await store?.close();
    store = openSqliteStore(join(dir, `import-${Date.now()}-${Math.random()}.db`));
  });
  afterAll(async () => store?.close());

  it('imports a .jsonl file: merges repeats of a customer, rejects bad rows with line and reason, exits 1', async () => {
    const file = writeFile('profiles.jsonl', [
      '{"customerId":"ada","email":"ada@example.com","attributes":{"firstName":"Ada","tier":"silver"}}',
      '{"customerId":"bob","email":"bob@example.com"}',
      '',
      '{"customerId":"ada","email":"ada@new.example.com","attributes":{"tier":"gold"}}',
      '{"customerId":"eve@example.com","email":"eve@example.com"}',
      '{"customerId":"cy","email":"not-an-email"}',
      '{"customerId":"dan", "email":',
      '{"customerId":"dan","email":"dan@example.com","firstName":"Dan"}',
      '{"email":"nobody@example.com"}',
    ]);
    const { code, stdout } = await journeys(['profiles', 'import', file], withStore());
    expect(code).toBe(1);
    expect(stdout).toMatch(/^imported 2 profiles, merged 1 duplicate, rejected 5 rows \(read 8 rows in [\d.]+s\)\n/);
    expect(stdout).toMatch(/line 5: customerId: use letters/);
    expect(stdout).toMatch(/line 6: email: Invalid email/);
    expect(stdout).toMatch(/line 7: not valid JSON/);
    expect(stdout).toMatch(/line 8: .*firstName/);
    expect(stdout).toMatch(/line 9: customerId: /);
    expect(await store.getProfile('ada')).toEqual({ customerId: 'ada', email: 'ada@new.example.com', attributes: { firstName: 'Ada', tier: 'gold' } });
    expect(await store.getProfile('bob')).toEqual({ customerId: 'bob', email: 'bob@example.com', attributes: {} });
    expect(await store.countProfiles()).toBe(2);
  });

  it('imports a .csv file: other columns become attributes, only plain decimals become numbers, bad rows are listed', async () => {
    const file = writeFile('profiles.csv', [
      'customerId,email,tier,zip,score,note',
      'ada,ada@example.com,silver,02134,12.5,"likes ""trail"", shoes"',
      'bob,bob@example.com,gold,,7,',
      'ada,ada@new.example.com,gold,,,',
      'eve@example.com,eve@example.com,,,,',
      'cy,not-an-email,,,,',
      'dan,dan@example.com,too,few',
      ',nobody@example.com,,,,',
    ]);
    const { code, stdout } = await journeys(['profiles', 'import', file], withStore());
    expect(code).toBe(1);
    expect(stdout).toMatch(/^imported 2 profiles, merged 1 duplicate, rejected 4 rows/);
    expect(stdout).toMatch(/line 5: customerId: use letters/);
    expect(stdout).toMatch(/line 6: email: Invalid email/);
    expect(stdout).toMatch(/line 7: Invalid Record Length/);
    expect(stdout).toMatch(/line 8: customerId: /);
    expect(await store.getProfile('ada')).toEqual({
      customerId: 'ada',
      email: 'ada@new.example.com',
      attributes: { tier: 'gold', zip: '02134', score: 12.5, note: 'likes "trail", shoes' },
    });
    expect(await store.getProfile('bob')).toEqual({ customerId: 'bob', email: 'bob@example.com', attributes: { tier: 'gold', score: 7 } });
  });

  it('exits 0 for a clean file, and lists only the first 50 rejects of many', async () => {
    const clean = writeFile('clean.csv', ['customerId,email', 'c1,c1@example.com']);
    expect(await journeys(['profiles', 'import', clean], withStore())).toMatchObject({ code: 0, stdout: expect.stringMatching(/^imported 1 profile, merged 0 duplicates, rejected 0 rows/) });
    const bad = writeFile('bad.jsonl', Array.from({ length: 80 }, (_, i) => `{"customerId":"b${i}","email":"nope"}`));
    const { code, stdout } = await journeys(['profiles', 'import', bad], withStore());
    expect(code).toBe(1);
    expect(stdout.match(/^ {2}line \d+:/gm)).toHaveLength(50);
    expect(stdout).toContain('… and 30 more rejected rows');
  });

  it.each(['jsonl', 'csv'])('imports a 20,000-row .%s file', async (kind) => {
    const rows = Array.from({ length: 20_000 }, (_, i) =>
      kind === 'csv' ? `c${i},c${i}@example.com,t${i % 3}` : `{"customerId":"c${i}","email":"c${i}@example.com","attributes":{"tier":"t${i % 3}"}}`,
    );
    const file = writeFile(`big.${kind}`, kind === 'csv' ? ['customerId,email,tier', ...rows] : rows);
    const started = performance.now();
    const { code, stdout, stderr } = await journeys(['profiles', 'import', file], withStore());
    console.log(`profiles import of 20,000 ${kind} rows: ${Math.round(performance.now() - started)} ms`);
    expect([code, stderr]).toEqual([0, '']);
    expect(stdout).toMatch(/^imported 20000 profiles, merged 0 duplicates, rejected 0 rows/);
    expect(await store.countProfiles()).toBe(20_000);
    expect(await store.getProfile('c19999')).toEqual({ customerId: 'c19999', email: 'c19999@example.com', attributes: { tier: 't1' } });
  });

  it.each([
    ['an unknown file type', 'profiles.xlsx', /use a \.jsonl or \.csv file/],
    ['a missing file', 'missing.csv', /no such file/],
  ])('exits 2 for %s, without opening the store', async (_, name, message) => {
    if (name.endsWith('.xlsx')) writeFileSync(join(dir, name), 'x');
    const { code, stderr } = await journeys(['profiles', 'import', join(dir, name)], {});
    expect(code).toBe(2);
    expect(stderr).toMatch(message);
  });

  it('exits 2 for a CSV without the customerId and email columns', async () => {
    const file = writeFile('noheader.csv', ['id,mail', 'a,a@example.com']);
    const { code, stderr } = await journeys(['profiles', 'import', file], withStore());
    expect(code).toBe(2);
    expect(stderr).toBe('error: the CSV header needs the columns customerId and email (found: id, mail)\n');
    expect(await store.countProfiles()).toBe(0);
  });
});

describe('journeys event / consent / status (time-skipping Temporal)', () => {
  let t: JourneyEnv;
  const withClient = (journeysClient?: JourneyClient) => ({ connect: async () => ({ journeys: journeysClient ?? t.client, close: async () => undefined }) });
  const cart = JSON.stringify({ cartId: 'cart-c1', items: [{ name: 'Trail shoes', quantity: 1, price: 80 }], total: 80, currency: 'EUR' });
  beforeAll(async () => {
    t = await startJourneyEnv();
  });
  afterAll(async () => t?.close());

  it('event starts cartAbandonment and prints what it started; the same --id again changes nothing', async () => {
    await t.client.upsertProfile({ customerId: 'cli-ada', email: 'ada@example.com' });
    const first = await journeys(['event', 'cart.updated', 'cli-ada', '--id', 'cli-evt-1', '--properties', cart], withClient());
    expect(first).toEqual({ code: 0, stderr: '', stdout: 'event cli-evt-1 recorded\n  started:   cartAbandonment:cli-ada:cart-c1\n  signalled: none\n' });
    expect((await t.env.client.workflow.getHandle('cartAbandonment:cli-ada:cart-c1').describe()).status.name).toBe('RUNNING');
    const again = await journeys(['event', 'cart.updated', 'cli-ada', '--id', 'cli-evt-1', '--properties', cart], withClient());
    expect(again.stdout).toBe('event cli-evt-1 was recorded before: nothing new happened\n');
  });

  it('event says which links it dropped, naming the field and the reason', async () => {
    const properties = JSON.stringify({ cartId: 'cart-d1', items: [], total: 5, currency: 'EUR', cartUrl: 'https://evil.example.net/phish' });
    const { code, stdout } = await journeys(['event', 'cart.updated', 'cli-drop', '--id', 'cli-drop-1', '--properties', properties], withClient());
    expect(code).toBe(0);
    expect(stdout).toContain('\n  dropped:   properties.cartUrl: host evil.example.net is not in LINK_HOSTS\n');
  });

  it('event without --id gets a fresh UUID and keeps --occurred-at', async () => {
    const { code, stdout } = await journeys(['event', 'page.viewed', 'cli-uuid', '--occurred-at', '2025-01-02T03:04:05+01:00'], withClient());
    expect(code).toBe(0);
    const [event] = await t.store.eventsOf('cli-uuid');
    expect(event.id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(event.occurredAt).toBe('2025-01-02T03:04:05+01:00');
    expect(stdout).toContain(`event ${event.id} recorded`);
  });

  it('consent withdraw withdraws marketing consent and the running journey run ends with consent_withdrawn', async () => {
    const { code, stdout } = await journeys(['consent', 'withdraw', 'cli-ada'], withClient());
    expect(code).toBe(0);
    expect(stdout).toBe('marketing consent withdrawn for cli-ada (source: cli)\n  ending 1 running journey run(s): cartAbandonment:cli-ada:cart-c1\n');
    const result = await t.env.client.workflow.getHandle<typeof journey>('cartAbandonment:cli-ada:cart-c1').result();
    expect(result.status).toBe('consent_withdrawn');
    expect((await t.store.consentLedger('cli-ada')).map((r) => [r.topic, r.status, r.source])).toEqual([['marketing', 'withdrawn', 'cli']]);
  });

  it('consent grant records the grant in the ledger with its source', async () => {
    const { code, stdout } = await journeys(['consent', 'grant', 'cli-ada', '--topic', 'newsletter', '--source', 'double opt-in'], withClient());
    expect([code, stdout]).toEqual([0, 'newsletter consent granted for cli-ada (source: double opt-in)\n']);
    expect((await t.store.consentLedger('cli-ada')).map((r) => [r.topic, r.status, r.source])).toContainEqual(['newsletter', 'granted', 'double opt-in']);
  });

  it('event with invalid --properties JSON exits 2 with a clear error, before reaching Temporal', async () => {
    const { code, stdout, stderr } = await journeys(['event', 'cart.updated', 'cli-badjson', '--properties', "{cartId:'c1'}"], {});
    expect([code, stdout]).toEqual([2, '']);
    expect(stderr).toMatch(/^error: --properties is not valid JSON \(.+\); quote it for the shell/);
    expect(stderr.trim().split('\n')).toHaveLength(1);
    expect(await t.store.eventsOf('cli-badjson')).toEqual([]);
  });

  it.each([
    [['event', 'cart.updated', 'eve@example.com', '--properties', cart], '  customerId: use letters'],
    [['event', 'cart.updated', 'cli-nocart', '--properties', '{"total":5}'], '  properties.cartId: cart.updated starts cartAbandonment'],
    [['event', 'cart.updated', 'cli-wrong', '--properties', '[1,2]'], '  properties: '],
    [['event', 'cart.updated', 'cli-when', '--occurred-at', 'yesterday', '--properties', cart], '  occurredAt: '],
    [['consent', 'withdraw', 'cli-topic', '--topic', 'News Letter'], '  topic: '],
    [['status', 'eve@example.com'], '  customerId: use letters'],
  ])('%j exits 2 and names the field, starting nothing', async (args, problem) => {
    const { code, stderr } = await journeys(args, withClient());
    expect(code).toBe(2);
    expect(stderr).toMatch(/^error: invalid (event|consent change|customer id)\n/);
    expect(stderr).toContain(problem);
    const customerId = args[0] === 'status' ? args[1] : args[2];
    expect(await t.store.journeyRuns(customerId)).toEqual([]);
    expect(await t.store.eventsOf(customerId)).toEqual([]);
    expect(await t.store.consentLedger(customerId)).toEqual([]);
  });

  it('status prints the journey runs as a table', async () => {
    const stub = {
      runsOf: async () => [
        { workflowId: 'cartAbandonment:ada:cart-1', journeyId: 'cartAbandonment', status: 'running', currentStep: 'waitBeforeReminder2', nextWakeAt: '2025-01-02T04:00:00.000Z' },
        { workflowId: 'cartAbandonment:ada:cart-0', journeyId: 'cartAbandonment', status: 'consent_withdrawn', currentStep: 'reminder1' },
      ],
    } as unknown as JourneyClient;
    const { code, stdout } = await journeys(['status', 'ada'], withClient(stub));
    expect(code).toBe(0);
    expect(stdout).toBe(
      [
        'WORKFLOW ID                 JOURNEY          STATUS             CURRENT STEP         NEXT WAKE-UP',
        'cartAbandonment:ada:cart-1  cartAbandonment  running            waitBeforeReminder2  2025-01-02T04:00:00.000Z',
        'cartAbandonment:ada:cart-0  cartAbandonment  consent_withdrawn  reminder1            -',
        '',
      ].join('\n'),
    );
  });
});

describe('journeys, outside a test environment', () => {
  it('prints one clear line and exits 1 when Temporal is unreachable', async () => {
    const config = configFromEnv({ TEMPORAL_ADDRESS: '127.0.0.1:1', DATA_DIR: join(dir, 'unreachable') });
    const { code, stdout, stderr } = await journeys(['consent', 'withdraw', 'ada'], { connect: () => connectJourneys(config) });
    expect([code, stdout]).toEqual([1, '']);
    expect(stderr).toMatch(/^error: cannot reach Temporal at 127\.0\.0\.1:1 \(.+\); start the product with `npm start`, or set TEMPORAL_ADDRESS \(or TEMPORAL_PROFILE\)\n$/);
  });

  it('runs from bin/journeys.js in any directory: --help exits 0, unknown commands exit 2, import reads DATA_DIR', () => {
    const bin = join(PROJECT_ROOT, 'bin', 'journeys.js');
    const run = (...args: string[]) => spawnSync(bin, args, { cwd: tmpdir(), encoding: 'utf8', env: { ...process.env, DATA_DIR: join(dir, 'bin-data') } });
    const help = run('--help');
    expect([help.status, help.stdout]).toEqual([0, expect.stringContaining('Usage: journeys')]);
    expect(run('frobnicate')).toMatchObject({ status: 2, stderr: expect.stringContaining("unknown command 'frobnicate'") });
    const file = writeFile('bin.csv', ['customerId,email', 'x1,x1@example.com', 'x2,broken']);
    expect(run('profiles', 'import', file)).toMatchObject({ status: 1, stdout: expect.stringMatching(/^imported 1 profile, merged 0 duplicates, rejected 1 row/) });
  });

  it('runs every command but simulate from an install without devDependencies', () => {
    const withoutDev = join(__dirname, 'support', 'withoutDevDependencies.cjs');
    const run = (...args: string[]) =>
      spawnSync(process.execPath, ['-r', withoutDev, join(PROJECT_ROOT, 'bin', 'journeys.js'), ...args], { cwd: tmpdir(), encoding: 'utf8', env: { ...process.env, DATA_DIR: join(dir, 'no-dev-data') } });
    expect(run('lint')).toMatchObject({ status: 0, stdout: expect.stringContaining('0 error(s), 0 warning(s) in shipped journeys') });
    expect(run('sends')).toMatchObject({ status: 0, stdout: 'no sends are in_doubt\n' });
  });
});

describe('journeys suppress / audit / erase (time-skipping Temporal)', () => {
  let t: JourneyEnv;
  const withClient = () => ({ connect: async () => ({ journeys: t.client, close: async () => undefined }) });
  const cartOf = (cartId: string) => JSON.stringify({ cartId, items: [{ name: 'Trail shoes', quantity: 1, price: 80 }], total: 80, currency: 'EUR' });
  beforeAll(async () => {
    t = await startJourneyEnv();
  });
  afterAll(async () => t?.close());

  it('suppress stores the address with its reason and source, and prints the customers who have it', async () => {
    await t.client.upsertProfile({ customerId: 'cli-sup', email: 'cli-sup@example.com' });
    const { code, stdout, stderr } = await journeys(['suppress', 'CLI-Sup@example.com', '--reason', 'bounce', '--source', 'esp'], withClient());
    expect({ code, stdout, stderr }).toEqual({ code: 0, stderr: '', stdout: 'suppressed (bounce); customers with this address: cli-sup\n' });
    expect(await t.store.suppressionFor(addressHash('cli-sup@example.com'))).toMatchObject({ reason: 'bounce', source: 'esp', customerId: 'cli-sup' });
    expect(await t.store.consentLedger('cli-sup')).toEqual([]);
  });

  it('suppress defaults to a manual suppression from the cli', async () => {
    const { code, stdout } = await journeys(['suppress', 'nobody-here@example.com'], withClient());
    expect([code, stdout]).toEqual([0, 'suppressed (manual)\n']);
    expect(await t.store.suppressionFor(addressHash('nobody-here@example.com'))).toMatchObject({ reason: 'manual', source: 'cli' });
  });

  it.each([
    [['suppress', 'not-an-email'], '  email: ', 'not-an-email'],
    [['suppress', 'cli-bad@example.com', '--reason', 'spam'], '  reason: ', 'cli-bad@example.com'],
    [['suppress', 'cli-bad@example.com', '--source', ''], '  source: ', 'cli-bad@example.com'],
  ])('%j exits 2 naming the field, before reaching Temporal, and stores nothing', async (args, problem, address) => {
    const { code, stdout, stderr } = await journeys(args, {});
    expect([code, stdout]).toEqual([2, '']);
    expect(stderr).toMatch(/^error: invalid suppression\n/);
    expect(stderr).toContain(problem);
    expect(await t.store.suppressionFor(addressHash(address))).toBeUndefined();
  });

  it('audit prints the journey and its send, one line each, in time order', async () => {
    await t.client.upsertProfile({ customerId: 'cli-audit', email: 'cli-audit@example.com' });
    await journeys(['event', 'cart.updated', 'cli-audit', '--properties', cartOf('cart-a1')], withClient());
    await t.env.sleep('61m');
    await t.mailbox.waitForCount(1, { to: 'cli-audit@example.com' });
    await vi.waitFor(async () => expect((await t.store.sendRecord('cartAbandonment:cli-audit:cart-a1', 'reminder1'))?.status).toBe('sent'));

    const { code, stdout, stderr } = await journeys(['audit', 'cli-audit'], withClient());
    expect([code, stderr]).toEqual([0, '']);
    const lines = stdout.trimEnd().split('\n');
    expect(lines).toEqual([
      expect.stringMatching(/^\S+ {2}journey {6}entered cartAbandonment \(topic marketing\) {2}← cartAbandonment:cli-audit:cart-a1$/),
      expect.stringMatching(/^\S+ {2}send {9}sent reminder1 \(.+\) {2}← cartAbandonment:cli-audit:cart-a1 step reminder1$/),
    ]);
    const times = lines.map((line) => Date.parse(line.split(' ')[0]));
    expect(times.every((time) => Number.isFinite(time))).toBe(true);
    expect(times[1]).toBeGreaterThan(times[0]);
  });

  it('audit says so for a customer with nothing recorded, and exits 2 for an email as customer id', async () => {
    expect(await journeys(['audit', 'cli-nobody'], withClient())).toEqual({ code: 0, stderr: '', stdout: 'nothing recorded for customer cli-nobody\n' });
    const { code, stderr } = await journeys(['audit', 'eve@example.com'], withClient());
    expect(code).toBe(2);
    expect(stderr).toMatch(/^error: invalid customer id\n {2}customerId: /);
  });

  it('erase without --yes exits 2 and erases nothing; with --yes it terminates the journey and erases the customer', async () => {
    await t.client.upsertProfile({ customerId: 'cli-erase', email: 'cli-erase@example.com' });
    await journeys(['event', 'cart.updated', 'cli-erase', '--properties', cartOf('cart-f1')], withClient());
    const workflowId = 'cartAbandonment:cli-erase:cart-f1';
    const status = async () => (await t.env.client.workflow.getHandle(workflowId).describe()).status.name;
    expect(await status()).toBe('RUNNING');

    const refused = await journeys(['erase', 'cli-erase'], {});
    expect([refused.code, refused.stdout]).toEqual([2, '']);
    expect(refused.stderr).toBe('error: erase removes cli-erase for good: run it again with --yes to confirm\n');
    expect(await status()).toBe('RUNNING');
    expect(await t.store.getProfile('cli-erase')).toMatchObject({ email: 'cli-erase@example.com' });
    expect(await t.store.journeyRuns('cli-erase')).toHaveLength(1);
    expect(await t.store.suppressionFor(addressHash('cli-erase@example.com'))).toBeUndefined();

    const done = await journeys(['erase', 'cli-erase', '--yes'], withClient());
    expect(done).toEqual({ code: 0, stderr: '', stdout: `cli-erase erased; terminated ${workflowId}; their address stays suppressed (as a hash)\n` });
    expect(await status()).toBe('TERMINATED');
    expect(await t.store.getProfile('cli-erase')).toBeUndefined();
    expect(await t.store.eventsOf('cli-erase')).toEqual([]);
    expect(await t.client.audit('cli-erase')).toEqual([]);
    expect(await t.store.suppressionFor(addressHash('cli-erase@example.com'))).toMatchObject({ reason: 'erased', source: 'journeys erase' });
  });

  it('erase --yes exits 2 for an email as customer id', async () => {
    const { code, stderr } = await journeys(['erase', 'eve@example.com', '--yes'], withClient());
    expect(code).toBe(2);
    expect(stderr).toMatch(/^error: invalid customer id\n {2}customerId: /);
  });
});
