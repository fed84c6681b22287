import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadCatalogue, shippedJourneys, TEMPLATES_DIR } from '../journeys';
import { JOURNEY_VERSION } from '../workflows/searchAttributes';
import { startJourneyEnv, type JourneyEnv } from './support/journeyEnv';

// The shipped journeys with their templates copied to a folder the test edits, as a shop
// edits its templates between two deploys.
const templatesDir = mkdtempSync(join(tmpdir(), 'journeys-templates-'));
cpSync(TEMPLATES_DIR, templatesDir, { recursive: true });
const reminder2 = join(templatesDir, 'cartAbandonment', 'reminder2.liquid');

const cart = (customerId: string) => ({
  id: `cart-${customerId}`,
  type: 'cart.updated',
  customerId,
  properties: { cartId: 'k1', total: 40, items: [{ name: 'Socks', quantity: 1, price: 40 }] },
});

describe('a template edited and deployed while journeys are running', () => {
  let t: JourneyEnv;

  beforeAll(async () => {
    t = await startJourneyEnv({ catalogue: loadCatalogue(shippedJourneys, templatesDir), cacheWorkflows: false });
  });
  afterAll(async () => {
    await t?.close();
    rmSync(templatesDir, { recursive: true, force: true });
  });

  it('reaches journeys started after the deploy, and not the running journey, which renders the templates it started with', async () => {
    await t.client.upsertProfile({ customerId: 'before', email: 'before@example.com', attributes: {} });
    await t.client.upsertProfile({ customerId: 'after', email: 'after@example.com', attributes: {} });
    await t.client.ingest(cart('before'));
    await t.env.sleep('61m');
    await t.mailbox.waitForCount(1, { to: 'before@example.com' });

    writeFileSync(reminder2, readFileSync(reminder2, 'utf8').replace('subject: Still thinking it over?', 'subject: Your socks miss you'));
    const edited = loadCatalogue(shippedJourneys, templatesDir);
    await t.redeploy(edited);
    await t.client.ingest(cart('after'));

    await t.env.sleep('27h');
    const [, before] = await t.mailbox.waitForCount(2, { to: 'before@example.com' });
    const [, after] = await t.mailbox.waitForCount(2, { to: 'after@example.com' });
    expect(before).toMatchObject({ journeyStep: 'reminder2', subject: 'Still thinking it over?' });
    expect(after).toMatchObject({ journeyStep: 'reminder2', subject: 'Your socks miss you' });

    // Each run shows the version it runs in the Temporal UI.
    const versionOf = async (customerId: string) => (await t.env.client.workflow.getHandle(`cartAbandonment:${customerId}:k1`).describe()).typedSearchAttributes.get(JOURNEY_VERSION);
    expect(await versionOf('before')).toBe(loadCatalogue(shippedJourneys, TEMPLATES_DIR).get('cartAbandonment')?.version);
    expect(await versionOf('after')).toBe(edited.get('cartAbandonment')?.version);
    expect(await versionOf('after')).not.toBe(await versionOf('before'));
  });
});
